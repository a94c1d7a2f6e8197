//usr/bin/env true; exec "$(dirname "$0")/../../jbang" -Dfm.script="$0" "$0" "$@"
//JAVA 17+
//SOURCES ../../lib/Panes.java
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData
//MAIN PanesPoll

// Test driver for the pane phase alone: runs Panes.poll() N times in one process, with the
// environment it was given (PATH, TMUX_TMPDIR and FM_* reach tmux and the knobs as they would
// in a watcher). Usage: panes-poll.java <polls> [--no-commit]
// Prints, per poll: "poll <i> start <ms>", "beat <ms>" for every beacon beat, then
// "wake <line>" (after running the marker commit, unless --no-commit) or "none", then
// "poll <i> end <ms>"; times are milliseconds of one monotonic clock. Reads FM_HOME and
// FM_STATE_OVERRIDE (no checkout needed). An IOException prints "error <message>", exit 1.

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

class PanesPoll {
    public static void main(String[] args) throws Exception {
        if (args.length < 1 || !args[0].matches("[0-9]+")) {
            System.err.println("usage: panes-poll.java <polls> [--no-commit]");
            System.exit(2);
        }
        int polls = Integer.parseInt(args[0]);
        boolean commit = !(args.length > 1 && args[1].equals("--no-commit"));
        Knobs knobs = Knobs.fromEnvironment();
        Path home = Path.of(knobs.raw("FM_HOME")).toAbsolutePath();
        String stateVar = knobs.raw("FM_STATE_OVERRIDE");
        Path state = stateVar != null ? Path.of(stateVar).toAbsolutePath() : home.resolve("state");
        Files.createDirectories(state);
        FmHome fm = FmHome.of(home, state, home.resolve(FmHome.WATCHER_SCRIPT));
        Panes panes = new Panes(fm, knobs, () -> System.out.println("beat " + now()));
        for (int i = 1; i <= polls; i++) {
            System.out.println("poll " + i + " start " + now());
            try {
                Optional<Wake> wake = panes.poll();
                if (wake.isPresent()) {
                    if (commit) wake.get().commit().write();
                    System.out.println("wake " + wake.get().line());
                } else {
                    System.out.println("none");
                }
            } catch (java.io.IOException e) {
                System.out.println("error " + e.getMessage());
                System.exit(1);
            }
            System.out.println("poll " + i + " end " + now());
        }
    }

    private static long now() { return System.nanoTime() / 1_000_000L; }
}
