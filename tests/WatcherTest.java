import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The wakes of fm-watch.java (docs/watcher.md "Each poll"): signals, checks, heartbeat, the
 * ordering rule of docs/state.md, and garbage tolerance. Every test runs the real script as a
 * subprocess against a temporary home ({@link TestKit.Home} with the knobs of {@link #rig}, which
 * WatcherLockTest shares).
 */
class WatcherTest {
    private static final Duration RUN_LIMIT = Duration.ofSeconds(60);

    @AutoClose private final TestKit kit = new TestKit();
    private TestKit.Home rig;

    @BeforeEach
    void setUp() throws IOException { rig = rig(kit); }

    // ------------------------------------------------------------------ signals

    @Test
    void signalListsOnlyChangedFilesAndRecordsThemBeforeTheMarkers() throws Exception {
        Path changed = rig.write("task.status", "working: on it\n");
        Path quiet = rig.write("other.turn-ended", "");
        rig.write(".seen-other_turn-ended", signature(quiet)); // already reported

        TestKit.Result r = rig.run("fm-watch.java");

        assertEquals(0, r.exit(), r.stderr());
        assertEquals("signal: " + changed + "\n", r.stdout());
        assertEquals(List.of(List.of("1", "signal", "task.status", "signal: " + changed)), rig.records());
        assertEquals(signature(changed), rig.read(".seen-task_status"), "size:mtime, no trailing newline");
        assertEquals("0\n", rig.read(".heartbeat-streak"));
        rig.assertNoLockLeft();
    }

    @Test
    void aSignalWrittenWhileNoWatcherRanIsCaughtByTheNextOne() throws Exception {
        Path status = rig.write("job.status", "working: a\n");
        assertEquals("signal: " + status + "\n", rig.run("fm-watch.java").stdout());
        // No watcher runs now; the crewmate reports again.
        Files.writeString(status, "done: b\n", StandardOpenOption.APPEND);

        TestKit.Result r = rig.run("fm-watch.java");

        assertEquals(0, r.exit(), r.stderr());
        assertEquals("signal: " + status + "\n", r.stdout());
        assertEquals(signature(status), rig.read(".seen-job_status"));
        assertEquals(2, rig.records().size());
    }

    @Test
    void signalsWithinTheGraceCoalesceIntoOneWakeInFirstSeenOrder() throws Exception {
        rig.env.put("FM_SIGNAL_GRACE", "10");
        Process p = rig.start("fm-watch.java");
        awaitPolling(rig, p);
        // Name order would put a.turn-ended first; first-seen order puts z.status first.
        Path status = rig.write("z.status", "working: x\n");
        // The scenario: a second signal while the watcher lingers over the first.
        assertTrue(TestKit.waitFor(RUN_LIMIT, () -> !p.isAlive() || TestKit.mainThreadIn(p.pid(), "Watcher.linger")),
                "the watcher never lingered over z.status");
        Path turn = rig.write("a.turn-ended", "");
        assertTrue(TestKit.mainThreadIn(p.pid(), "Watcher.linger"), "the linger ended before the second signal was written");

        TestKit.Result r = TestKit.finish(p, RUN_LIMIT);

        assertEquals(0, r.exit(), r.stderr());
        String line = "signal: " + status + " " + turn;
        assertEquals(line + "\n", r.stdout());
        assertEquals(List.of(List.of("1", "signal", "z.status", line), List.of("2", "signal", "a.turn-ended", line)),
                rig.records());
        assertEquals(signature(status), rig.read(".seen-z_status"));
        assertEquals(signature(turn), rig.read(".seen-a_turn-ended"));
    }

    @Test
    void aSymlinkedStatusIsJudgedByItsTargetEveryTime() throws Exception {
        Path target = kit.tempDir("fm-mount").resolve("real.status");
        Files.writeString(target, "working: 1\n");
        Path link = rig.state.resolve("boxed.status");
        Files.createSymbolicLink(link, target);

        assertEquals("signal: " + link + "\n", rig.run("fm-watch.java").stdout());
        assertEquals(signature(target), rig.read(".seen-boxed_status"));

        Files.writeString(target, "working: 2, a longer line\n", StandardOpenOption.APPEND);
        TestKit.Result second = rig.run("fm-watch.java");

        assertEquals(0, second.exit(), second.stderr());
        assertEquals("signal: " + link + "\n", second.stdout());
        assertEquals(signature(target), rig.read(".seen-boxed_status"));
    }

    @Test
    void aFailedSignalAppendLeavesTheSeenMarkerAndExitsOne() throws Exception {
        rig.write("task.status", "working\n");
        Files.createDirectory(rig.state.resolve(".wake-queue")); // the append cannot open it
        rig.write(".heartbeat-streak", "3\n");

        TestKit.Result r = rig.run("fm-watch.java");

        assertEquals(1, r.exit());
        assertEquals("", r.stdout());
        assertOneErrorLine(r, ".wake-queue");
        assertFalse(Files.exists(rig.state.resolve(".seen-task_status")), "marker must not move before the append");
        assertEquals("3\n", rig.read(".heartbeat-streak"), "the streak is a marker too");
        rig.assertNoLockLeft();
    }

    @Test
    void aSignalFileThatIsADirectoryOrDanglingIsSkipped() throws Exception {
        Files.createDirectory(rig.state.resolve("dir.status"));
        Files.createSymbolicLink(rig.state.resolve("gone.turn-ended"), rig.state.resolve("nowhere"));
        Path real = rig.write("real.status", "x\n");

        TestKit.Result r = rig.run("fm-watch.java");

        assertEquals("signal: " + real + "\n", r.stdout(), r.stderr());
        assertNoStackTrace(r);
    }

    @Test
    void aChangeWakesLongBeforeTheNextPollThanksToTheFileWatch() throws Exception {
        rig.env.put("FM_POLL", "60");
        rig.env.put("FM_SIGNAL_GRACE", "0");
        Process p = rig.start("fm-watch.java");
        awaitPolling(rig, p);
        // Past the first poll's scan, waiting for the next one: only the file watch can notice now.
        assertTrue(TestKit.waitFor(RUN_LIMIT, () -> !p.isAlive() || TestKit.mainThreadIn(p.pid(), "Watcher.betweenPolls")),
                "the watcher never finished its first poll");
        long before = System.nanoTime();
        Path status = rig.write("fast.status", "done\n");

        TestKit.Result r = TestKit.finish(p, Duration.ofSeconds(20));
        long tookMs = (System.nanoTime() - before) / 1_000_000;

        assertEquals("signal: " + status + "\n", r.stdout(), r.stderr());
        assertTrue(tookMs < 40_000, "woke after " + tookMs + " ms with FM_POLL=60");
    }

    // ------------------------------------------------------------------ checks

    @Test
    void theFirstCheckWithOutputWakesWithItsOutputOnOneLine() throws Exception {
        Path quiet = rig.write("a.check.sh", "touch \"$0.ran\"\n");
        Path talks = rig.write("b.check.sh", "printf 'merged: yes\\nsecond\\tline\\n\\n\\n'\n");
        rig.write("c.check.sh", "echo never reached; touch \"$0.ran\"\n");

        TestKit.Result r = rig.run("fm-watch.java");

        String line = "check: " + talks + ": merged: yes second line";
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(line + "\n", r.stdout());
        assertTrue(Files.exists(Path.of(quiet + ".ran")), "a.check.sh ran first");
        assertFalse(Files.exists(rig.state.resolve("c.check.sh.ran")), "the sweep stops at the first output");
        assertEquals(List.of(List.of("1", "check", talks.toString(), line)), rig.records());
        assertTrue(Files.exists(rig.state.resolve(".last-check")));
        assertEquals("0\n", rig.read(".heartbeat-streak"));
    }

    @Test
    void aHungCheckIsKilledWithItsChildrenWhileTheBeaconStaysFresh() throws Exception {
        Path childPid = rig.home.resolve("child.pid");
        rig.write("a.check.sh", "sleep 300 &\necho $! > '" + childPid + "'\nwait\n");
        Path next = rig.write("b.check.sh", "echo after\n");
        rig.env.put("FM_CHECK_TIMEOUT", "5");
        rig.env.put("FM_BEACON_MAX_AGE", "1");

        Process p = rig.start("fm-watch.java");
        assertTrue(TestKit.waitFor(Duration.ofSeconds(30), () -> Files.exists(childPid)), "the check started");
        double worst = 0;
        while (p.isAlive()) {
            worst = Math.max(worst, ageSeconds(rig, ".last-watcher-beat"));
            Thread.sleep(100);
        }
        TestKit.Result r = TestKit.finish(p, RUN_LIMIT);

        assertEquals("check: " + next + ": after\n", r.stdout(), r.stderr());
        long child = Long.parseLong(Files.readString(childPid).strip());
        assertTrue(TestKit.waitFor(Duration.ofSeconds(5), () -> ProcessHandle.of(child).isEmpty()
                || !ProcessHandle.of(child).get().isAlive()), "the check's child was killed too");
        assertTrue(worst <= 2.0, "beacon reached " + worst + " s during a 5 s check with FM_BEACON_MAX_AGE=1");
    }

    @Test
    void aCheckPrintingAHundredMegabytesIsCapped() throws Exception {
        Path chatty = rig.write("big.check.sh", "head -c 104857600 /dev/zero | tr '\\0' a\n");

        TestKit.Result r = rig.run("fm-watch.java");

        assertEquals(0, r.exit(), r.stderr());
        String prefix = "check: " + chatty + ": aaaa";
        assertTrue(r.stdout().startsWith(prefix), r.stdout().substring(0, Math.min(200, r.stdout().length())));
        assertTrue(r.stdout().length() <= 64 * 1024 + prefix.length() + 1, "line of " + r.stdout().length() + " chars");
    }

    @Test
    void checksWaitForTheirInterval() throws Exception {
        rig.write("a.check.sh", "touch \"$0.ran\"; echo due\n");
        rig.write(".last-check", "");
        rig.env.put("FM_CHECK_INTERVAL", "3600");
        rig.env.put("FM_HEARTBEAT", "1");

        TestKit.Result r = rig.run("fm-watch.java");

        assertEquals("heartbeat\n", r.stdout(), r.stderr());
        assertFalse(Files.exists(rig.state.resolve("a.check.sh.ran")), "a fresh .last-check skips the sweep");
    }

    @Test
    void aFailedCheckAppendLeavesLastCheckWhereItWas() throws Exception {
        rig.write("a.check.sh", "echo ready\n");
        Path lastCheck = rig.write(".last-check", "");
        FileTime old = FileTime.from(Instant.now().minusSeconds(7200));
        Files.setLastModifiedTime(lastCheck, old);
        Files.createDirectory(rig.state.resolve(".wake-queue"));
        rig.env.put("FM_CHECK_INTERVAL", "60");

        TestKit.Result r = rig.run("fm-watch.java");

        assertEquals(1, r.exit());
        assertEquals("", r.stdout());
        assertOneErrorLine(r, ".wake-queue");
        assertEquals(old, Files.getLastModifiedTime(lastCheck), ".last-check moved although nothing was queued");
        rig.assertNoLockLeft();
    }

    // ------------------------------------------------------------------ heartbeat

    @Test
    void heartbeatBacksOffDoublingUpToTheCap() throws Exception {
        rig.env.put("FM_HEARTBEAT", "1");
        rig.env.put("FM_HEARTBEAT_MAX", "3");
        Path last = rig.write(".last-heartbeat", "");
        // streak 0, 1, 2 -> intervals 1, 2, min(4, 3) = 3.
        double[] expected = {1, 2, 3};
        for (int i = 0; i < expected.length; i++) {
            Instant before = Files.getLastModifiedTime(last).toInstant();
            TestKit.Result r = rig.run("fm-watch.java");
            assertEquals("heartbeat\n", r.stdout(), r.stderr());
            double gap = seconds(before, Files.getLastModifiedTime(last).toInstant());
            assertTrue(gap >= expected[i] - 0.05, "heartbeat " + (i + 1) + " fired after " + gap + " s, before " + expected[i]);
            assertEquals((i + 1) + "\n", rig.read(".heartbeat-streak"));
        }
        // A long streak would mean 2^9 s; the cap keeps it at 3.
        rig.write(".heartbeat-streak", "9\n");
        Instant before = Files.getLastModifiedTime(last).toInstant();
        TestKit.Result r = rig.run("fm-watch.java");
        double gap = seconds(before, Files.getLastModifiedTime(last).toInstant());
        assertEquals("heartbeat\n", r.stdout(), r.stderr());
        assertTrue(gap >= 2.95 && gap < 30, "capped heartbeat fired after " + gap + " s");
        assertEquals("10\n", rig.read(".heartbeat-streak"));
        assertEquals(4, rig.records().size());
        assertEquals(List.of("4", "heartbeat", "heartbeat", "heartbeat"), rig.records().get(3));
    }

    @Test
    void aBackedOffHeartbeatDoesNotFireEarly() throws Exception {
        // streak 3 with base 2 and cap 5: min(16, 5) = 5 s. Not 2 (no back-off), not 16 (no cap);
        // the upper bound leaves a loaded machine seconds of JVM start-up.
        rig.env.put("FM_HEARTBEAT", "2");
        rig.env.put("FM_HEARTBEAT_MAX", "5");
        rig.write(".heartbeat-streak", "3\n");
        Path last = rig.write(".last-heartbeat", "");
        Instant t0 = Instant.now();
        Files.setLastModifiedTime(last, FileTime.from(t0));

        TestKit.Result r = rig.run("fm-watch.java");
        double fired = seconds(t0, Files.getLastModifiedTime(last).toInstant());

        assertEquals("heartbeat\n", r.stdout(), r.stderr());
        assertTrue(fired >= 4.95 && fired < 12, "fired " + fired + " s after the last heartbeat");
        assertEquals("4\n", rig.read(".heartbeat-streak"));
    }

    @Test
    void anyOtherWakeResetsTheStreak() throws Exception {
        rig.write(".heartbeat-streak", "5\n");
        rig.write("t.turn-ended", "");

        TestKit.Result r = rig.run("fm-watch.java");

        assertTrue(r.stdout().startsWith("signal: "), r.stdout() + r.stderr());
        assertEquals("0\n", rig.read(".heartbeat-streak"));
    }

    // ------------------------------------------------------------------ panes (the seam only)

    @Test
    void aStalePaneWakeIsQueuedMarkedAndResetsTheStreak() throws Exception {
        Path fake = kit.tempDir("fm-fake-tmux");
        Files.writeString(fake.resolve("idle"), "$ waiting for input\n");
        Files.writeString(fake.resolve("steps"), "frame idle\n");
        rig.env.put("PATH", TestKit.root().resolve("tests/helpers/fake-tmux") + ":/usr/local/bin:/usr/bin:/bin");
        rig.env.put("FAKE_TMUX_DIR", fake.toString());
        rig.write("t.meta", "window=fleet:w\n");
        rig.write(".heartbeat-streak", "4\n");

        TestKit.Result r = rig.run("fm-watch.java");

        assertEquals(0, r.exit(), r.stderr());
        assertEquals("stale: fleet:w\n", r.stdout());
        assertEquals(List.of(List.of("1", "stale", "fleet:w", "stale: fleet:w")), rig.records());
        assertTrue(Files.exists(rig.state.resolve(".stale-fleet_w")), "the pane's marker follows the append");
        assertEquals("0\n", rig.read(".heartbeat-streak"));
    }

    // ------------------------------------------------------------------ robustness

    @Test
    void garbageInEveryStateFileReadsAsDefaults() throws Exception {
        rig.write(".heartbeat-streak", "zz\u0000\n");
        rig.write(".wake-queue.seq", "not a number\n");
        Path status = rig.write("x.status", "working\n");
        rig.write(".seen-x_status", "junk");
        rig.write("task.meta", "kind=ship\nnonsense without equals\n");
        rig.write(".hash-fleet_w", "\u0001\u0002");
        rig.write(".count-fleet_w", "many");
        rig.write(".stale-fleet_w", "");
        rig.write(".last-check", "garbage");
        rig.write(".last-heartbeat", "garbage");
        rig.write(".last-watcher-beat", "garbage");
        Files.createDirectory(rig.state.resolve("z.check.sh"));
        rig.env.put("FM_CHECK_TIMEOUT", "soon");

        TestKit.Result first = rig.run("fm-watch.java");

        assertEquals(0, first.exit(), first.stderr());
        assertEquals("signal: " + status + "\n", first.stdout());
        assertEquals("1", rig.records().get(0).get(0), "a garbled sequence file counts from 0");
        assertNoStackTrace(first);
        assertTrue(first.stderr().contains("FM_CHECK_TIMEOUT"), "a bad knob is named: " + first.stderr());

        rig.write(".heartbeat-streak", "-4\n");
        rig.env.put("FM_HEARTBEAT", "1");
        Files.setLastModifiedTime(rig.state.resolve(".last-heartbeat"), FileTime.from(Instant.now().minusSeconds(5)));
        TestKit.Result second = rig.run("fm-watch.java");

        assertEquals("heartbeat\n", second.stdout(), second.stderr());
        assertEquals("1\n", rig.read(".heartbeat-streak"), "garbage streak reads as 0");
        assertNoStackTrace(second);
    }

    @Test
    void pollZeroDoesNotSpin() throws Exception {
        rig.env.put("FM_POLL", "0");
        Process p = rig.start("fm-watch.java");
        awaitPolling(rig, p);
        Thread.sleep(500); // past start-up compilation
        Duration cpu0 = p.toHandle().info().totalCpuDuration().orElseThrow();
        long t0 = System.nanoTime();
        Thread.sleep(3000); // the measurement window itself
        Duration cpu1 = p.toHandle().info().totalCpuDuration().orElseThrow();
        double wall = (System.nanoTime() - t0) / 1e9;
        double used = cpu1.minus(cpu0).toMillis() / 1000.0;
        assertTrue(p.isAlive());
        assertTrue(used < 0.35 * wall, "watcher used " + used + " s CPU in " + wall + " s with FM_POLL=0");
    }

    // ------------------------------------------------------------------ helpers

    static double seconds(Instant from, Instant to) {
        return Duration.between(from, to).toNanos() / 1e9;
    }

    static void assertNoStackTrace(TestKit.Result r) {
        assertFalse(r.stderr().contains("Exception") || r.stderr().contains("\tat "), r.stderr());
    }

    static void assertOneErrorLine(TestKit.Result r, String mentions) {
        String[] lines = r.stderr().split("\n");
        assertEquals(1, lines.length, r.stderr());
        assertTrue(lines[0].startsWith("watcher: ") && lines[0].contains(mentions), r.stderr());
        assertNoStackTrace(r);
    }

    /** A temporary home with short knobs, and the ways to run the watcher against it. */
    static TestKit.Home rig(TestKit kit) throws IOException {
        return new TestKit.Home(kit, "fm-watch").limit(RUN_LIMIT).set(
                "FM_POLL", "0.2",
                "FM_SIGNAL_GRACE", "1",
                "FM_HEARTBEAT", "3600",
                "FM_HEARTBEAT_MAX", "7200");
    }

    /** The watcher has finished its first check sweep, so it is inside the poll loop. */
    static void awaitPolling(TestKit.Home rig, Process p) {
        assertTrue(TestKit.waitFor(RUN_LIMIT, () -> Files.exists(rig.state.resolve(".last-check")) || !p.isAlive()));
        assertTrue(p.isAlive(), "the watcher exited early");
    }

    /** Seconds since {@code name} in the state directory was last modified (huge when it is missing). */
    static double ageSeconds(TestKit.Home rig, String name) {
        try {
            return seconds(Files.getLastModifiedTime(rig.state.resolve(name)).toInstant(), Instant.now());
        } catch (IOException e) {
            return Double.MAX_VALUE;
        }
    }

    /** What the watcher records for a file it has reported: size:mtime-seconds. */
    static String signature(Path file) throws IOException {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        return a.size() + ":" + a.lastModifiedTime().to(TimeUnit.SECONDS);
    }
}
