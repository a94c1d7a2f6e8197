//usr/bin/env true; s=$0; [ -L "$s" ] && { s=$(readlink -f "$s") || s=$0; }; case $s in */*) ;; *) s=./$s;; esac; exec /bin/sh "${s%/*}/launch/launch.sh" "$s" "$@"
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//SOURCES lib/Knobs.java lib/FmHome.java lib/Adopt.java
//MAIN FmAdopt
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * fm-adopt: switches a firstmate home (a checkout of the bash original) to this port, or back.
 *
 * Adopt replaces the home's bin/fm-watch.sh, bin/fm-watch-arm.sh, bin/fm-wake-drain.sh and
 * bin/fm-guard.sh by shims that exec this checkout's commands (keeping the pid), and keeps the
 * originals byte for byte in bin/.fm-adopt/; --undo puts them back. Both are idempotent, change
 * one file at a time by atomic rename, and finish the job when re-run after a kill.
 * Prints one "fm-adopt: ..." line per change and a last line saying the outcome (stdout);
 * "already adopted" / "not adopted" when there is nothing to do (exit 0). Refuses, in one line
 * on stderr with exit 1, a directory that is not a firstmate home and a home whose watcher is
 * running (never signalled). Usage errors exit 2.
 * Knobs: FM_HOME (the home when --home is not given), FM_STATE_OVERRIDE (where its watcher's
 * lock is), FM_LOCK_STALE_AFTER, FM_DEBUG (each change on stderr; stack traces).
 */
@Command(name = "fm-adopt", mixinStandardHelpOptions = true, version = "fm-adopt 0.1.0",
        description = "Make a firstmate home's four bash scripts run this port (and --undo it), keeping the originals.")
class FmAdopt implements Callable<Integer> {
    @Option(names = "--home", paramLabel = "<dir>", description = "The firstmate home (default: FM_HOME).")
    String home;

    @Option(names = "--undo", description = "Put the bash originals back, byte for byte, and remove what adopt added.")
    boolean undo;

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
        try {
            // The home is the one named here, whatever FM_HOME says; the checkout is this script's.
            Map<String, String> env = new HashMap<>(System.getenv());
            env.put("FM_HOME", dir);
            FmHome fm = FmHome.resolve(new Knobs(env));
            Adopt adopt = new Adopt(fm, dryRun, knobs.debug(), System.out, System.err);
            return undo ? adopt.undo() : adopt.adopt();
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
