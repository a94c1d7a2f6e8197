//usr/bin/env true; s=$0; [ -L "$s" ] && { s=$(readlink -f "$s") || s=$0; }; case $s in */*) ;; *) s=./$s;; esac; exec /bin/sh "${s%/*}/launch/launch.sh" "$s" "$@"
//JAVA 17+
//SOURCES lib/Cli.java lib/Knobs.java lib/FmHome.java lib/StateFiles.java lib/Watcher.java
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Xmx64m -Xms8m -XX:-UsePerfData
//MAIN FmWatch

/*
 * fm-watch.java: one watcher cycle for this home (docs/watcher.md). Takes the home's singleton
 * lock, polls checks, signals, panes and the heartbeat, and at the first due wake records it
 * in the durable queue, prints exactly one reason line on stdout and exits 0:
 *   signal: <file> [<file>...] | stale: <window> [...] | check: <script>: <output> | heartbeat
 * When another watcher holds the lock: "watcher: already running pid <P>" (stdout, exit 0), or
 * one of two refusals on stderr (exit 1) when that holder's beacon is stale or missing.
 * Replaced by another watcher mid-cycle: exit 0, silently. Errors: one line on stderr, exit 1.
 * A check it will not run (others could have written it) is one stderr line, said once.
 * Knobs: FM_HOME, FM_ROOT_OVERRIDE, FM_STATE_OVERRIDE, FM_POLL, FM_SIGNAL_GRACE,
 * FM_CHECK_INTERVAL, FM_CHECK_TIMEOUT, FM_CHECK_STRICT, FM_HEARTBEAT, FM_HEARTBEAT_MAX,
 * FM_BUSY_REGEX, FM_LOCK_STALE_AFTER, FM_GUARD_GRACE, FM_WATCHER_STALE_GRACE, FM_BEACON_MAX_AGE,
 * FM_PANE_CYCLE_MEMORY, FM_BLIND_CAPTURE_POLLS, FM_DEBUG=1 (stack traces on errors).
 * A watcher may idle for hours in every home: a 64 MiB heap bound and no perf-data sampling
 * thread keep an idle one near 42 MiB resident and about 0.3% of a core, its tmux captures
 * of ten windows included; docs/performance.md "Figures" has the measurements.
 */
class FmWatch {
    static final String USAGE = "Usage: fm-watch.java [-h | --help] [-V | --version]";
    static final String HELP = USAGE + """

            Run one watcher cycle for this home: block until a wake, record it, print its reason line.
            Start it through fm-watch-arm.java, which reports the watcher's true state.
              -h, --help      Show this help and exit.
              -V, --version   Print the version and exit.
            """ + Cli.HOME_HELP;
    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        if (args.length == 1 && Cli.helpOrVersion(args[0], HELP, "fm-watch")) return 0;
        if (args.length > 0) {
            System.err.println("watcher: fm-watch.java takes no arguments (got '" + args[0] + "'); see --help");
            return 2;
        }
        Knobs knobs = Knobs.fromEnvironment();
        FmHome home;
        try {
            home = FmHome.resolve(knobs);
        } catch (FmHome.Unresolved e) {
            System.err.println("watcher: " + e.getMessage());
            return 1;
        }
        try (Watcher.Start start = Watcher.start(home, knobs)) {
            if (!start.acquired()) {
                start.report(System.out, System.err);
                return start.exitCode();
            }
            return new Watcher(home, knobs).cycle(start.lock().get(), System.out);
        } catch (Exception | Error e) {
            String what = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            System.err.println("watcher: " + StateFiles.oneLine(what));
            if (knobs.debug()) e.printStackTrace();
            return 1;
        }
    }
}
