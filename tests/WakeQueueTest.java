import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The queue in-process: the record format, deduplication, and the drain's failure paths. */
class WakeQueueTest {
    @AutoClose private final TestKit kit = new TestKit();
    private FmHome home;
    private WakeQueue queue;

    @BeforeEach
    void setUp() throws IOException {
        TestKit.Home dir = new TestKit.Home(kit, "fm-wq");
        home = FmHome.of(dir.home, dir.state, dir.home.resolve("fm-watch.java"));
        queue = new WakeQueue(home, new Knobs(Map.of()));
    }

    // ------------------------------------------------------------------ format

    @Test
    void recordsAreWrittenByteExactWithRisingSequence() throws IOException {
        long before = Instant.now().getEpochSecond();
        queue.append(List.of(new WakeQueue.Entry("signal", "a\tb\rc\nd", "p\tq\r\nz"),
                new WakeQueue.Entry("heartbeat", "", "heartbeat")));
        queue.append(List.of(new WakeQueue.Entry("stale", "fleet:w1", "stale: fleet:w1")));
        long after = Instant.now().getEpochSecond();

        List<String> lines = Files.readAllLines(home.wakeQueue());
        assertEquals(3, lines.size(), lines.toString());
        String epoch = lines.get(0).split("\t")[0];
        assertTrue(Long.parseLong(epoch) >= before && Long.parseLong(epoch) <= after, epoch);
        String third = lines.get(2).split("\t")[0];
        String expected = epoch + "\t1\tsignal\ta b c d\tp q  z\n"
                + epoch + "\t2\theartbeat\t\theartbeat\n"
                + third + "\t3\tstale\tfleet:w1\tstale: fleet:w1\n";
        assertEquals(expected, Files.readString(home.wakeQueue()));
        assertEquals("3\n", Files.readString(home.wakeQueueSeq()));
    }

    @Test
    void garbageSequenceFileReadsAsZero() throws IOException {
        for (String garbage : List.of("garbage\n", "-5\n", "12x\n", "99999999999999999999999\n", "\0\0\0")) {
            Files.writeString(home.wakeQueueSeq(), garbage);
            Files.deleteIfExists(home.wakeQueue());
            queue.append(List.of(new WakeQueue.Entry("check", "c.check.sh", "check: c.check.sh: out")));
            assertEquals("1", Files.readString(home.wakeQueue()).split("\t")[1], "after seq file " + garbage);
        }
        Files.writeString(home.wakeQueueSeq(), "41\n");
        queue.append(List.of(new WakeQueue.Entry("check", "c", "p")));
        assertTrue(Files.readString(home.wakeQueue()).contains("\t42\tcheck\tc\tp\n"));
    }

    @Test
    void aTornLastLineDoesNotSwallowTheNextRecord() throws IOException {
        Files.writeString(home.wakeQueue(), "1\t1\tsignal\tk\tcut sh");
        queue.append(List.of(new WakeQueue.Entry("stale", "w", "stale: w")));
        List<String> lines = Files.readAllLines(home.wakeQueue());
        assertEquals(2, lines.size(), lines.toString());
        assertTrue(lines.get(1).matches("\\d+\t1\tstale\tw\tstale: w"), lines.get(1));
    }

    // ------------------------------------------------------------------ deduplication

    @Test
    void dedupKeepsFirstPositionAndLastLine() throws IOException {
        String queued = "1\t1\tsignal\ta\tp1\n"
                + "1\t2\theartbeat\tx\th1\n"
                + "1\t3\tstale\tw\ts1\n"
                + "1\t4\tsignal\ta\tp2\n"
                + "only\tthree\tfields\n"
                + "1\t6\theartbeat\ty\th2\n"
                + "1\t7\tcheck\tc\tc1\r\n"
                + "\n"
                + "1\t9\tsignal\ta\tp3\n"
                + "1\t10\tsignal\tb\tq1\n"
                + "1\t11\tstale\ta\tz\n"
                + "four\tfields\tonly\there";
        Files.writeString(home.wakeQueue(), queued);
        assertEquals("1\t9\tsignal\ta\tp3\n"
                + "1\t6\theartbeat\ty\th2\n"
                + "1\t3\tstale\tw\ts1\n"
                + "1\t7\tcheck\tc\tc1\n"
                + "1\t10\tsignal\tb\tq1\n"
                + "1\t11\tstale\ta\tz\n", drainToString());
        assertEquals(0, Files.size(home.wakeQueue()));
        assertEquals(List.of(), privateFiles());
    }

    @Test
    void nulBytesHugeLinesAndForeignBytesNeverBreakTheDrain() throws IOException {
        byte[] big = new byte[1 << 20];
        Arrays.fill(big, (byte) 'x');
        // Written in pieces: the test runner's heap may be small, and the queue file is not.
        try (OutputStream q = new java.io.BufferedOutputStream(Files.newOutputStream(home.wakeQueue()))) {
            q.write(new byte[4096]); // a crash can leave zero-filled blocks
            q.write("1\t1\tsignal\tbig\t".getBytes(StandardCharsets.US_ASCII));
            q.write(big);
            q.write('\n');
            q.write("1\t2\tst\0ale\tw\0\tpay\0load\n".getBytes(StandardCharsets.US_ASCII));
            q.write(new byte[] {'1', '\t', '3', '\t', 'c', 'h', 'e', 'c', 'k', '\t', 'k', '\t', (byte) 0xff, (byte) 0xfe, '\r', '\n'});
            byte[] tabs = new byte[1 << 20];
            Arrays.fill(tabs, (byte) '\t');
            for (int i = 0; i < WakeQueue.MAX_LINE_BYTES / tabs.length; i++) q.write(tabs); // one line, too long
            q.write("x\t\t\t\t\n".getBytes(StandardCharsets.US_ASCII));
            q.write("1\t5\theartbeat\t\tlast\n".getBytes(StandardCharsets.US_ASCII));
        }

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(4, queue.drain(out));
        ByteArrayOutputStream want = new ByteArrayOutputStream();
        want.write("1\t1\tsignal\tbig\t".getBytes(StandardCharsets.US_ASCII));
        want.write(big);
        want.write("\n1\t2\tstale\tw\tpayload\n".getBytes(StandardCharsets.US_ASCII));
        want.write(new byte[] {'1', '\t', '3', '\t', 'c', 'h', 'e', 'c', 'k', '\t', 'k', '\t', (byte) 0xff, (byte) 0xfe, '\n'});
        want.write("1\t5\theartbeat\t\tlast\n".getBytes(StandardCharsets.US_ASCII));
        assertArrayEquals(want.toByteArray(), out.toByteArray());
    }

    @Test
    void aMissingOrEmptyQueueDrainsToNothingAndStaysEmpty() throws IOException {
        assertEquals("", drainToString());
        assertTrue(Files.isRegularFile(home.wakeQueue()));
        assertEquals(0, Files.size(home.wakeQueue()));
        assertEquals("", drainToString());
        assertEquals(List.of(), privateFiles());
    }

    @Test
    void hundredThousandRecordsDrainWellUnderTwoSeconds() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i <= 100_000; i++) {
            sb.append(1700000000).append('\t').append(i).append('\t').append(i % 10 == 0 ? "heartbeat" : "signal")
                    .append('\t').append("/home/fm/state/task-").append(i % 50_000).append(".status\t")
                    .append("signal: /home/fm/state/task-").append(i % 50_000).append(".status #").append(i).append('\n');
        }
        Files.writeString(home.wakeQueue(), sb);
        // Judged by this thread's CPU time: a loaded machine stretches the wall clock, not the work.
        java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
        long start = System.nanoTime();
        long cpuStart = cpu.getCurrentThreadCpuTime();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int printed = queue.drain(out);
        Duration took = Duration.ofNanos(cpu.getCurrentThreadCpuTime() - cpuStart);
        Duration wall = Duration.ofNanos(System.nanoTime() - start);
        // 45 000 distinct signal keys survive (every tenth record is a heartbeat), plus one heartbeat.
        assertEquals(45_001, printed);
        assertEquals(45_001, out.toString(StandardCharsets.ISO_8859_1).split("\n").length);
        assertTrue(took.compareTo(Duration.ofSeconds(2)) < 0, "drain took " + took + " of CPU (" + wall + " wall)");
    }

    // ------------------------------------------------------------------ failure and recovery

    @Test
    void aFailedDrainPutsItsRecordsInFrontOfLaterAppends() throws IOException {
        queue.append(List.of(new WakeQueue.Entry("signal", "a", "A1"), new WakeQueue.Entry("stale", "w", "A2")));
        queue.append(List.of(new WakeQueue.Entry("signal", "a", "A3")));
        List<String> taken = Files.readAllLines(home.wakeQueue());
        WakeQueue watcher = new WakeQueue(home, new Knobs(Map.of()));
        OutputStream breaksAfterAnAppend = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                // While the drain prints, a watcher appends; then the reader goes away.
                watcher.append(List.of(new WakeQueue.Entry("check", "c", "B1")));
                throw new IOException("Broken pipe");
            }
        };
        IOException e = assertThrows(IOException.class, () -> queue.drain(breaksAfterAnAppend));
        assertTrue(e.getMessage().contains("Broken pipe") && e.getMessage().contains("put back"), e.getMessage());

        List<String> now = Files.readAllLines(home.wakeQueue());
        assertEquals(4, now.size(), now.toString());
        assertEquals(taken, now.subList(0, 3));
        assertTrue(now.get(3).endsWith("\t4\tcheck\tc\tB1"), now.get(3));
        assertEquals(List.of(), privateFiles());

        String out = drainToString();
        assertEquals(List.of(taken.get(2), taken.get(1), now.get(3)), List.of(out.split("\n")));
    }

    @Test
    void orphanedPrivateFilesReturnOldestFirstButALiveDrainsFileIsLeftAlone() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        Process live = kit.sleeper();
        Path older = home.file(WakeQueue.DRAINING_PREFIX + gone.pid() + ".a1");
        Path newer = home.file(WakeQueue.DRAINING_PREFIX + "garbage");
        Path liveOwner = home.file(WakeQueue.DRAINING_PREFIX + live.pid() + ".b2");
        Path recycled = home.file(WakeQueue.DRAINING_PREFIX + live.pid() + ".c3");
        Files.writeString(older, "1\t1\tsignal\told\tO\n");
        Files.writeString(newer, "1\t2\tsignal\tnewer\tN"); // torn: no newline
        Files.writeString(liveOwner, "1\t3\tsignal\tlive\tL\n");
        Files.writeString(recycled, "1\t4\tsignal\trecycled\tR\n");
        Instant now = Instant.now();
        Files.setLastModifiedTime(older, FileTime.from(now.minusSeconds(30)));
        Files.setLastModifiedTime(newer, FileTime.from(now.minusSeconds(20)));
        // Dated an hour before the sleeper started: its pid cannot be that drain's.
        Files.setLastModifiedTime(recycled, FileTime.from(now.minusSeconds(3600)));
        Files.writeString(home.wakeQueue(), "1\t5\tsignal\tqueued\tQ\n");

        assertEquals("1\t4\tsignal\trecycled\tR\n1\t1\tsignal\told\tO\n1\t2\tsignal\tnewer\tN\n1\t5\tsignal\tqueued\tQ\n",
                drainToString());
        assertEquals(List.of(liveOwner), privateFiles());
        assertEquals("1\t3\tsignal\tlive\tL\n", Files.readString(liveOwner));
    }

    @Test
    void concurrentDrainsAndAppendsInOneJvmPrintEveryRecordExactlyOnce() throws Exception {
        int writers = 4;
        int perWriter = 150;
        ConcurrentLinkedQueue<String> printed = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        AtomicBoolean writing = new AtomicBoolean(true);
        List<Thread> threads = new ArrayList<>();
        for (int d = 0; d < 3; d++) {
            threads.add(new Thread(() -> {
                try {
                    boolean last = false;
                    while (!last) {
                        last = !writing.get();
                        ByteArrayOutputStream out = new ByteArrayOutputStream();
                        new WakeQueue(home, new Knobs(Map.of())).drain(out);
                        String s = out.toString(StandardCharsets.ISO_8859_1);
                        if (!s.isEmpty()) printed.addAll(List.of(s.split("\n")));
                    }
                } catch (Throwable t) {
                    errors.add(t);
                }
            }));
        }
        List<Thread> appenders = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            String tag = "t" + w;
            appenders.add(new Thread(() -> {
                try {
                    WakeQueue mine = new WakeQueue(home, new Knobs(Map.of()));
                    for (int i = 0; i < perWriter; i++) mine.append(List.of(new WakeQueue.Entry("signal", tag + "-" + i, "p")));
                } catch (Throwable t) {
                    errors.add(t);
                }
            }));
        }
        threads.forEach(Thread::start);
        appenders.forEach(Thread::start);
        for (Thread t : appenders) t.join(60_000);
        writing.set(false);
        for (Thread t : threads) t.join(60_000);
        assertEquals(List.of(), new ArrayList<>(errors));

        Set<String> keys = new HashSet<>();
        for (String line : printed) {
            String[] f = line.split("\t", -1);
            assertEquals(5, f.length, line);
            assertTrue(keys.add(f[3]), "printed twice: " + line);
        }
        assertEquals(writers * perWriter, keys.size());
        assertEquals(0, Files.size(home.wakeQueue()));
    }

    // ------------------------------------------------------------------ helpers

    private String drainToString() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        queue.drain(out);
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    private List<Path> privateFiles() throws IOException {
        try (Stream<Path> s = Files.list(home.state)) {
            return s.filter(p -> p.getFileName().toString().startsWith(WakeQueue.DRAINING_PREFIX)).sorted().toList();
        }
    }
}
