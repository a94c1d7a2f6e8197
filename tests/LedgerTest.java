import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The cycle ledger (lib/Ledger.java): its line format, how starts pair with ends, the gap
 * figures, the cap, and the end line every real way a cycle ends writes: a wake, a refusal, an
 * eviction, TERM/INT/HUP by name. A ledger that is garbage, a directory, a FIFO or a link to
 * someone else's file never breaks a watcher and is never written through.
 */
class LedgerTest {
    private static final Duration LIMIT = Duration.ofSeconds(90);
    private static final long H = TimeUnit.HOURS.toMillis(1);

    @AutoClose private final TestKit kit = new TestKit();
    private final TestKit.Home fixture = kit.home("fm-ledger", TestKit.QUIET);
    private final Path home = fixture.home;
    private final Path state = fixture.state;

    private Path ledger() { return state.resolve(Ledger.NAME); }

    private List<String> lines() throws IOException {
        return Files.readAllLines(ledger(), StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------ the format

    @Test
    void parsesItsOwnLinesAndNothingElse() {
        Ledger.Entry s = Ledger.parse("1700000000123 start pid=42 via=replace:7 prev-beat=1699999999000"
                + " id=fm-java-1 pid=42 start=99 exe=/opt/a b/java");
        assertEquals(new Ledger.Entry(1700000000123L, 42, "replace:7", 1699999999000L,
                "fm-java-1 pid=42 start=99 exe=/opt/a b/java", null), s);
        assertEquals(new Ledger.Entry(1, 42, "arm", null, "unknown", null),
                Ledger.parse("1 start pid=42 via=arm prev-beat=none id=unknown"));
        for (String how : List.of("wake:signal", "wake:heartbeat", "evicted", "signal:TERM", "refused", "unconfirmed", "error")) {
            assertEquals(how, Ledger.parse("5 end pid=42 how=" + how).how(), how);
        }
        for (String bad : List.of("", "garbage", "5 start pid=42 via=arm prev-beat=none", "x5 end pid=42 how=error",
                "5 end pid=0 how=error", "5 end pid=-4 how=error", "5 end pid=42 how=exploded", "5 end pid=42",
                "5 end pid=42 how=error\0", "5 end pid=42 how=error\r", "5 middle pid=42 how=error",
                "5 start pid=42 via=cron prev-beat=none id=x", "5 start pid=42 via=arm prev-beat=soon id=x",
                "5 end pid=42 how=error id=x", "1234567890123456 end pid=42 how=error")) {
            assertNull(Ledger.parse(bad), bad);
        }
    }

    /** Real processes decide running versus killed: alive with its identity, dead, or a reused pid. */
    @Test
    void startsPairWithEndsAndUnendedOnesAreRunningOrKilled() throws Exception {
        long t = System.currentTimeMillis();
        long dead = deadPid();
        Process live = kit.sleeper();
        Process other = kit.sleeper();
        assertTrue(TestKit.waitFor(Duration.ofSeconds(10),
                () -> FmProc.identity(live.pid()).isPresent() && FmProc.identity(other.pid()).isPresent()));
        String liveId = FmProc.identity(live.pid()).orElseThrow();
        // What a process that had other's pid before would have written: same pid, another start.
        String reusedId = FmProc.identity(other.pid()).orElseThrow().replaceAll("ticks=[0-9]+", "ticks=12345");
        List<Ledger.Entry> entries = parseAll(
                (t - 10 * H) + " start pid=" + dead + " via=watch prev-beat=none id=x",
                (t - 9 * H) + " end pid=" + dead + " how=wake:stale",
                (t - 8 * H) + " start pid=" + dead + " via=arm prev-beat=" + (t - 9 * H) + " id=x",
                // no end and a dead pid: killed; the next cycle that held the lock found the beacon at t-7h
                // (the refused start in between says nothing about it)
                (t - 6 * H) + " start pid=" + live.pid() + " via=watch prev-beat=" + (t - 5 * H) + " id=" + liveId,
                (t - 6 * H) + " end pid=" + live.pid() + " how=refused",
                (t - 5 * H) + " start pid=" + other.pid() + " via=restart prev-beat=" + (t - 7 * H) + " id=" + reusedId,
                // no end, and its pid now names another process: killed; the next cycle found the beacon at t-4h
                (t - 3 * H) + " end pid=99999999 how=error", // its start was trimmed away
                (t - 2 * H) + " start pid=" + live.pid() + " via=arm prev-beat=" + (t - 4 * H) + " id=" + liveId);
        long now = t;
        List<Ledger.Cycle> cycles = Ledger.cycles(entries, now, Optional.of(Instant.ofEpochMilli(t - 30 * 60_000L)));
        assertEquals(List.of(
                new Ledger.Cycle(t - 10 * H, dead, "watch", "wake:stale", t - 9 * H),
                new Ledger.Cycle(t - 8 * H, dead, "arm", "killed", t - 7 * H),
                new Ledger.Cycle(t - 6 * H, live.pid(), "watch", "refused", t - 6 * H),
                new Ledger.Cycle(t - 5 * H, other.pid(), "restart", "killed", t - 4 * H),
                new Ledger.Cycle(t - 2 * H, live.pid(), "arm", "running", now)), cycles);

        // Gaps over [t-24h, t]: 9h->8h, 7h->5h, 4h->2h; the refused cycle covers nothing.
        Ledger.Gaps g = Ledger.gaps(cycles, t - 24 * H, now, false);
        assertEquals(new Ledger.Gaps(t - 10 * H, 3, 5 * H, 2 * H, 0), g);
        // A window that starts inside a gap counts only its part of it; nothing before the first record.
        assertEquals(new Ledger.Gaps(t - 7 * H + 1, 2, 4 * H - 1, 2 * H, 0), Ledger.gaps(cycles, t - 7 * H + 1, now, false));
    }

    @Test
    void theGapStillGoingOnIsCountedUnlessAWatcherHoldsTheLock() {
        long t = System.currentTimeMillis();
        long dead = deadPid();
        List<Ledger.Entry> entries = parseAll((t - 2 * H) + " start pid=" + dead + " via=arm prev-beat=none id=x",
                (t - H) + " end pid=" + dead + " how=wake:signal");
        List<Ledger.Cycle> cycles = Ledger.cycles(entries, t, Optional.empty());
        assertEquals(new Ledger.Gaps(t - 2 * H, 1, H, H, H), Ledger.gaps(cycles, t - 24 * H, t, false));
        assertEquals(new Ledger.Gaps(t - 2 * H, 0, 0, 0, 0), Ledger.gaps(cycles, t - 24 * H, t, true));
    }

    @Test
    void aTrimKeepsTheNewestWholeLinesAndRemovesADeadTrimsLeftover() throws Exception {
        StringBuilder sb = new StringBuilder();
        int i = 0;
        while (sb.length() <= Ledger.CAP + 10_000) {
            sb.append(1_000_000 + i).append(" end pid=4").append(" how=evicted ").append("#".repeat(i % 50)).append('\n');
            i++;
        }
        Files.writeString(ledger(), sb);
        Path leftover = Files.writeString(state.resolve(Ledger.NAME + ".tmp." + deadPid()), "half a trim");
        String newest = sb.substring(sb.lastIndexOf("\n", sb.length() - 2) + 1, sb.length() - 1);
        Ledger.trim(ledger());
        long size = Files.size(ledger());
        assertTrue(size <= Ledger.KEEP && size > Ledger.KEEP - 200, "size " + size);
        List<String> kept = lines();
        assertEquals(newest, kept.get(kept.size() - 1));
        assertNotNull(Ledger.parse(kept.get(0)), "the first kept line is whole: " + kept.get(0));
        assertTrue(sb.toString().endsWith(String.join("\n", kept) + "\n"), "exactly the newest lines, unchanged");
        assertFalse(Files.exists(leftover), "a dead trim's temporary file is removed");
        assertEquals(List.of(Ledger.NAME), names());
        // Under the cap nothing changes at all.
        long mtime = Files.getLastModifiedTime(ledger()).toMillis();
        Ledger.trim(ledger());
        assertEquals(size, Files.size(ledger()));
        assertEquals(mtime, Files.getLastModifiedTime(ledger()).toMillis());
    }

    // ------------------------------------------------------------------ real cycles

    @Test
    void aWakeARefusalAndAnEvictionEachEndTheirCycle() throws Exception {
        Path status = Files.writeString(state.resolve("t.status"), "working\n");
        TestKit.Result woke = kit.run(TestKit.command("fm-watch.java"), fixture.env(), home, LIMIT);
        assertEquals("signal: " + status + "\n", woke.stdout(), woke.stderr());
        List<String> l = lines();
        assertEquals(2, l.size(), l.toString());
        Ledger.Entry start = Ledger.parse(l.get(0));
        assertEquals("watch", start.via());
        assertTrue(start.identity().startsWith(FmProc.IDENTITY_FORMAT + " pid=" + start.pid() + " "), start.identity());
        Ledger.Entry end = Ledger.parse(l.get(1));
        assertEquals(start.pid(), end.pid());
        assertEquals("wake:signal", end.how());
        assertTrue(end.at() >= start.at());
        long beatAtEnd = Files.getLastModifiedTime(state.resolve(".last-watcher-beat")).toMillis();

        // A live arm holds the lock: a plain watcher is refused, and says so in one write of two lines.
        TestKit.Lines arm = new TestKit.Lines(kit.start(TestKit.command("fm-watch-arm.java"), fixture.env(), home));
        assertTrue(arm.next(LIMIT).startsWith("watcher: started pid=" + arm.process.pid()), arm.err.toString());
        TestKit.Result refused = kit.run(TestKit.command("fm-watch.java"), fixture.env(), home, LIMIT);
        assertEquals("watcher: already running pid " + arm.process.pid() + "\n", refused.stdout(), refused.stderr());
        l = lines();
        assertEquals(5, l.size(), l.toString());
        Ledger.Entry armStart = Ledger.parse(l.get(2));
        assertEquals(arm.process.pid(), armStart.pid());
        assertEquals(Long.valueOf(beatAtEnd), armStart.prevBeat(), "prev-beat is the beacon the arm found");
        Ledger.Entry r1 = Ledger.parse(l.get(3));
        Ledger.Entry r2 = Ledger.parse(l.get(4));
        assertEquals(r1.pid(), r2.pid());
        assertNotEquals(arm.process.pid(), r1.pid());
        assertEquals("refused", r2.how());

        // Another process takes over the lock's pid: the arm leaves silently and says "evicted".
        Process other = kit.sleeper();
        Files.writeString(state.resolve(".watch.lock/pid"), other.pid() + "\n");
        assertEquals(0, arm.exit(LIMIT), arm.err.toString());
        l = lines();
        assertEquals(arm.process.pid() + " how=evicted", l.get(l.size() - 1).replaceAll("^[0-9]+ end pid=", ""));
    }

    @ParameterizedTest @CsvSource({"TERM, 143", "INT, 130", "HUP, 129"})
    void signalIsNamed(String signal, int exit) throws Exception {
        TestKit.Lines arm = new TestKit.Lines(kit.start(TestKit.command("fm-watch-arm.java"), fixture.env(), home));
        assertTrue(arm.next(LIMIT).startsWith("watcher: started pid="), arm.err.toString());
        kill(signal, arm.process.pid());
        assertEquals(exit, arm.exit(LIMIT), arm.err.toString());
        List<String> l = lines();
        assertEquals(2, l.size(), l.toString());
        assertTrue(l.get(1).endsWith(" end pid=" + arm.process.pid() + " how=signal:" + signal), l.get(1));
        assertFalse(Files.exists(state.resolve(".watch.lock"), LinkOption.NOFOLLOW_LINKS), "the lock is released");
    }

    /** docs/reliability.md "Signals": a JVM started with INT ignored keeps it ignored; naming signals changes nothing. */
    @Test
    void anIgnoredIntStaysIgnored() throws Exception {
        List<String> cmd = new ArrayList<>(List.of("bash", "-c", "trap '' INT; exec \"$@\"", "arm"));
        cmd.addAll(TestKit.command("fm-watch-arm.java"));
        TestKit.Lines arm = new TestKit.Lines(kit.start(cmd, fixture.env(), home));
        assertTrue(arm.next(LIMIT).startsWith("watcher: started pid=" + arm.process.pid()), arm.err.toString());
        kill("INT", arm.process.pid());
        // Had INT been handled, the JVM would be exiting 130 already and TERM could not change that.
        kill("TERM", arm.process.pid());
        assertEquals(143, arm.exit(LIMIT), arm.err.toString());
        List<String> l = lines();
        assertTrue(l.get(l.size() - 1).endsWith(" how=signal:TERM"), l.toString());
    }

    @Test
    void concurrentAppendsNeverInterleave() throws Exception {
        int writers = 4;
        int records = 400;
        TestKit.javaCommand("tests/helpers/ledger-append.java");
        List<Process> ps = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            ps.add(kit.start(TestKit.command("tests/helpers/ledger-append.java", state.toString(), Integer.toString(records), "700"),
                    Map.of(), home));
        }
        for (Process p : ps) {
            TestKit.Result r = TestKit.finish(p, LIMIT);
            assertEquals(new TestKit.Result(0, "done 0\n", ""), r);
        }
        // An appender may see another's record half copied in and start on a fresh line: a blank
        // line, which readers skip. Anything else between records would be a torn write.
        List<String> l = lines().stream().filter(x -> !x.isEmpty()).toList();
        assertEquals(writers * records * 2, l.size());
        Map<Long, Integer> nextOf = new HashMap<>();
        for (int i = 0; i < l.size(); i += 2) {
            Ledger.Entry s = Ledger.parse(l.get(i));
            Ledger.Entry e = Ledger.parse(l.get(i + 1));
            assertNotNull(s, "line " + i + " is torn: " + l.get(i));
            assertNotNull(e, "line " + (i + 1) + " is torn: " + l.get(i + 1));
            assertEquals(s.pid(), e.pid(), "a record's two lines were split by another writer at line " + i);
            int expected = nextOf.getOrDefault(s.pid(), 0);
            assertEquals("replace:" + expected, s.via(), "records of one writer stay in order");
            nextOf.put(s.pid(), expected + 1);
        }
        assertEquals(writers, nextOf.size());
    }

    @Test
    void aLedgerThatIsNoFileOfOursNeverBreaksAWatcherNorIsWrittenThrough() throws Exception {
        Path foreign = kit.tempDir("fm-foreign").resolve("notes.txt");
        Files.writeString(foreign, "someone else's file\n");
        Path fifo = kit.tempDir("fm-fifo").resolve("ledger-fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        for (String kind : List.of("directory", "link", "fifo")) {
            TestKit.deleteTree(ledger());
            switch (kind) {
                case "directory" -> Files.createDirectory(ledger());
                case "link" -> Files.createSymbolicLink(ledger(), foreign);
                default -> Files.move(fifo, ledger());
            }
            // One status file per kind: two writes of one size within one second would look unchanged.
            Path status = Files.writeString(state.resolve(kind + ".status"), "working\n");
            TestKit.Result r = kit.run(TestKit.command("fm-watch.java"), fixture.env(), home, LIMIT);
            assertEquals(new TestKit.Result(0, "signal: " + status + "\n", ""), r, kind);
        }
        assertEquals("someone else's file\n", Files.readString(foreign));
        assertTrue(Files.isSymbolicLink(ledger()) || Files.exists(ledger(), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void garbageAndATornLastLineAreLeftAloneAndNewRecordsStartOnTheirOwnLine() throws Exception {
        byte[] garbage = {'s', 't', 'a', 'r', 't', 0, (byte) 0xff, '\n', '1', '2', ' ', 'e', 'n', 'd', ' ', 'p', 'i', 'd'};
        Files.write(ledger(), garbage);
        Path status = Files.writeString(state.resolve("t.status"), "working\n");
        TestKit.Result r = kit.run(TestKit.command("fm-watch.java"), fixture.env(), home, LIMIT);
        assertEquals(new TestKit.Result(0, "signal: " + status + "\n", ""), r);
        Ledger.Read read = Ledger.read(state);
        assertEquals(2, read.unreadable(), "the garbage line and the torn one");
        assertEquals(2, read.entries().size());
        assertEquals("wake:signal", read.entries().get(1).how());
    }

    @Test
    void theCapHoldsUnderRealCycles() throws Exception {
        long old = System.currentTimeMillis() - 48 * H;
        long dead = deadPid();
        StringBuilder sb = new StringBuilder();
        for (int i = 0; sb.length() <= Ledger.CAP + 50_000; i++) {
            sb.append(old + i).append(" start pid=").append(dead).append(" via=arm prev-beat=none id=").append("old ")
                    .append(i).append(" ").append("#".repeat(120)).append('\n');
            sb.append(old + i).append(" end pid=").append(dead).append(" how=wake:heartbeat\n");
        }
        Files.writeString(ledger(), sb);
        Path status = Files.writeString(state.resolve("t.status"), "working\n");
        TestKit.Result r = kit.run(TestKit.command("fm-watch.java"), fixture.env(), home, LIMIT);
        assertEquals(new TestKit.Result(0, "signal: " + status + "\n", ""), r);
        assertTrue(Files.size(ledger()) <= Ledger.KEEP + 1024, "size " + Files.size(ledger()));
        Ledger.Read read = Ledger.read(state);
        assertEquals(0, read.unreadable());
        List<Ledger.Entry> e = read.entries();
        assertEquals("wake:signal", e.get(e.size() - 1).how());
        assertEquals("watch", e.get(e.size() - 2).via());
        assertEquals("wake:heartbeat", e.get(e.size() - 3).how(), "the newest old record is kept");
        assertEquals(List.of(Ledger.NAME), names(), "no temporary file left");
    }

    // ------------------------------------------------------------------ helpers

    private static List<Ledger.Entry> parseAll(String... lines) {
        List<Ledger.Entry> out = new ArrayList<>();
        for (String l : lines) {
            Ledger.Entry e = Ledger.parse(l);
            assertNotNull(e, "not parsed: " + l);
            out.add(e);
        }
        return out;
    }

    /** The pid of a process that has exited (and been reaped). */
    private static long deadPid() {
        try {
            Process p = new ProcessBuilder("true").start();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            return p.pid();
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    private List<String> names() throws IOException {
        try (var s = Files.list(state)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(Ledger.NAME)).sorted().toList();
        }
    }

    private static void kill(String signal, long pid) throws Exception {
        Process k = new ProcessBuilder("kill", "-s", signal, Long.toString(pid)).start();
        assertTrue(k.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, k.exitValue());
    }
}
