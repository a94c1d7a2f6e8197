import static org.junit.jupiter.api.Assertions.*;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntFunction;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** fm-wake-drain.java as a real process: output, races, kills, failed writes, the guard after it. */
class DrainTest {
    private static final Duration LIMIT = Duration.ofSeconds(60);
    @AutoClose private final TestKit kit = new TestKit();
    /** The temp home; the drain runs under the C locale here. */
    private final TestKit.Home fixture = kit.home("fm-drain", Map.of("LC_ALL", "C"));
    private final Path state = fixture.state;

    @Test
    void printsTheQueueDeduplicatedThenLeavesItEmpty() throws IOException {
        Files.writeString(queue(), "1\t1\tsignal\t/s/a.status\tsignal: /s/a.status\n"
                + "1\t2\theartbeat\t\theartbeat\n"
                + "broken line\n"
                + "1\t3\tsignal\t/s/a.status\tsignal: /s/a.status /s/b.status\r\n"
                + "1\t4\theartbeat\tother\theartbeat\n");
        TestKit.Result r = drain();
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("1\t3\tsignal\t/s/a.status\tsignal: /s/a.status /s/b.status\n1\t4\theartbeat\tother\theartbeat\n",
                r.stdout());
        assertEquals("", r.stderr(), "no task in flight: the guard stays silent");
        assertEquals(0, Files.size(queue()));
        assertEquals(List.of(), privateFiles());

        Files.delete(queue());
        TestKit.Result empty = drain();
        assertEquals(0, empty.exit(), empty.stderr());
        assertEquals("", empty.stdout());
        assertTrue(Files.isRegularFile(queue()) && Files.size(queue()) == 0);
    }

    @Test
    void argumentsAreAUsageError() throws IOException {
        TestKit.Result r = kit.run(TestKit.command("fm-wake-drain.java", "--bogus"), fixture.env(), null, LIMIT);
        assertEquals(2, r.exit());
        assertEquals(1, r.stderr().lines().count(), r.stderr());
        assertEquals("", r.stdout());
    }

    @Test
    void aSecondDrainWhileTheFirstStillPrintsGetsOnlyNewerRecords() throws Exception {
        // Its stdout is not read yet, so the first drain holds its records, mid-print, for as long as we like.
        List<String> records = records(5000, i -> "1\t" + (i + 1) + "\tsignal\tfirst-" + i + "\tsignal: first " + i);
        Process first = stuckDrain(records);
        WakeQueue q = new WakeQueue(FmHome.of(fixture.home, state, fixture.home.resolve("fm-watch.java")), new Knobs(Map.of()));
        q.append(List.of(new WakeQueue.Entry("stale", "second", "stale: second")));

        TestKit.Result second = drain();
        assertEquals(0, second.exit(), second.stderr());
        assertEquals(1, second.lines().size(), second.stdout());
        assertTrue(second.stdout().matches("\\d+\t\\d+\tstale\tsecond\tstale: second\n"), second.stdout());

        TestKit.Result firstDone = TestKit.finish(first, LIMIT);
        assertEquals(0, firstDone.exit(), firstDone.stderr());
        assertEquals(records, firstDone.lines());
        assertEquals(List.of(), privateFiles());
    }

    @Test
    void twoDrainsStartedTogetherNeverPrintARecordTwice() throws Exception {
        for (int round = 0; round < 2; round++) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 3000; i++) sb.append("1\t").append(i + 1).append("\tsignal\tr").append(round)
                    .append("-").append(i).append("\tpayload ").append(i).append('\n');
            Files.writeString(queue(), sb);
            Process a = kit.start(TestKit.command("fm-wake-drain.java"), fixture.env(), null);
            Process b = kit.start(TestKit.command("fm-wake-drain.java"), fixture.env(), null);
            TestKit.Result ra = TestKit.finish(a, LIMIT);
            TestKit.Result rb = TestKit.finish(b, LIMIT);
            assertEquals(0, ra.exit(), ra.stderr());
            assertEquals(0, rb.exit(), rb.stderr());
            List<String> all = new ArrayList<>(ra.lines());
            all.addAll(rb.lines());
            assertEquals(3000, all.size(), "round " + round);
            assertEquals(3000, new HashSet<>(all).size(), "round " + round + ": a record was printed twice");
            assertEquals(0, Files.size(queue()));
        }
    }

    @Test
    void fortyAppenderProcessesRacingTwoDrainsLoseAndRepeatNothing() throws Exception {
        int appenders = 40;
        int each = 10;
        List<Process> writers = new ArrayList<>();
        for (int w = 0; w < appenders; w++) {
            writers.add(kit.start(TestKit.command("tests/helpers/queue-append.java", state.toString(), "w" + w,
                    Integer.toString(each), Integer.toString(1 + w % 3)), Map.of(), null));
        }
        ConcurrentLinkedQueue<String> printed = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        AtomicBoolean writing = new AtomicBoolean(true);
        List<Thread> drains = new ArrayList<>();
        for (int d = 0; d < 2; d++) {
            Thread t = new Thread(() -> {
                boolean last = false;
                while (!last) {
                    last = !writing.get();
                    try {
                        TestKit.Result r = drain();
                        if (r.exit() != 0) problems.add("drain exit " + r.exit() + ": " + r.stderr());
                        printed.addAll(r.lines());
                    } catch (Throwable e) {
                        problems.add(e.toString());
                        return;
                    }
                }
            });
            t.start();
            drains.add(t);
        }
        // Forty JVMs at once on a loaded two-core machine: bounds for a hang, not for speed.
        for (Process p : writers) {
            TestKit.Result r = TestKit.finish(p, Duration.ofSeconds(600));
            if (r.exit() != 0) problems.add("appender exit " + r.exit() + ": " + r.stderr());
        }
        writing.set(false);
        for (Thread t : drains) t.join(300_000);
        for (Thread t : drains) assertFalse(t.isAlive(), "a drain loop still running after 300 s");
        assertEquals(List.of(), new ArrayList<>(problems));

        Set<String> keys = new HashSet<>();
        Set<Long> seqs = new HashSet<>();
        for (String line : printed) {
            String[] f = line.split("\t", -1);
            assertEquals(5, f.length, "malformed: " + line);
            assertTrue(f[0].matches("\\d+") && f[1].matches("\\d+"), line);
            assertTrue(List.of("signal", "stale", "check").contains(f[2]), line);
            String n = f[3].substring(f[3].indexOf('-') + 1);
            assertEquals("from " + f[3].substring(0, f[3].indexOf('-')) + " #" + n, f[4], line);
            assertTrue(keys.add(f[3]), "printed twice: " + line);
            assertTrue(seqs.add(Long.parseLong(f[1])), "sequence reused: " + line);
        }
        assertEquals(appenders * each, keys.size(), "every record drained exactly once");
        for (long s = 1; s <= appenders * each; s++) assertTrue(seqs.contains(s), "sequence " + s + " missing");
        assertEquals(0, Files.size(queue()));
        assertEquals(List.of(), privateFiles());
    }

    @Test
    void aDrainKilledAfterTheMoveLosesNothing() throws Exception {
        List<String> records = records(20_000, i -> "1\t" + (i + 1) + "\tstale\tfleet:w" + i + "\tstale: fleet:w" + i);
        Process stuck = stuckDrain(records);
        Path left = privateFiles().get(0);
        stuck.destroyForcibly();
        assertTrue(stuck.waitFor(30, TimeUnit.SECONDS));
        assertTrue(Files.exists(left), "killed mid-way, the private file must still be there");
        Files.writeString(queue(), "2\t20001\tcheck\tlate.check.sh\tcheck: late.check.sh: later\n");

        TestKit.Result next = drain();
        assertEquals(0, next.exit(), next.stderr());
        List<String> want = new ArrayList<>(records);
        want.add("2\t20001\tcheck\tlate.check.sh\tcheck: late.check.sh: later");
        assertEquals(want, next.lines());
        assertEquals(List.of(), privateFiles());
    }

    @Test
    void aFailedWriteExitsNonZeroAndPutsTheRecordsBack() throws Exception {
        String queued = "1\t1\tsignal\ta\tA\n1\t2\tstale\tw\tW\n1\t3\tsignal\ta\tA2\n";
        for (String how : List.of("full disk", "closed pipe")) {
            Files.writeString(queue(), queued);
            ProcessBuilder pb = new ProcessBuilder(TestKit.command("fm-wake-drain.java"));
            pb.environment().keySet().removeIf(k -> k.startsWith("FM_"));
            pb.environment().putAll(fixture.env());
            pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            if (how.equals("full disk")) pb.redirectOutput(new File("/dev/full"));
            Process p = pb.start();
            if (how.equals("closed pipe")) p.getInputStream().close(); // every write gets EPIPE
            try {
                TestKit.Result r = TestKit.finish(p, LIMIT);
                assertEquals(1, r.exit(), how + ": " + r.stderr());
                assertEquals(1, r.stderr().lines().count(), how + ": " + r.stderr());
                assertTrue(r.stderr().startsWith("fm-wake-drain: ") && r.stderr().contains("put back"), r.stderr());
                assertEquals(queued, Files.readString(queue()), how);
                assertEquals(List.of(), privateFiles(), how);
            } finally {
                p.destroyForcibly();
            }
        }
    }

    @Test
    void printsTheRecordsThenTheGuardBannerWhenTheWatcherIsDown() throws IOException {
        Files.writeString(state.resolve("fix-login.meta"), "window=fleet:fm-fix-login\n");
        Files.writeString(queue(), "1\t1\theartbeat\t\theartbeat\n1\t2\tstale\tfleet:w\tstale: fleet:w\n");
        TestKit.Result r = drain();
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("1\t1\theartbeat\t\theartbeat\n1\t2\tstale\tfleet:w\tstale: fleet:w\n", r.stdout());
        List<String> err = r.stderr().lines().toList();
        assertFalse(err.isEmpty(), "the guard should report the missing watcher");
        assertTrue(err.stream().allMatch(l -> l.startsWith("\u25CF")), r.stderr());
        assertTrue(r.stderr().contains("1 task(s) in flight") && r.stderr().contains("last beat: never"), r.stderr());
        // The queue was just drained: re-arm now, nothing is waiting.
        assertTrue(r.stderr().contains("Re-arm it NOW: run FM_HOME=" + ShellWord.of(fixture.home) + " "
                + ShellWord.of(TestKit.root().resolve("fm-watch-arm.java")) + " as"), r.stderr());
        assertFalse(r.stderr().contains("WARNING"), r.stderr());
    }

    // ------------------------------------------------------------------ helpers

    private Path queue() { return state.resolve(".wake-queue"); }


    private TestKit.Result drain() throws IOException {
        return kit.run(TestKit.command("fm-wake-drain.java"), fixture.env(), null, LIMIT);
    }

    private List<Path> privateFiles() {
        try (Stream<Path> s = Files.list(state)) {
            return s.filter(p -> p.getFileName().toString().startsWith(WakeQueue.DRAINING_PREFIX)).sorted().toList();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return -1;
        }
    }

    private static List<String> records(int n, IntFunction<String> record) {
        return IntStream.range(0, n).mapToObj(record).toList();
    }

    /**
     * Queues {@code records}, then starts a drain whose stdout nobody reads: it moves the queue
     * aside and blocks on a full pipe, mid-print, for as long as the test likes. Returns once the
     * queue is aside.
     */
    private Process stuckDrain(List<String> records) throws IOException {
        Files.writeString(queue(), String.join("\n", records) + "\n");
        Process p = kit.start(TestKit.command("fm-wake-drain.java"), fixture.env(), null);
        assertTrue(TestKit.waitFor(LIMIT, () -> privateFiles().size() == 1 && sizeOf(queue()) == 0),
                "the drain never moved the queue aside");
        return p;
    }
}
