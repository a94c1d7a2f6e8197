//usr/bin/env true; s=$0; [ -L "$s" ] && { s=$(readlink -f "$s") || s=$0; }; case $s in */*) ;; *) s=./$s;; esac; exec /bin/sh "${s%/*}/launch/launch.sh" "$s" "$@"
//JAVA 17+
//SOURCES lib/Cli.java lib/Knobs.java lib/FmHome.java lib/Advice.java lib/Status.java lib/History.java lib/Fleet.java
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData -Xms8m
//MAIN FmStatus
//JAVAC_OPTIONS -XDstringConcat=inline

/**
 * fm-status: is this home supervised right now, and since when not? Read-only: takes no lock,
 * signals nothing, writes nothing. Prints on stdout, first line always:
 *   supervision: <ok|idle|DOWN|SLOW|WEDGED|BLOCKED> - <one sentence: who, how old, how many tasks>
 * then "name: ..." facts (lock, beacon, tasks, queue, blind, cycle, gaps, ledger), and last, when
 * anything needs doing, exactly one "next: <command>  # why" line. --json prints the same facts
 * as one JSON object (keys verdict, exit, sentence, next, watcher, tasks, queue, blind, cycles,
 * gaps, ledger). Exit 0 for ok and idle with nothing queued, 1 otherwise, 2 for usage errors.
 * --history [N] prints instead the ledger's last N cycles and the gaps between them as a table in
 * local time (lib/History.java), or as JSON with --json; exit 1 only when the ledger cannot be read.
 * --fleet prints this home's verdict and that of every home its data/secondmates.md registers,
 * one line each, then the worst's next: line, and exits as the worst (lib/Fleet.java).
 * Knobs: FM_HOME, FM_ROOT_OVERRIDE, FM_STATE_OVERRIDE, FM_GUARD_GRACE, FM_WATCHER_STALE_GRACE,
 * FM_LOCK_STALE_AFTER, FM_DEBUG. A plain main without picocli: a short command, start-up counts;
 * for the same reason string concatenation is compiled inline (-XDstringConcat=inline), which
 * spares the JVM spinning a method handle for every concatenation it meets the first time.
 */
class FmStatus {
    static final String USAGE = "Usage: fm-status.java [--json] [--history [N] | --fleet] [-h | --help] [-V | --version]";
    static final String HELP = USAGE + """

            Say whether this home's fleet is supervised right now, and since when not; changes nothing.
                  --json          The same facts as one JSON object.
                  --history [N]   The ledger's last N cycles (default 20) and the gaps between them, in local time.
                  --fleet         This home (self) and every home data/secondmates.md registers, a verdict line each,
                                  then the worst's next:; exit as the worst.
              -h, --help          Show this help and exit.
              -V, --version       Print the version and exit.
            """ + Cli.HOME_HELP + """

            Exit 0 ok/idle, 1 needs action (the next: line says what), 2 usage.
            next: is the one safe thing to do; a pending queued wake always makes it the drain.""";

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        boolean json = false;
        boolean fleet = false;
        int history = 0;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (Cli.helpOrVersion(a, HELP, "fm-status")) {
                return 0;
            } else if (a.equals("--json")) {
                json = true;
            } else if (a.equals("--fleet")) {
                fleet = true;
            } else if (a.equals("--history")) {
                history = History.DEFAULT_CYCLES;
                if (i + 1 < args.length && args[i + 1].matches("[0-9]{1,9}")) {
                    history = Integer.parseInt(args[++i]);
                    if (history < 1) {
                        System.err.println("fm-status: --history takes a number of cycles of at least 1 (got '" + args[i] + "')");
                        System.err.println(USAGE);
                        return 2;
                    }
                }
            } else {
                System.err.println("fm-status: unknown argument '" + a + "'");
                System.err.println(USAGE);
                return 2;
            }
        }
        if (fleet && history > 0) {
            System.err.println("fm-status: --fleet and --history do not go together");
            System.err.println(USAGE);
            return 2;
        }
        Knobs knobs = Knobs.fromEnvironment();
        Status.Facts facts;
        Status.Judgement verdict;
        try {
            try {
                facts = Status.gather(FmHome.resolve(knobs), knobs);
            } catch (FmHome.Unresolved e) {
                facts = Status.unresolved(e, knobs);
            }
            verdict = Status.judge(facts);
        } catch (RuntimeException e) {
            System.err.println("fm-status: could not read the supervision state (" + e.getClass().getSimpleName()
                    + (knobs.debug() ? "" : "; FM_DEBUG=1 for detail") + "); run " + Advice.unresolved(knobs, FmHome.checkout().orElse(null)).arm()
                    + " to learn the watcher's state");
            if (knobs.debug()) e.printStackTrace();
            return 1;
        }
        if (fleet) {
            Fleet all = Fleet.look(facts, System.getenv());
            if (json) {
                System.out.println(all.json());
            } else {
                for (String line : all.text()) System.out.println(line);
            }
            System.out.flush();
            return all.exit();
        }
        if (history > 0 && facts.problem() == null) {
            if (json) {
                System.out.println(History.json(facts, history));
            } else {
                for (String line : History.text(facts, history)) System.out.println(line);
            }
            System.out.flush();
            return facts.ledger().problem() == null ? 0 : 1;
        }
        if (json) {
            System.out.println(Status.json(facts, verdict));
        } else {
            for (String line : Status.text(facts, verdict)) System.out.println(line);
        }
        System.out.flush();
        return verdict.exit();
    }
}
