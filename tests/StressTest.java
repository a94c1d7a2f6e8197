import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Many arms at once. Forty arms in one home, three rounds in a row: each round leaves exactly
 * one watcher, and the next round starts from the state the last one left. Ten homes armed
 * at once, then `--restart` in each in turn: every restart touches only its own home.
 * CPU-heavy (each JVM start costs about half a CPU-second), so every bound is generous.
 */
class StressTest {
    private static final Duration LINE_LIMIT = Duration.ofSeconds(180);
    private final TestKit kit = new TestKit();

    @AfterEach
    void tearDown() {
        kit.close();
    }

    @Test
    void fortyArmsAtOnceThreeRoundsInARowEachLeaveExactlyOneWatcher() throws Exception {
        TestKit.javaCommand("fm-watch-arm.java");
        Path home = kit.tempDir("fm-stress");
        Path state = Files.createDirectories(home.resolve("state"));
        for (int round = 1; round <= 3; round++) {
            List<Arm> arms = new ArrayList<>();
            for (int i = 0; i < 40; i++) arms.add(arm(home));
            List<Arm> started = new ArrayList<>();
            int healthy = 0;
            for (Arm a : arms) {
                String line = a.next();
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
            Arm watcher = started.get(0);
            for (Arm a : arms) {
                String pidText = "pid=" + watcher.process.pid() + " ";
                if (a != watcher) {
                    assertTrue(a.first.contains(pidText), "round " + round + ": healthy names another pid: " + a.first);
                    assertEquals(0, a.exit(), "round " + round + ": " + a.err());
                }
            }
            assertEquals(1, arms.stream().filter(a -> a.process.isAlive()).count(), "round " + round + ": one live watcher");
            assertEquals(watcher.process.pid(), FmLock.holderPid(state.resolve(".watch.lock")).orElse(-1));

            // End the round the way a crewmate does: a status write wakes the watcher, which exits.
            Path status = Files.writeString(state.resolve("round.status"), "working: round " + round + "\n",
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            assertEquals("signal: " + status, watcher.next(), "round " + round + ": " + watcher.err());
            assertEquals(0, watcher.exit(), watcher.err());
            assertFalse(Files.exists(state.resolve(".watch.lock"), LinkOption.NOFOLLOW_LINKS), "round " + round);
        }
    }

    @Test
    void tenHomesArmedAtOnceAndEachRestartTouchesOnlyItsOwnHome() throws Exception {
        TestKit.javaCommand("fm-watch-arm.java");
        int homes = 10;
        List<Path> dirs = new ArrayList<>();
        List<Arm> first = new ArrayList<>();
        for (int i = 0; i < homes; i++) dirs.add(kit.tempDir("fm-home" + i));
        for (Path d : dirs) first.add(arm(d));
        long[] watcher = new long[homes];
        for (int i = 0; i < homes; i++) {
            Arm a = first.get(i);
            String line = a.next();
            assertTrue(line.startsWith("watcher: started pid=" + a.process.pid() + " "), "home " + i + ": " + line + a.err());
            watcher[i] = a.process.pid();
        }
        assertEquals(homes, new HashSet<>(pids(dirs)).size(), "one distinct watcher per home");
        assertArrayEquals(watcher, pids(dirs).stream().mapToLong(Long::longValue).toArray());

        List<Arm> current = new ArrayList<>(first);
        for (int i = 0; i < homes; i++) {
            Arm restart = arm(dirs.get(i), "--restart");
            String line = restart.next();
            assertTrue(line.startsWith("watcher: started pid=" + restart.process.pid() + " "), "home " + i + ": " + line
                    + restart.err());
            Arm old = current.get(i);
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

    /** An arm whose stdout lines are read as they come. */
    private static final class Arm {
        final Process process;
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        final StringBuilder err = new StringBuilder();
        String first;

        Arm(Process p) {
            process = p;
            Thread t = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) lines.add(l);
                } catch (IOException ignored) {
                    // the process is gone
                }
            }, "stress-reader");
            t.setDaemon(true);
            t.start();
            TestKit.pump(p.getErrorStream(), err);
        }

        String next() throws InterruptedException {
            String l = lines.poll(LINE_LIMIT.toMillis(), TimeUnit.MILLISECONDS);
            assertNotNull(l, "no line within " + LINE_LIMIT + "; stderr: " + err());
            if (first == null) first = l;
            return l;
        }

        int exit() throws InterruptedException {
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "arm did not exit; stderr: " + err());
            return process.exitValue();
        }

        String err() {
            synchronized (err) {
                return err.toString();
            }
        }
    }

    private Arm arm(Path home, String... args) throws IOException {
        Map<String, String> env = new HashMap<>();
        env.put("FM_HOME", home.toString());
        env.put("FM_POLL", "0.2");
        env.put("FM_SIGNAL_GRACE", "0.2");
        env.put("FM_HEARTBEAT", "3600");
        env.put("FM_CHECK_INTERVAL", "3600");
        env.put("FM_ARM_CONFIRM_TIMEOUT", "120");
        env.put("TMUX_TMPDIR", home.toString());
        return new Arm(kit.start(TestKit.command("fm-watch-arm.java", args), env, home));
    }

    private static List<Long> pids(List<Path> homes) {
        List<Long> out = new ArrayList<>();
        for (Path h : homes) out.add(FmLock.holderPid(h.resolve("state/.watch.lock")).orElse(-1));
        return out;
    }
}
