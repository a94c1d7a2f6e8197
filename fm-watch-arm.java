//usr/bin/env true; s=$0; [ -L "$s" ] && { s=$(readlink -f "$s") || s=$0; }; case $s in */*) ;; *) s=./$s;; esac; exec /bin/sh "${s%/*}/launch/launch.sh" "$s" "$@"
//JAVA 17+
//SOURCES lib/Cli.java lib/Knobs.java lib/FmHome.java lib/Arm.java
//MAIN FmWatchArm
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Xmx64m -Xms8m -Xss512k -XX:MaxMetaspaceSize=64m -XX:-UsePerfData
//JAVAC_OPTIONS -XDstringConcat=inline

/**
 * fm-watch-arm: the one way to (re)start this home's watcher; prints one status line.
 *
 *   watcher: started pid=<N> (beacon fresh)          then the wake's reason line; exit = the watcher's
 *     (or "(beacon fresh; no task in flight)" when the home has no state/*.meta: it can only heartbeat)
 *   watcher: healthy pid=<N> (beacon <A>s)           one already runs; exit 0
 *   watcher: attached pid=<N> (beacon <A>s)          (--attach) stays until that cycle ends; exit 0
 *   watcher: replacing wedged pid=<N> (beacon <A>s)  our own watcher stopped beating; `started` follows
 *   watcher: FAILED - no live watcher with a fresh beacon   exit 1 (a reason line on stderr)
 * TERM/INT/HUP stop the watcher it runs and exit 143/130/129. --attach with --restart is a usage
 * error. On a terminal (stderr only) it says what a long wait is for (lib/Progress.java).
 * Knobs: FM_HOME, FM_STATE_OVERRIDE, FM_ARM_CONFIRM_TIMEOUT, FM_ARM_ATTACH_POLL, FM_GUARD_GRACE,
 * FM_WATCHER_STALE_GRACE, FM_BEACON_MAX_AGE, FM_BASH_WATCHER (the home's bash watcher, which it
 * may report healthy), and every knob of the watcher (fm-watch.java).
 * A plain main without picocli, as fm-status: harnesses arm after every wake and wait for the
 * status line, and picocli's set-up alone (its built-in converters, the annotation model) cost
 * about as much as the rest of the arm's start (docs/performance.md "Figures"). Usage errors exit 2.
 */
class FmWatchArm {
    static final String USAGE = """
            Usage: fm-watch-arm.java [--attach | --restart] [-h | --help] [-V | --version]
            Start, confirm or restart this home's watcher and report its true state in one line.
                  --attach    Behind a healthy watcher, stay attached until its cycle ends (exit 0).
                  --restart   Stop this home's watcher (only if proven ours), then start a fresh one.
              -h, --help      Show this help and exit.
              -V, --version   Print the version and exit.
            """ + Cli.HOME_HELP;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        boolean attach = false;
        boolean restart = false;
        for (String a : args) {
            if (Cli.helpOrVersion(a, USAGE, "fm-watch-arm")) return 0;
            switch (a) {
                case "--attach" -> attach = true;
                case "--restart" -> restart = true;
                default -> {
                    System.err.println("fm-watch-arm: unknown argument '" + a + "'");
                    System.err.println(USAGE);
                    return 2;
                }
            }
        }
        if (attach && restart) {
            // --restart starts a fresh watcher, --attach never starts one: no arm can do both.
            System.err.println("fm-watch-arm: --attach and --restart contradict each other; give one of them");
            System.err.println(USAGE);
            return 2;
        }
        return arm(attach, restart);
    }

    static int arm(boolean attach, boolean restart) {
        Knobs knobs = Knobs.fromEnvironment();
        try {
            FmHome home = FmHome.resolve(knobs);
            return new Arm(home, knobs, System.out, System.err).run(attach, restart);
        } catch (FmHome.Unresolved e) {
            System.err.println("watcher: " + e.getMessage());
        } catch (InterruptedException e) {
            System.err.println("watcher: interrupted");
        } catch (Exception e) {
            System.err.println("watcher: " + e.getMessage() + (knobs.debug() ? "" : " (FM_DEBUG=1 for detail)"));
            if (knobs.debug()) e.printStackTrace();
        }
        System.out.println("watcher: FAILED - no live watcher with a fresh beacon");
        return 1;
    }
}
