//usr/bin/env true; s=$0; [ -L "$s" ] && { s=$(readlink -f "$s") || s=$0; }; case $s in */*) ;; *) s=./$s;; esac; exec /bin/sh "${s%/*}/launch/launch.sh" "$s" "$@"
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES lib/Cli.java lib/Knobs.java lib/FmHome.java lib/Adopt.java
//MAIN FmAdopt
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * fm-adopt: switches a firstmate home (a checkout of the bash original) to this port, or back.
 *
 * Adopt replaces the home's bin/fm-watch.sh, bin/fm-watch-arm.sh, bin/fm-wake-drain.sh and
 * bin/fm-guard.sh by shims that exec this checkout's commands (keeping the pid), and keeps the
 * originals byte for byte in bin/.fm-adopt/; --undo puts them back. Both are idempotent, change
 * one file at a time by atomic rename, and finish the job when re-run after a kill. A kept
 * original is deleted only when the script in place is the same bytes; one that differs is kept
 * as bin/.fm-adopt/<script>.kept-<UTC time> and named. --update (the home's own self-update skips
 * an adopted home, whose tree is dirty) undoes, runs git pull --ff-only in the home, and adopts
 * again; a failure says in one line whether the home ended adopted or un-adopted.
 * Prints one "fm-adopt: ..." line per change and a last line saying the outcome (stdout);
 * "already adopted" / "not adopted" when there is nothing to do (exit 0). Refuses, in one line
 * on stderr with exit 1, a directory that is not a firstmate home and a home whose watcher is
 * running (never signalled). Usage errors exit 2.
 * Knobs: FM_HOME (the home when --home is not given), FM_STATE_OVERRIDE (where its watcher's
 * lock is), FM_LOCK_STALE_AFTER, FM_DEBUG (each change on stderr; stack traces).
 */
// A wide help, so that each sentence stays on one line as in the other commands' help.
@Command(name = "fm-adopt.java", mixinStandardHelpOptions = true, version = "fm-adopt " + Cli.VERSION, usageHelpWidth = 120,
        description = "Make a firstmate home's four bash scripts run this port (and --undo it, or --update its checkout),"
                + " keeping the originals.",
        footer = "Home: --home, else FM_HOME, which must exist; FM_STATE_OVERRIDE says where its watcher's lock is.")
class FmAdopt implements Callable<Integer> {
    @Option(names = "--home", paramLabel = "<dir>", description = "The firstmate home (default: FM_HOME).")
    String home;

    /** At most one of the two; neither means adopt. */
    @ArgGroup(exclusive = true, multiplicity = "0..1")
    Mode mode = new Mode();

    static final class Mode {
        @Option(names = "--undo", description = "Put the bash originals back, byte for byte, and remove what adopt added.")
        boolean undo;

        @Option(names = "--update", description = "Undo, fast-forward the home's git checkout to its upstream"
                + " (git pull --ff-only), and adopt it again: its own self-update skips it while adopted.")
        boolean update;
    }

    @Option(names = "--dry-run", description = "Say what would be done; change nothing.")
    boolean dryRun;

    @Override
    public Integer call() {
        Knobs knobs = Knobs.fromEnvironment();
        String dir = home != null ? home : knobs.raw("FM_HOME");
        if (dir == null || dir.isEmpty()) {
            System.err.println("fm-adopt: which home? pass --home <dir> or set FM_HOME (see --help)");
            return 2;
        }
        java.nio.file.Path named = java.nio.file.Path.of(dir).toAbsolutePath().normalize();
        if (!java.nio.file.Files.isDirectory(named)) {
            System.err.println("fm-adopt: the home " + named + " (" + (home != null ? "--home" : "FM_HOME") + ") "
                    + (java.nio.file.Files.exists(named) ? "is not a directory" : "does not exist")
                    + "; name an existing firstmate home");
            return 1;
        }
        try {
            // The home is the one named here, whatever FM_HOME says; the checkout is this script's.
            Map<String, String> env = new HashMap<>(System.getenv());
            env.put("FM_HOME", dir);
            FmHome fm = FmHome.resolve(new Knobs(env));
            Adopt adopt = new Adopt(fm, dryRun, knobs.debug(), System.out, System.err);
            if (mode == null) mode = new Mode();
            return mode.undo ? adopt.undo() : mode.update ? adopt.update() : adopt.adopt();
        } catch (Adopt.Failure | FmHome.Unresolved e) {
            System.err.println("fm-adopt: " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            // Every moment leaves each script an original or a shim with its original kept.
            System.err.println("fm-adopt: stopped (" + e.getClass().getSimpleName() + ": " + e.getMessage()
                    + "); every script is still in place: fix that and run the same command again"
                    + (knobs.debug() ? "" : " (FM_DEBUG=1 for detail)"));
            if (knobs.debug()) e.printStackTrace();
        } catch (InterruptedException e) {
            System.err.println("fm-adopt: interrupted; run it again to finish");
        }
        return 1;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new FmAdopt()).execute(args));
    }
}
