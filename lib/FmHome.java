//SOURCES Knobs.java

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where a home's files are (docs/overview.md "Environment", docs/state.md).
 *
 * The checkout (where fm-watch.java lives) is the command's own, found from the command and never
 * from FM_HOME alone (FM_HOME names the state home, which may be anywhere), in order:
 * the directory of the real path of the {@code fm.script} system property, which every direct run
 * passes ({@code ./fm-watch.java}, a symlink to it, the launch cache of launch/launch.sh) and so does
 * this checkout's {@code ./jbang} when it runs a script of a checkout by path; else the working
 * directory or the nearest directory above it that holds fm-watch.java (a catalog alias, which
 * JBang finds in the same places); else FM_HOME when it holds fm-watch.java (the old way). JBang
 * itself tells a script nothing of where its source is, so a global {@code jbang <path>} run
 * elsewhere cannot be placed: we say so in one line, with what works, instead of guessing.
 *
 * The home is FM_HOME, else FM_ROOT_OVERRIDE (the bash tools' name for it), else the checkout;
 * FM_STATE_OVERRIDE moves only the state directory, never the home. The home must already
 * exist: a typo in FM_HOME would otherwise become a fresh, empty home that every command calls
 * idle while the real fleet goes unsupervised. For the same reason the directory that holds a
 * FM_STATE_OVERRIDE must exist. The state directory itself may be missing: it is created, as
 * the bash tools do.
 */
final class FmHome {
    static final String WATCHER_SCRIPT = "fm-watch.java";
    /** Started in a way that says nothing of the checkout: what works instead, in one line. */
    static final String UNPLACED = "cannot tell which checkout this command belongs to (JBang does not tell a script where"
            + " it is); run the script by its path or a symlink to it, or as <checkout>/jbang <path of the script>";

    final Path home;
    final Path state;
    /** Real path of this checkout's fm-watch.java. */
    final Path watcherPath;

    private FmHome(Path home, Path state, Path watcherPath) {
        this.home = home;
        this.state = state;
        this.watcherPath = watcherPath;
    }

    /** A home that cannot be resolved; the message is one line for the user. */
    static final class Unresolved extends Exception {
        /** A directory the user named that is not there (its knob in {@link #knob}), or null. */
        final Path missing;
        final String knob;
        Unresolved(String message) { this(message, null, null); }
        Unresolved(String message, Path missing, String knob) {
            super(message);
            this.missing = missing;
            this.knob = knob;
        }
    }

    static FmHome resolve(Knobs knobs) throws Unresolved {
        try {
            return resolvePaths(knobs);
        } catch (java.nio.file.InvalidPathException e) {
            // Java names files in the locale's encoding (LANG=C: ASCII); it cannot open this path at all.
            throw new Unresolved("FM_HOME (or FM_STATE_OVERRIDE, or the checkout) is a path this locale cannot encode ('"
                    + e.getInput() + "', file names as " + System.getProperty("sun.jnu.encoding")
                    + "); run with a UTF-8 locale, e.g. LC_ALL=C.UTF-8");
        }
    }

    private static FmHome resolvePaths(Knobs knobs) throws Unresolved {
        Optional<Path> checkout = checkout();
        String homeKnob = knobs.raw("FM_HOME") != null ? "FM_HOME" : "FM_ROOT_OVERRIDE";
        String homeVar = knobs.raw(homeKnob);
        Path home;
        if (homeVar != null) {
            home = canonical(Path.of(homeVar));
            mustBeDirectory(home, "the home", homeKnob,
                    "set " + homeKnob + " to an existing firstmate home (a typo there leaves the real one unsupervised)");
        } else if (checkout.isPresent()) {
            home = checkout.get();
        } else {
            throw new Unresolved(UNPLACED + " (FM_HOME, the home, is not set either)");
        }
        if (checkout.isEmpty() && Files.isRegularFile(home.resolve(WATCHER_SCRIPT))) checkout = Optional.of(home);
        if (checkout.isEmpty()) throw new Unresolved(UNPLACED);
        String stateVar = knobs.raw("FM_STATE_OVERRIDE");
        Path state = stateVar != null ? Path.of(stateVar).toAbsolutePath().normalize() : home.resolve("state");
        if (stateVar != null && state.getParent() != null) {
            mustBeDirectory(canonical(state.getParent()), "the parent of the state directory", "FM_STATE_OVERRIDE",
                    "set FM_STATE_OVERRIDE to a directory inside an existing one, or unset it");
        }
        return new FmHome(home, state, checkout.get().resolve(WATCHER_SCRIPT));
    }

    /** Refuses a directory the user named that is not there: one line naming it, its knob and the fix. */
    private static void mustBeDirectory(Path dir, String what, String knob, String fix) throws Unresolved {
        if (Files.isDirectory(dir)) return;
        throw new Unresolved(what + " " + dir + " (" + knob + ") " + (Files.exists(dir) ? "is not a directory" : "does not exist")
                + "; " + fix, dir, knob);
    }

    /** For tests and tools that already know all three. */
    static FmHome of(Path home, Path state, Path watcherPath) {
        return new FmHome(home, state, watcherPath);
    }

    /** This command's checkout as the command itself can tell it (FM_HOME aside), if it can. */
    static Optional<Path> checkout() {
        String script = System.getProperty("fm.script");
        if (script != null && !script.isEmpty()) {
            // The script's own real path: a symlink to it (in ~/bin) names the checkout it points into.
            Path dir = canonical(Path.of(script)).getParent();
            if (dir != null && Files.isRegularFile(dir.resolve(WATCHER_SCRIPT))) return Optional.of(canonical(dir));
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve(WATCHER_SCRIPT))) return Optional.of(canonical(dir));
        }
        return Optional.empty();
    }

    private static Path canonical(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        try {
            return abs.toRealPath();
        } catch (IOException e) {
            return abs;
        }
    }

    /** Creates the state directory if missing; the message names it when that fails. */
    void ensureState() throws IOException {
        try {
            Files.createDirectories(state);
        } catch (IOException e) {
            throw new IOException("cannot create state directory " + state + " (" + e.getClass().getSimpleName()
                    + "); check its permissions or set FM_STATE_OVERRIDE", e);
        }
    }

    // --- the files of docs/state.md ---
    Path file(String name) { return state.resolve(name); }
    Path watchLock()       { return file(".watch.lock"); }
    Path beacon()          { return file(".last-watcher-beat"); }
    Path wakeQueue()       { return file(".wake-queue"); }
    Path wakeQueueSeq()    { return file(".wake-queue.seq"); }
    Path wakeQueueLock()   { return file(".wake-queue.lock"); }
    Path lastCheck()       { return file(".last-check"); }
    Path lastHeartbeat()   { return file(".last-heartbeat"); }
    Path heartbeatStreak() { return file(".heartbeat-streak"); }

    /** Tasks in flight: {@code STATE/*.meta}, as the shell glob sees them (no dot-files); 0 without a state directory. */
    static int countTasks(Path state) throws IOException {
        int n = 0;
        try (java.nio.file.DirectoryStream<Path> dir = Files.newDirectoryStream(state, "*.meta")) {
            for (Path p : dir) {
                if (!p.getFileName().toString().startsWith(".")) n++;
            }
        } catch (java.nio.file.NoSuchFileException e) {
            return 0;
        }
        return n;
    }

    /** {@code task.status} -> {@code .seen-task_status}. */
    static String seenName(String signalFile) { return ".seen-" + signalFile.replace('.', '_'); }

    /** A tmux target as a marker suffix: {@code :}, {@code /} and {@code .} become {@code _}. */
    static String windowKey(String window) { return window.replaceAll("[:/.]", "_"); }
}
