//SOURCES FmHome.java Knobs.java

import java.io.IOException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;

/**
 * The bash original's files in a firstmate home, as far as this port needs them:
 * the scripts fm-adopt replaces, the library they source, and which bash watcher counts as
 * this home's own.
 *
 * A firstmate home is a checkout of firstmate: {@code bin/} holds the scripts and
 * {@code state/} sits beside it. Its bash watcher is {@code <FM_HOME>/bin/fm-watch.sh}, unless
 * FM_BASH_WATCHER names another script (a secondmate home whose FM_HOME is not the checkout
 * that runs its watcher).
 */
final class BashHome {
    /** The four scripts fm-adopt replaces, in the order it works on them. */
    static final List<String> SCRIPTS = List.of("fm-watch.sh", "fm-watch-arm.sh", "fm-wake-drain.sh", "fm-guard.sh");
    /** Sourced by the other tools (and the away-mode daemon); never touched. */
    static final String LIBRARY = "fm-wake-lib.sh";

    private BashHome() {}

    static Path bin(Path home) { return home.resolve("bin"); }

    /** The bash watcher script that is this home's watcher. */
    static Path watcher(FmHome home, Knobs knobs) {
        String v = knobs.bashWatcher();
        try {
            if (v != null) return Path.of(v).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            // unusable: the default below
        }
        return bin(home.home).resolve("fm-watch.sh");
    }

    /**
     * Whether a lock's {@code fm-home} and {@code watcher-path} name this home's bash watcher.
     * The bash tools write FM_HOME and the script path as they were given, so a path through a
     * symbolic link names the same file.
     */
    static boolean namesBashWatcher(FmHome home, Knobs knobs, String fmHome, String watcherPath) {
        if (fmHome == null || watcherPath == null || fmHome.isEmpty() || watcherPath.isEmpty()) return false;
        return samePath(fmHome, home.home) && samePath(watcherPath, watcher(home, knobs));
    }

    private static boolean samePath(String recorded, Path ours) {
        if (recorded.equals(ours.toString())) return true;
        try {
            Path r = Path.of(recorded);
            if (!r.isAbsolute()) return false; // relative to a directory we cannot know
            return r.toRealPath().equals(ours.toRealPath());
        } catch (InvalidPathException | IOException | SecurityException e) {
            return false;
        }
    }
}
