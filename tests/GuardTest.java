import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** fm-guard.java as a real process: silent when all is well, loud on stderr otherwise, exit 0 always. */
class GuardTest {
    private static final Duration LIMIT = Duration.ofSeconds(60);
    private static final String MARK = "\u25CF";
    /** The arm and the drain as advice names them for this (non-default) home: pasteable anywhere. */
    private String advice(String script) {
        return "FM_HOME=" + ShellWord.of(home) + " " + ShellWord.of(TestKit.root().resolve(script));
    }

    private String rearmNow() {
        return MARK + "  Re-arm it NOW: run " + advice("fm-watch-arm.java") + " as the harness-tracked"
                + " background task (never a shell & that gets reaped).";
    }

    private String rearmAfterDrain() {
        return MARK + "  After draining queued wakes, re-arm the watcher: run " + advice("fm-watch-arm.java")
                + " as the harness-tracked background task (never a shell & that gets reaped).";
    }

    private String queued() {
        return "WARNING: queued wakes pending - drain them with " + advice("fm-wake-drain.java") + " before anything else.";
    }

    @AutoClose private final TestKit kit = new TestKit();
    /** The temp home; the guard runs under the C locale, since the banner must stay UTF-8 whatever the locale. */
    private final TestKit.Home fixture = kit.home("fm-guard", Map.of("LC_ALL", "C"));
    private final Path home = fixture.home;
    private final Path state = fixture.state;

    @Test
    void silentWithoutTasksEvenWhenTheWatcherIsDownAndWakesAreQueued() throws IOException {
        Files.writeString(state.resolve(".wake-queue"), "1\t1\theartbeat\t\theartbeat\n");
        Files.writeString(state.resolve(".hidden.meta"), "window=x\n"); // a dot-file is no task
        assertSilent(guard(Map.of()));
    }

    @Test
    void silentWithAFreshBeaconAndAnEmptyQueue() throws IOException {
        task("a");
        StateFiles.touch(state.resolve(".last-watcher-beat"));
        Files.writeString(state.resolve(".wake-queue"), "");
        assertSilent(guard(Map.of()));
        // Fresh by the knob too: 10 s old is fresh under a 60 s grace.
        age(state.resolve(".last-watcher-beat"), 10);
        assertSilent(guard(Map.of("FM_GUARD_GRACE", "60")));
    }

    @Test
    void bannerWhenTheBeaconIsMissing() throws IOException {
        task("a");
        task("b");
        Files.writeString(state.resolve(".hidden.meta"), "");
        TestKit.Result r = guard(Map.of());
        List<String> lines = banner(r);
        assertEquals(6, lines.size(), r.stderr());
        assertEquals(MARK + "  WATCHER DOWN - SUPERVISION IS OFF", lines.get(1));
        assertEquals(MARK + "  2 task(s) in flight, but no watcher has a fresh beacon (last beat: never, grace 300s).",
                lines.get(2));
        assertTrue(lines.get(3).contains(advice("fm-watch-arm.java")) && lines.get(3).contains("true state"), lines.get(3));
        assertEquals(rearmNow(), lines.get(4));
    }

    @Test
    void bannerWhenTheBeaconIsOld() throws IOException {
        task("a");
        Path beacon = state.resolve(".last-watcher-beat");
        StateFiles.touch(beacon);
        age(beacon, 400);
        List<String> lines = banner(guard(Map.of()));
        assertTrue(lines.get(2).matches(MARK + "  1 task\\(s\\) in flight, but no watcher has a fresh beacon"
                + " \\(last beat: 40\\ds ago, grace 300s\\)\\."), lines.get(2));
        assertEquals(rearmNow(), lines.get(4));

        age(beacon, 10);
        List<String> tight = banner(guard(Map.of("FM_GUARD_GRACE", "5")));
        assertTrue(tight.get(2).contains("(last beat: 1") && tight.get(2).endsWith("s ago, grace 5s)."), tight.get(2));
    }

    @Test
    void queuedWakesGetDrainFirstWordingAndAWarningAfterTheBanner() throws IOException {
        task("a");
        Files.writeString(state.resolve(".wake-queue"), "1\t1\tstale\tfleet:w\tstale: fleet:w\n");
        TestKit.Result r = guard(Map.of());
        assertEquals(0, r.exit());
        assertEquals("", r.stdout());
        List<String> lines = r.stderr().lines().toList();
        assertEquals(7, lines.size(), r.stderr());
        assertTrue(lines.subList(0, 6).stream().allMatch(l -> l.startsWith(MARK)), r.stderr());
        assertEquals(rearmAfterDrain(), lines.get(4));
        assertEquals(queued(), lines.get(6));

        StateFiles.touch(state.resolve(".last-watcher-beat"));
        TestKit.Result fresh = guard(Map.of());
        assertEquals(0, fresh.exit());
        assertEquals("", fresh.stdout());
        assertEquals(queued() + "\n", fresh.stderr());
    }

    @Test
    void anUnknownHomeIsOneLineAndStillExitZero() throws IOException {
        Path elsewhere = kit.tempDir("fm-guard-nowhere");
        List<String> cmd = new ArrayList<>();
        for (String part : TestKit.command("fm-guard.java")) {
            cmd.add(part.startsWith("-Dfm.script=") ? "-Dfm.script=" + elsewhere.resolve("fm-guard.java") : part);
        }
        TestKit.Result r = kit.run(cmd, Map.of(), elsewhere, LIMIT);
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("", r.stdout());
        assertEquals(1, r.stderr().lines().count(), r.stderr());
        assertTrue(r.stderr().startsWith("fm-guard: ") && r.stderr().contains("FM_HOME"), r.stderr());
    }

    // ------------------------------------------------------------------ helpers

    private TestKit.Result guard(Map<String, String> knobs) throws IOException {
        Map<String, String> env = fixture.env();
        env.putAll(knobs);
        return kit.run(TestKit.command("fm-guard.java"), env, null, LIMIT);
    }

    /** The banner lines, after checking the frame every banner shares. */
    private static List<String> banner(TestKit.Result r) {
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("", r.stdout());
        List<String> lines = r.stderr().lines().toList();
        assertEquals(6, lines.size(), r.stderr());
        assertTrue(lines.stream().allMatch(l -> l.startsWith(MARK)), r.stderr());
        assertTrue(lines.get(0).matches(MARK + "\u2501{10,}") && lines.get(5).equals(lines.get(0)), r.stderr());
        assertEquals(MARK + "  WATCHER DOWN - SUPERVISION IS OFF", lines.get(1));
        return lines;
    }

    private static void assertSilent(TestKit.Result r) {
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("", r.stdout());
        assertEquals("", r.stderr());
    }

    private void task(String id) throws IOException {
        Files.writeString(state.resolve(id + ".meta"), "window=fleet:fm-" + id + "\n");
    }

    private static void age(Path p, long seconds) throws IOException {
        Files.setLastModifiedTime(p, FileTime.from(Instant.now().minusSeconds(seconds)));
    }
}
