import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * Many arms at once. Forty arms in one home, three rounds in a row: each round leaves exactly
 * one watcher, and the next round starts from the state the last one left. Ten homes armed
 * at once, then `--restart` in each in turn: every restart touches only its own home.
 * CPU-heavy (each JVM start costs about half a CPU-second), so every bound is generous.
 */
class StressTest {
    private static final Duration LINE_LIMIT = Duration.ofSeconds(180);
    @AutoClose private final TestKit kit = new TestKit();

    @Test
    void fortyArmsAtOnceThreeRoundsInARowEachLeaveExactlyOneWatcher() throws Exception {
        TestKit.javaCommand("fm-watch-arm.java");
        TestKit.Home home = home("fm-stress");
        Path state = home.state;
        for (int round = 1; round <= 3; round++) {
            List<TestKit.Lines> arms = new ArrayList<>();
            for (int i = 0; i < 40; i++) arms.add(arm(home));
            List<TestKit.Lines> started = new ArrayList<>();
            int healthy = 0;
            for (TestKit.Lines a : arms) {
                String line = a.next(LINE_LIMIT);
                if (line.startsWith("watcher: started pid=" + a.process.pid() + " ")) {
                    started.add(a);
                } else if (line.matches("watcher: healthy pid=\\d+ \\(beacon \\d+s\\)")) {
                    healthy++;
                } else {
                    fail("round " + round + ": unexpected line '" + line + "'; stderr: " + a.err());
                }
            }
            assertEquals(1, started.size(), "round " + round + ": exactly one arm starts a watcher");
            assertEquals(39, healthy, "round " + round);
            TestKit.Lines watcher = started.get(0);
            for (TestKit.Lines a : arms) {
                String pidText = "pid=" + watcher.process.pid() + " ";
                if (a != watcher) {
                    assertTrue(a.first().contains(pidText), "round " + round + ": healthy names another pid: " + a.first());
                    assertEquals(0, a.exit(Duration.ofSeconds(60)), "round " + round + ": " + a.err());
                }
            }
            assertEquals(1, arms.stream().filter(a -> a.process.isAlive()).count(), "round " + round + ": one live watcher");
            assertEquals(watcher.process.pid(), FmLock.holderPid(state.resolve(".watch.lock")).orElse(-1));

            // End the round the way a crewmate does: a status write wakes the watcher, which exits.
            Path status = Files.writeString(state.resolve("round.status"), "working: round " + round + "\n",
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            assertEquals("signal: " + status, watcher.next(LINE_LIMIT), "round " + round + ": " + watcher.err());
            assertEquals(0, watcher.exit(Duration.ofSeconds(60)), watcher.err());
            assertFalse(Files.exists(state.resolve(".watch.lock"), LinkOption.NOFOLLOW_LINKS), "round " + round);
        }
    }

    @Test
    void tenHomesArmedAtOnceAndEachRestartTouchesOnlyItsOwnHome() throws Exception {
        TestKit.javaCommand("fm-watch-arm.java");
        int homes = 10;
        List<TestKit.Home> dirs = new ArrayList<>();
        List<TestKit.Lines> first = new ArrayList<>();
        for (int i = 0; i < homes; i++) dirs.add(home("fm-home" + i));
        for (TestKit.Home d : dirs) first.add(arm(d));
        long[] watcher = new long[homes];
        for (int i = 0; i < homes; i++) {
            TestKit.Lines a = first.get(i);
            String line = a.next(LINE_LIMIT);
            assertTrue(line.startsWith("watcher: started pid=" + a.process.pid() + " "), "home " + i + ": " + line + a.err());
            watcher[i] = a.process.pid();
        }
        assertEquals(homes, new HashSet<>(pids(dirs)).size(), "one distinct watcher per home");
        assertArrayEquals(watcher, pids(dirs).stream().mapToLong(Long::longValue).toArray());

        List<TestKit.Lines> current = new ArrayList<>(first);
        for (int i = 0; i < homes; i++) {
            TestKit.Lines restart = arm(dirs.get(i), "--restart");
            String line = restart.next(LINE_LIMIT);
            assertTrue(line.startsWith("watcher: started pid=" + restart.process.pid() + " "), "home " + i + ": " + line
                    + restart.err());
            TestKit.Lines old = current.get(i);
            assertTrue(old.process.waitFor(30, TimeUnit.SECONDS), "home " + i + ": --restart left the old watcher alive");
            assertEquals(143, old.process.exitValue(), "the old watcher was stopped with TERM");
            current.set(i, restart);
            watcher[i] = restart.process.pid();
            // Every other home: the same lock pid as before this restart, and that process alive.
            List<Long> now = pids(dirs);
            for (int j = 0; j < homes; j++) {
                assertEquals(watcher[j], now.get(j), "after restarting home " + i + ", home " + j + "'s lock changed");
                assertTrue(current.get(j).process.isAlive(), "after restarting home " + i + ", home " + j + "'s watcher died");
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    /** A home with this class's knobs (a slow-ish poll, a long confirm timeout for 40 starting JVMs). */
    private TestKit.Home home(String prefix) throws IOException {
        return new TestKit.Home(kit, prefix).set(
                "FM_POLL", "0.2",
                "FM_SIGNAL_GRACE", "0.2",
                "FM_HEARTBEAT", "3600",
                "FM_CHECK_INTERVAL", "3600",
                "FM_ARM_CONFIRM_TIMEOUT", "120");
    }

    private static TestKit.Lines arm(TestKit.Home home, String... args) throws IOException {
        return home.lines("fm-watch-arm.java", args);
    }

    private static List<Long> pids(List<TestKit.Home> homes) {
        List<Long> out = new ArrayList<>();
        for (TestKit.Home h : homes) out.add(FmLock.holderPid(h.state.resolve(".watch.lock")).orElse(-1));
        return out;
    }
}
