//usr/bin/env true; s=$0; [ -L "$s" ] && { s=$(readlink -f "$s") || s=$0; }; case $s in */*) ;; *) s=./$s;; esac; exec /bin/sh "${s%/*}/launch/launch.sh" "$s" "$@"
//JAVA 17+
//SOURCES lib/Cli.java lib/FmLock.java lib/FmProc.java
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The command line of the single-winner lock (lib/FmLock.java), for shells and
 * cross-implementation tests:
 *   FmLock.java try-acquire <lock> [--hold <seconds>]   prints "acquired pid=<N>" (exit 0)
 *                                                        or "held pid=<N or nothing>" (exit 1)
 *   FmLock.java identity <pid>                           prints the identity line (exit 1: no such process)
 * Usage errors exit 2. Signals: TERM, INT or HUP during a hold release the lock (its shutdown hook).
 *
 * A file of its own because JBang adds a file's //JAVA_OPTIONS to every command that sources
 * it: the lock is sourced by most commands, and its options must not become theirs.
 */
final class FmLockCommand {
    private FmLockCommand() {}

    public static void main(String[] args) {
        System.exit(cli(args));
    }

    static final String USAGE = "Usage: FmLock.java try-acquire <lock> [--hold <seconds>] | FmLock.java identity <pid>";
    static final String HELP = USAGE + """

            Take a single-winner lock as the watcher does, or print a process's identity line.
              try-acquire <lock>   Print "acquired pid=<N>" (exit 0, held for --hold seconds) or "held pid=<N>" (exit 1).
              identity <pid>       Print the identity line a lock records for that process (exit 1: no such process).
              -h, --help           Show this help and exit.
              -V, --version        Print the version and exit.
            No home: FM_HOME is not read; the lock is the path given. Usage errors exit 2.""";

    static int cli(String[] args) {
        if (args.length == 1 && Cli.helpOrVersion(args[0], HELP, "FmLock")) return 0;
        if (args.length >= 1 && args[0].equals("identity")) {
            if (args.length != 2) return usage("identity takes exactly one pid");
            OptionalLong pid = FmProc.parsePid(args[1]);
            Optional<String> id = pid.isPresent() ? FmProc.identity(pid.getAsLong()) : Optional.empty();
            if (id.isEmpty()) {
                System.err.println("fm-lock: no process with pid " + args[1]);
                return 1;
            }
            System.out.println(id.get());
            return 0;
        }
        if (args.length >= 1 && args[0].equals("try-acquire")) {
            Path lock = null;
            double hold = 0;
            for (int i = 1; i < args.length; i++) {
                if (args[i].equals("--hold")) {
                    if (++i >= args.length) return usage("--hold needs a number of seconds");
                    try {
                        hold = Double.parseDouble(args[i]);
                        if (!(hold >= 0) || hold > 1e7) throw new NumberFormatException();
                    } catch (NumberFormatException e) {
                        return usage("--hold needs a non-negative number of seconds, not '" + args[i] + "'");
                    }
                } else if (args[i].startsWith("-")) {
                    return usage("unknown option " + args[i]);
                } else if (lock == null) {
                    lock = Path.of(args[i]);
                } else {
                    return usage("only one lock path");
                }
            }
            if (lock == null) return usage("try-acquire needs a lock path");
            return tryAcquireCli(lock, hold);
        }
        return usage(args.length == 0 ? "no command" : "unknown command " + args[0]);
    }

    private static int tryAcquireCli(Path lock, double holdSeconds) {
        if (lock.toAbsolutePath().getParent() == null || !Files.isDirectory(lock.toAbsolutePath().getParent())) {
            System.err.println("fm-lock: the directory of " + lock + " does not exist; create it first");
            return 2;
        }
        FmLock.Attempt a = FmLock.tryAcquire(lock);
        if (!a.acquired()) {
            System.out.println("held pid=" + (a.holder().isPresent() ? Long.toString(a.holder().getAsLong()) : ""));
            return 1;
        }
        // TERM/INT during the hold end the JVM through its shutdown hooks, which release every
        // held lock (see FmLock.HELD), so the lock never outlives us.
        FmLock.Held held = a.held().get();
        System.out.println("acquired pid=" + ProcessHandle.current().pid());
        System.out.flush();
        if (holdSeconds > 0) {
            try {
                Thread.sleep((long) (holdSeconds * 1000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        held.close();
        return 0;
    }

    private static int usage(String why) {
        System.err.println("fm-lock: " + why);
        System.err.println(USAGE);
        return 2;
    }
}
