import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every advice line names a command that runs as printed: pasted into sh from another
 * directory, in a shell that has no FM_HOME, it acts on the home that printed it. The home's
 * path has a space and a quote, so the line must also quote it.
 */
class AdviceTest {
    private static final Duration LIMIT = Duration.ofSeconds(120);
    private static final String MARK = "\u25CF";

    @AutoClose private final TestKit kit = new TestKit();
    private TestKit.Home fixture;
    private Path state;

    @BeforeEach
    void setUp() throws Exception {
        Path dir = Files.createDirectory(kit.tempDir("fm-advice").resolve("the crew's home"));
        fixture = new TestKit.Home(kit, dir);
        fixture.env.putAll(TestKit.QUIET);
        state = fixture.state;
    }

    /** The shell a user pastes into: another directory, the same knobs, no FM_HOME. */
    private Map<String, String> pasteEnv(String... kv) {
        Map<String, String> e = fixture.env(kv);
        e.remove("FM_HOME");
        return e;
    }

    private TestKit.Result paste(String line, String... kv) throws Exception {
        return kit.run(List.of("sh", "-c", line), pasteEnv(kv), Path.of("/"), LIMIT);
    }

    /** The command of a next: line: what comes before its two-space "#". */
    private static String nextCommand(List<String> lines) {
        String next = lines.get(lines.size() - 1);
        assertTrue(next.startsWith("next: ") && next.contains("  # "), lines.toString());
        return next.substring("next: ".length(), next.indexOf("  # "));
    }

    private static String between(String line, String before, String after) {
        int i = line.indexOf(before);
        int j = line.indexOf(after, i + before.length());
        assertTrue(i >= 0 && j > i, "no '" + before + "...' '" + after + "' in " + line);
        return line.substring(i + before.length(), j);
    }

    @Test
    void theGuardsAndStatusAdviceRunsAsPastedFromAnotherDirectory() throws Exception {
        Files.writeString(state.resolve("t1.meta"), "kind=ship\n");
        String record = (Instant.now().getEpochSecond() - 5) + "\t1\tcheck\tk1\tcheck: k1 said hello";
        Files.writeString(state.resolve(".wake-queue"), record + "\n");

        // The guard's warning and fm-status's next: both name the drain; pasted, it drains this home.
        TestKit.Result g = fixture.run("fm-guard.java");
        List<String> warned = g.stderr().lines().toList();
        String drain = between(warned.get(warned.size() - 1), "drain them with ", " before anything else.");
        String armFromBanner = between(warned.get(4), "re-arm the watcher: run ", " as the harness-tracked");
        assertTrue(warned.get(3).contains("Only " + armFromBanner + " reports"), warned.get(3));
        List<String> s = fixture.run("fm-status.java").lines();
        assertEquals(drain, nextCommand(s), "the guard and fm-status name the drain alike");
        TestKit.Result d = paste(drain);
        assertEquals(0, d.exit(), d.stderr());
        assertTrue(d.stdout().contains("check: k1 said hello"), d.stdout() + d.stderr());
        assertEquals(0, Files.size(state.resolve(".wake-queue")), "the pasted drain drained this home's queue");
        // The drain's own warning (its guard check) names the arm as the guard does.
        assertTrue(d.stderr().contains("Re-arm it NOW: run " + armFromBanner + " as the harness-tracked"), d.stderr());

        // DOWN: the next step is the arm; pasted, it starts this home's watcher and says so.
        s = fixture.run("fm-status.java").lines();
        assertTrue(s.get(0).startsWith("supervision: DOWN"), s.toString());
        String arm = nextCommand(s);
        assertEquals(armFromBanner, arm);
        TestKit.Lines armed = new TestKit.Lines(kit.start(List.of("sh", "-c", arm), pasteEnv(), Path.of("/")));
        String line = armed.next(LIMIT);
        assertNotNull(line, armed.err.toString());
        assertTrue(line.matches("watcher: started pid=\\d+ \\(beacon fresh\\)"), line + armed.err);
        long pid = Long.parseLong(between(line, "pid=", " "));
        ProcessHandle watcher = ProcessHandle.of(pid).orElseThrow();
        try {
            assertTrue(fixture.run("fm-status.java").lines().get(0).startsWith("supervision: ok - this home's watcher pid " + pid),
                    "the pasted arm supervises this home");

            // SLOW (the watcher stopped, its beacon aged): the next step is fm-status again; pasted, it looks at this home.
            new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start().waitFor(30, TimeUnit.SECONDS);
            Files.setLastModifiedTime(state.resolve(".last-watcher-beat"), FileTime.from(Instant.now().minusSeconds(100)));
            String[] graces = {"FM_GUARD_GRACE", "60", "FM_WATCHER_STALE_GRACE", "600"};
            TestKit.Result slow = kit.run(TestKit.command("fm-status.java"), fixture.env(graces), fixture.home, LIMIT);
            assertTrue(slow.lines().get(0).startsWith("supervision: SLOW"), slow.stdout());
            TestKit.Result again = paste(nextCommand(slow.lines()), graces);
            assertEquals(slow.lines().get(0).replaceAll("\\d+s old", "Ns old"), again.lines().get(0).replaceAll("\\d+s old", "Ns old"),
                    again.stdout() + again.stderr());
        } finally {
            new ProcessBuilder("kill", "-CONT", Long.toString(pid)).start().waitFor(30, TimeUnit.SECONDS);
            watcher.destroy();
        }
        assertTrue(TestKit.waitFor(LIMIT, () -> !watcher.isAlive()), "the pasted arm's watcher ends on TERM");
    }

    @Test
    void theOverridesAreHonouredByEveryCommandThatAdvises() throws Exception {
        fixture.set("FM_ARM_COMMAND", "my-arm --here", "FM_DRAIN_COMMAND", "my-drain now");
        Files.writeString(state.resolve("t1.meta"), "kind=ship\n");
        Files.writeString(state.resolve(".wake-queue"), (Instant.now().getEpochSecond() - 5) + "\t1\tcheck\tk1\tcheck: k1\n");
        String g = fixture.run("fm-guard.java").stderr();
        assertTrue(g.contains(MARK + "  Only my-arm --here reports the true state"), g);
        assertTrue(g.contains("WARNING: queued wakes pending - drain them with my-drain now before anything else."), g);
        List<String> s = fixture.run("fm-status.java").lines();
        assertEquals("my-drain now", nextCommand(s));
        TestKit.Result d = fixture.run("fm-wake-drain.java");
        assertTrue(d.stderr().contains("Re-arm it NOW: run my-arm --here as the harness-tracked"), d.stderr());
        s = fixture.run("fm-status.java").lines();
        assertEquals("my-arm --here", nextCommand(s));
    }

    /** The home is the checkout (no FM_HOME): the advice needs no FM_HOME either, only the script's path. */
    @Test
    void inTheDefaultHomeTheAdviceIsTheScriptAlone() throws Exception {
        Path checkout = TestKit.root();
        String g = fixture.run("fm-guard.java").stderr();
        assertEquals("", g);
        Files.writeString(state.resolve("t1.meta"), "kind=ship\n");
        List<String> s = fixture.run("fm-status.java").lines();
        assertEquals("FM_HOME=" + ShellWord.of(fixture.home) + " " + checkout.resolve("fm-watch-arm.java"), nextCommand(s));
        // FM_HOME naming the checkout itself is the default home: nothing in front.
        Map<String, String> env = fixture.env("FM_HOME", checkout.toString(), "FM_STATE_OVERRIDE", state.toString());
        TestKit.Result r = kit.run(TestKit.command("fm-status.java"), env, Path.of("/"), LIMIT);
        assertEquals("FM_STATE_OVERRIDE=" + ShellWord.of(state) + " " + checkout.resolve("fm-watch-arm.java"), nextCommand(r.lines()));
    }
}
