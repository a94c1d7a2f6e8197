import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Pane captures through a tmux stand-in that runs only the first command of a call and ignores
 * the rest, as firstmate's own test doubles do (tests/helpers/fake-tmux-first/tmux). A batched call
 * then succeeds with no separator at all; the watcher must switch to one capture per call and
 * judge every window, not count them blind.
 */
class PanesStandInTest {
    private static final Path STAND_IN = TestKit.root().resolve("tests/helpers/fake-tmux-first");
    private static final String BLIND = " (pane unreadable - ";

    @AutoClose private final TestKit kit = new TestKit();
    private TestKit.Home fixture;
    private Path home;
    private Path state;
    private Path fake;

    @BeforeEach
    void setUp() throws IOException {
        fake = kit.tempDir("fm-standin-tmux");
        // The stand-in first on PATH, answering from the frames in FAKE_TMUX_DIR.
        fixture = new TestKit.Home(kit, "fm-standin").set("FAKE_TMUX_DIR", fake.toString(), "PATH", STAND_IN + ":/usr/local/bin:/usr/bin:/bin");
        home = fixture.home;
        state = fixture.state;
        Files.writeString(state.resolve("a.meta"), "window=fleet:a\n");
        Files.writeString(state.resolve("b.meta"), "window=fleet:b\n");
        Files.writeString(state.resolve("c.meta"), "window=fleet:c\n");
        Files.writeString(fake.resolve("pane-fleet_a"), "agent a waiting for input\n> \n");
        Files.writeString(fake.resolve("pane-fleet_b"), "agent b waiting\n");
        Files.writeString(fake.resolve("pane-fleet_c"), "agent c\n  esc to interrupt\n"); // busy: never stale
    }

    @Test
    void everyWindowIsJudgedAndNoneCountedBlind() throws Exception {
        // Poll 1 sees the first capture of each window; polls 2 and 3 repeat it: a is stale at 3,
        // then b (a stays reported); c shows a busy footer throughout.
        TestKit.Result r = kit.run(TestKit.command("tests/helpers/panes-poll.java", "5"), fixture.env(), null, Duration.ofSeconds(120));
        assertEquals(0, r.exit(), r.stdout() + r.stderr());
        List<String> wakes = new ArrayList<>();
        for (String line : r.lines()) if (line.startsWith("wake ") || line.equals("none")) wakes.add(line);
        assertEquals(List.of("none", "none", "wake stale: fleet:a", "wake stale: fleet:b", "none"), wakes, r.stdout());
        for (String key : List.of("fleet_a", "fleet_b", "fleet_c")) {
            assertFalse(Files.exists(state.resolve(".blind-" + key)), "window " + key + " was counted blind");
            assertTrue(Files.exists(state.resolve(".hash-" + key)), "window " + key + " was never judged");
        }
        // The first call was the batched sequence; every later one captured exactly one window.
        List<String> calls = Files.readAllLines(fake.resolve("calls"));
        assertTrue(calls.get(0).contains(" ; display-message "), calls.get(0));
        for (String call : calls.subList(1, calls.size())) {
            assertTrue(call.matches("capture-pane -p -t fleet:[abc] -S -40"), "not one window per call: " + call);
        }
    }

    @Test
    void theWatcherReportsAStalePaneNotAnUnreadableOne() throws Exception {
        Map<String, String> env = fixture.env();
        env.put("FM_POLL", "0.2");
        env.put("FM_HEARTBEAT", "100000");
        env.put("FM_HEARTBEAT_MAX", "100000");
        TestKit.Result r = kit.run(TestKit.command("fm-watch.java"), env, home, Duration.ofSeconds(120));
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("stale: fleet:a\n", r.stdout());
        assertFalse(r.stdout().contains(BLIND));
    }
}
