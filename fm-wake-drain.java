//usr/bin/env true; s=$0; [ -L "$s" ] && { s=$(readlink -f "$s") || s=$0; }; case $s in */*) ;; *) s=./$s;; esac; exec /bin/sh "${s%/*}/launch/launch.sh" "$s" "$@"
//JAVA 17+
//SOURCES lib/Cli.java lib/Knobs.java lib/FmHome.java lib/StateFiles.java lib/WakeQueue.java lib/Guard.java
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData -Xms8m
//MAIN FmWakeDrain

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * fm-wake-drain: empties the durable wake queue (docs/state.md "The drain") at the start of every
 * wake-handling turn.
 *
 * Prints the queued records on stdout, one per line as stored (epoch TAB seq TAB kind TAB key
 * TAB payload), deduplicated: one line per kind+key (one for all heartbeats), at its first
 * position, carrying the latest record. Nothing for an empty queue. Records an interrupted
 * drain left behind come first (they are older), taken over by rename, so a full disk never
 * blocks a drain. A line too long to be a record (over 4 MiB) is dropped with one line on
 * stderr saying how many and how long. Then runs the guard's check on stderr (fm-guard.java).
 * Exit 0; 1 with one line on stderr when the drain failed (its records are back in front of
 * the queue, or, failing that, left for the next drain, which prints them first); 2 for
 * arguments. Printing happens after the queue lock is released, so a reader that does not
 * keep up never stalls a watcher's append; the records printed belong to this drain alone.
 * Knobs: FM_HOME, FM_ROOT_OVERRIDE, FM_STATE_OVERRIDE, FM_QUEUE_LOCK_WAIT, FM_GUARD_GRACE,
 * FM_LOCK_STALE_AFTER, FM_ARM_COMMAND, FM_DRAIN_COMMAND (the guard's advice), FM_DEBUG.
 */
class FmWakeDrain {
    public static void main(String[] args) {
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        System.exit(run(args, Knobs.fromEnvironment(), new FileOutputStream(FileDescriptor.out), err));
    }

    static int run(String[] args, Knobs knobs, OutputStream stdout, PrintStream err) {
        if (args.length > 0) {
            if (args.length == 1 && Cli.helpOrVersion(args[0], HELP, "fm-wake-drain")) return 0;
            err.println("fm-wake-drain: unexpected argument '" + args[0] + "'; it takes none (see --help)");
            return 2;
        }
        FmHome home;
        try {
            home = FmHome.resolve(knobs);
        } catch (FmHome.Unresolved e) {
            err.println("fm-wake-drain: " + e.getMessage());
            return 1;
        }
        try {
            home.ensureState();
            new WakeQueue(home, knobs).drain(new BufferedOutputStream(stdout, 1 << 16),
                    note -> err.println("fm-wake-drain: " + note));
        } catch (IOException | RuntimeException e) {
            String why = e.getMessage() != null ? e.getMessage() : e.toString();
            err.println("fm-wake-drain: " + StateFiles.oneLine(why));
            if (knobs.debug()) e.printStackTrace(err);
            return 1;
        }
        try {
            Guard.warn(home, knobs, err);
        } catch (RuntimeException e) {
            // The records are out; a guard that cannot look must not turn that into a failure.
            if (knobs.debug()) e.printStackTrace(err);
        }
        return 0;
    }

    static final String HELP = """
            Usage: fm-wake-drain.java [-h | --help] [-V | --version]
            Print this home's queued wakes, deduplicated, empty the queue, then run the guard's check.
              -h, --help      Show this help and exit.
              -V, --version   Print the version and exit.
            """ + Cli.HOME_HELP + """

            Exit 0 drained (maybe nothing), 1 the drain failed (its records stay queued), 2 usage.""";
}
