//usr/bin/env true; s=$0; [ -L "$s" ] && { s=$(readlink -f "$s") || s=$0; }; case $s in */*) ;; *) s=./$s;; esac; exec /bin/sh "${s%/*}/launch/launch.sh" "$s" "$@"
//JAVA 17+
//SOURCES lib/Cli.java lib/Knobs.java lib/FmHome.java lib/Advice.java lib/Guard.java
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData -Xms8m

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * fm-guard: the liveness guard, run before supervision work (docs/arm-guard.md "The guard").
 *
 * Prints nothing when no task is in flight (no STATE/*.meta) or when the watcher's beacon is
 * fresh and no wake is queued. Otherwise, on stderr only: the WATCHER DOWN banner (lines starting with U+25CF) when the
 * beacon is missing or at least FM_GUARD_GRACE seconds old, then "WARNING: queued wakes
 * pending - ..." when .wake-queue is non-empty. Never blocks, takes no lock, always exits 0
 * (even for a home it cannot find or an unknown argument: it says so in one line).
 * Knobs: FM_HOME, FM_ROOT_OVERRIDE, FM_STATE_OVERRIDE, FM_GUARD_GRACE, FM_ARM_COMMAND and
 * FM_DRAIN_COMMAND (how its advice names the arm and the drain), FM_DEBUG.
 * Deliberately a plain main without picocli: it runs before every step, so start-up counts.
 */
class FmGuard {
    static final String HELP = """
            Usage: fm-guard.java [-h | --help] [-V | --version]
            Warn on stderr when tasks are in flight and no watcher has a fresh beacon, or wakes are queued.
            Silent when all is well; always exits 0, even for an unknown argument (it says so).
              -h, --help      Show this help and exit.
              -V, --version   Print the version and exit.
            """ + Cli.HOME_HELP;
    public static void main(String[] args) {
        // The banner is UTF-8 whatever the locale says; System.err would print "?" under LANG=C.
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        Knobs knobs = Knobs.fromEnvironment();
        for (String a : args) {
            if (Cli.helpOrVersion(a, HELP, "fm-guard")) return;
        }
        // A usage error would stop a harness's pre-step: say it, and still check.
        for (String a : args) err.println("fm-guard: unknown argument '" + a + "' ignored (see --help); checking anyway");
        try {
            Guard.warn(FmHome.resolve(knobs), knobs, err);
        } catch (FmHome.Unresolved e) {
            err.println("fm-guard: " + e.getMessage() + " (watcher state unknown)");
        } catch (RuntimeException e) {
            err.println("fm-guard: could not check the watcher (" + e.getClass().getSimpleName()
                    + "); run " + Advice.unresolved(knobs, FmHome.checkout().orElse(null)).arm() + " to learn its state");
            if (knobs.debug()) e.printStackTrace(err);
        }
    }
}
