//SOURCES CheckTrust.java ChildProcesses.java FmHome.java Knobs.java StateFiles.java Wake.java WakeQueue.java

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Watcher step 3: the sweep of {@code STATE/*.check.sh} (docs/watcher.md "Checks").
 *
 * Scripts run with {@code bash}, in byte order of their names, each bounded by
 * FM_CHECK_TIMEOUT (what it printed before counts). Each runs in a session of its own, so
 * the whole process group it made is ended with it: on timeout, when the check exits and
 * leaves children behind, and when a signal ends us (ChildProcesses). Only the first 64 KiB of a check's stdout are kept. The reason line and the
 * queue payload are the same text: newlines and tabs in the output become spaces, because
 * an agent reads exactly one line.
 *
 * Unless FM_CHECK_STRICT=0, only checks that {@link CheckTrust} accepts run; each refusal is one
 * stderr line, said once (see CheckTrust.Reported), never a wake and never queued.
 */
final class Checks {
    static final int MAX_OUTPUT = 64 * 1024;
    private final FmHome home;
    private final Duration interval;
    private final Duration timeout;
    private final Duration beatEvery;
    private final Runnable beat;
    private final boolean strict;
    private final CheckTrust.Reported reported;

    Checks(FmHome home, Knobs knobs, Duration beatEvery, Runnable beat) {
        this.home = home;
        this.interval = knobs.checkInterval();
        this.timeout = knobs.checkTimeout();
        this.beatEvery = beatEvery;
        this.beat = beat;
        this.strict = knobs.checkStrict();
        this.reported = new CheckTrust.Reported(home.state);
    }

    /** Runs the sweep when due; the first check with output is the wake. */
    Optional<Wake> poll() throws IOException {
        Optional<Duration> age = StateFiles.age(home.lastCheck());
        if (age.isPresent() && age.get().compareTo(interval) < 0) return Optional.empty();
        List<Path> scripts = CheckTrust.scripts(home.state);
        if (strict) {
            // The whole sweep is verified up front, so the refusals said (and remembered) are
            // complete even when an earlier check's output ends the sweep; CheckTrust says why a
            // verdict still holds when a later check of the sweep runs.
            CheckTrust.Verdict verdict = CheckTrust.verify(home.state, scripts);
            reported.report(verdict.refused(), System.err);
            scripts = verdict.trusted();
        }
        for (Path script : scripts) {
            // bash is found on PATH here: through setsid a missing bash would look like a silent check.
            Optional<String> bash = ChildProcesses.onPath("bash");
            ChildProcesses.Outcome ran = bash.isEmpty() ? new ChildProcesses.Outcome(-1, "", false, true)
                    : ChildProcesses.runAsGroup(List.of(bash.get(), script.toString()), timeout, MAX_OUTPUT, beatEvery, beat);
            beat.run();
            if (ran.failedToStart()) {
                // Without bash (or setsid) no check can ever wake us: say so rather than stay silent.
                System.err.println("watcher: cannot start bash (through setsid) to run " + script
                        + "; install bash and util-linux, or remove the check");
                break; // the sweep counts as done, so this repeats once per FM_CHECK_INTERVAL, not per poll
            }
            String output = withoutTrailingNewlines(ran.stdout());
            if (!output.isEmpty()) {
                String line = WakeQueue.clean("check: " + script + ": " + output);
                return Optional.of(Wake.of("check", script.toString(), line, () -> StateFiles.touch(home.lastCheck())));
            }
        }
        StateFiles.touch(home.lastCheck());
        return Optional.empty();
    }

    /** What a shell's {@code $(...)} keeps: the output minus its trailing newlines. */
    static String withoutTrailingNewlines(String s) {
        int end = s.length();
        while (end > 0 && s.charAt(end - 1) == '\n') end--;
        return s.substring(0, end);
    }
}
