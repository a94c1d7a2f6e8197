import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * fm-status's first line names every reason its exit is not 0, and --history lays the cycle
 * ledger out as a table in local time, killed cycles and gaps included.
 */
class StatusHistoryTest {
    private static final Duration LIMIT = Duration.ofSeconds(90);
    private static final long H = 3_600_000L;
    /** A zone with a half-hour offset and no daylight saving: local time cannot pass for UTC by chance. */
    private static final String ZONE = "Asia/Kolkata";

    @AutoClose private final TestKit kit = new TestKit();
    private final TestKit.Home fixture = kit.home("fm-history", TestKit.QUIET, "TZ", ZONE);
    private final Path state = fixture.state;

    private TestKit.Result status(String... args) throws Exception {
        Map<String, String> before = StatusTest.snapshot(state);
        TestKit.Result r = fixture.run("fm-status.java", args);
        assertEquals(before, StatusTest.snapshot(state), "fm-status changed the state directory");
        return r;
    }

    private void queue(int records) throws Exception {
        long then = Instant.now().getEpochSecond() - 20;
        StringBuilder b = new StringBuilder();
        for (int i = 1; i <= records; i++) b.append(then).append('\t').append(i).append("\tcheck\tk").append(i).append("\tcheck: k\n");
        Files.writeString(state.resolve(".wake-queue"), b.toString());
    }

    // ------------------------------------------------------------------ the first line

    @Test
    void theFirstLineSaysWakesAreQueuedWhenTheyAreTheOnlyReasonForExitOne() throws Exception {
        queue(3);
        TestKit.Result idle = status();
        assertEquals(1, idle.exit(), idle.stdout());
        assertTrue(idle.lines().get(0).matches("supervision: idle - no task in flight and no live watcher \\(no lock\\);"
                + " nothing to supervise; 3 wakes queued, drain them"), idle.lines().get(0));
        Map<String, Object> o = StatusTest.Json.object(status("--json").stdout().strip());
        assertEquals(idle.lines().get(0), "supervision: idle - " + o.get("sentence"));

        // One record: singular. A healthy watcher (stopped so that the state stays still) says ok, and the queue.
        queue(1);
        Files.writeString(state.resolve("t1.meta"), "kind=ship\n");
        TestKit.Lines arm = fixture.lines("fm-watch-arm.java");
        long pid = arm.process.pid();
        assertTrue(arm.next(LIMIT).startsWith("watcher: started pid=" + pid), arm.err.toString());
        new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start().waitFor(30, TimeUnit.SECONDS);
        try {
            TestKit.Result ok = status();
            assertEquals(1, ok.exit(), ok.stdout());
            assertTrue(ok.lines().get(0).matches("supervision: ok - this home's watcher pid " + pid + " is healthy \\(beacon \\d+s"
                    + " old\\); 1 task\\(s\\) in flight; 1 wake queued, drain them"), ok.lines().get(0));
        } finally {
            arm.process.destroyForcibly();
        }
        assertTrue(arm.process.waitFor(30, TimeUnit.SECONDS));

        // Nothing queued: the line is as before, with nothing added.
        Files.delete(state.resolve(".wake-queue"));
        Files.delete(state.resolve("t1.meta"));
        TestKit.Result clean = status();
        assertEquals(0, clean.exit(), clean.stdout());
        assertFalse(clean.lines().get(0).contains("queued"), clean.lines().get(0));
    }

    // ------------------------------------------------------------------ --history

    private static String local(long epochMs) {
        return DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").format(
                Instant.ofEpochMilli(epochMs).atZone(ZoneId.of(ZONE)));
    }

    @Test
    void historyIsATableOfCyclesAndGapsInLocalTime() throws Exception {
        long t = (System.currentTimeMillis() / 1000) * 1000;
        long dead = deadPid();
        Process live = kit.sleeper();
        assertTrue(TestKit.waitFor(Duration.ofSeconds(10), () -> FmProc.identity(live.pid()).isPresent()));
        String id = FmProc.identity(live.pid()).orElseThrow();
        List<String> lines = List.of(
                (t - 30 * H) + " start pid=" + dead + " via=arm prev-beat=none id=x",
                (t - 25 * H) + " end pid=" + dead + " how=wake:signal",
                (t - 23 * H) + " start pid=" + dead + " via=watch prev-beat=" + (t - 25 * H) + " id=x",
                // killed: no end; the next cycle found its last beat at t-20h
                (t - 19 * H) + " start pid=" + dead + " via=restart prev-beat=" + (t - 20 * H) + " id=x",
                (t - 19 * H + 1000) + " start pid=" + live.pid() + " via=arm prev-beat=" + (t - 19 * H) + " id=" + id,
                (t - 19 * H + 1000) + " end pid=" + live.pid() + " how=refused",
                (t - 2 * H) + " end pid=" + dead + " how=signal:TERM",
                (t - 90 * 60_000L) + " start pid=" + live.pid() + " via=arm prev-beat=" + (t - 2 * H) + " id=" + id);
        Files.writeString(state.resolve(Ledger.NAME), String.join("\n", lines) + "\n");

        TestKit.Result r = status("--history");
        assertEquals(0, r.exit(), r.stdout() + r.stderr());
        List<String> l = r.lines();
        assertEquals("history: the last 5 of 5 cycle(s) in " + state.resolve(Ledger.NAME) + ", times in " + ZONE, l.get(0));
        assertTrue(l.get(1).matches("start +end +ran +pid +via +ended"), l.get(1));
        List<String> rows = l.subList(2, l.size());
        assertEquals(8, rows.size(), String.join("\n", l));
        assertRow(rows.get(0), local(t - 30 * H), local(t - 25 * H), "5h00m", dead + "", "arm", "wake:signal");
        assertRow(rows.get(1), local(t - 25 * H), local(t - 23 * H), "2h00m", "-", "-", "gap: nothing supervised");
        assertRow(rows.get(2), local(t - 23 * H), local(t - 20 * H), "3h00m", dead + "", "watch",
                "killed (no end recorded; end is its last sign of life)");
        assertRow(rows.get(3), local(t - 20 * H), local(t - 19 * H), "1h00m", "-", "-", "gap: nothing supervised");
        assertRow(rows.get(4), local(t - 19 * H), local(t - 2 * H), "17h00m", dead + "", "restart", "signal:TERM");
        assertRow(rows.get(5), local(t - 19 * H + 1000), local(t - 19 * H + 1000), "0s", live.pid() + "", "arm",
                "refused (another watcher held the lock)");
        assertRow(rows.get(6), local(t - 2 * H), local(t - 90 * 60_000L), "30m00s", "-", "-", "gap: nothing supervised");
        assertTrue(rows.get(7).startsWith(local(t - 90 * 60_000L) + "  now "), rows.get(7));
        assertTrue(rows.get(7).matches(".*  1h3\\dm +" + live.pid() + " +arm +running"), rows.get(7));

        // The last two cycles only: the gap before the first of them is not shown.
        List<String> two = status("--history", "2").lines();
        assertEquals("history: the last 2 of 5 cycle(s) in " + state.resolve(Ledger.NAME) + ", times in " + ZONE, two.get(0));
        assertEquals(5, two.size(), String.join("\n", two));
        assertTrue(two.get(2).contains("refused"), two.get(2));
        assertTrue(two.get(3).contains("gap: nothing supervised"), two.get(3));
        assertTrue(two.get(4).contains("running"), two.get(4));

        Map<String, Object> o = StatusTest.Json.object(status("--history", "2", "--json").stdout().strip());
        assertEquals(ZONE, o.get("zone"));
        assertEquals(5.0, o.get("total"));
        List<?> jrows = (List<?>) o.get("rows");
        assertEquals(3, jrows.size(), o.toString());
        Map<?, ?> gap = (Map<?, ?>) jrows.get(1);
        assertEquals("gap", gap.get("kind"));
        assertEquals(1800.0, gap.get("seconds"));
        assertEquals(Instant.ofEpochMilli(t - 2 * H).atZone(ZoneId.of(ZONE)).toOffsetDateTime().toString(), gap.get("start"));
        Map<?, ?> running = (Map<?, ?>) jrows.get(2);
        assertEquals("cycle", running.get("kind"));
        assertEquals("running", running.get("ended"));
        assertNull(running.get("end"));
        assertEquals((double) live.pid(), running.get("pid"));
    }

    @Test
    void historyOfAHomeWhoseWatcherIsGoneEndsWithTheGapGoingOnNow() throws Exception {
        long t = System.currentTimeMillis();
        long dead = deadPid();
        Files.writeString(state.resolve(Ledger.NAME), (t - 3 * H) + " start pid=" + dead + " via=arm prev-beat=none id=x\n"
                + (t - 10 * 60_000L) + " end pid=" + dead + " how=wake:check\n");
        List<String> l = status("--history").lines();
        assertEquals(4, l.size(), String.join("\n", l));
        assertTrue(l.get(3).matches(".*  now +10m\\d\\ds +- +- +gap: unsupervised now"), l.get(3));

        Files.delete(state.resolve(Ledger.NAME));
        TestKit.Result none = status("--history");
        assertEquals(0, none.exit());
        assertEquals(List.of("history: no cycle recorded yet in " + state.resolve(Ledger.NAME)), none.lines());
    }

    @Test
    void historyArgumentsAreChecked() throws Exception {
        for (String bad : List.of("0", "-3", "x")) {
            TestKit.Result r = fixture.run("fm-status.java", "--history", bad);
            assertEquals(2, r.exit(), bad + ": " + r.stdout() + r.stderr());
            assertEquals("", r.stdout());
        }
        TestKit.Result help = fixture.run("fm-status.java", "--help");
        assertTrue(help.stdout().contains("--history [N]"), help.stdout());
    }

    private static void assertRow(String row, String... cells) {
        String[] got = row.trim().split(" {2,}");
        assertEquals(List.of(cells), List.of(got), row);
    }

    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return p.pid();
    }
}
