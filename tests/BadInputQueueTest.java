import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input in the durable queue's files, through the real watcher and drain (the in-process
 * parser cases live in WakeQueueTest; the plain dedup in DrainTest). Never a lost record.
 */
class BadInputQueueTest {
    @AutoClose private final TestKit kit = new TestKit();

    /**
     * A queue holding every kind of garbage a crash or a careless tool can leave, and a torn
     * last line: the watcher's append starts a fresh line, and the drain prints exactly the
     * good records (CR and NULs removed, short lines dropped, a 1 MiB record intact).
     */
    @Test
    void aGarbledQueueStillDrainsEveryGoodRecordAndTakesNewOnes() throws Exception {
        TestKit.Home home = BadInputTest.heartbeatDue(BadInputTest.home(kit));
        String big = "x".repeat(1 << 20);
        ByteArrayOutputStream q = new ByteArrayOutputStream();
        q.writeBytes(ascii("1\t1\tsignal\ta.status\tsignal: /s/a.status\r\n"));
        q.writeBytes(ascii("short\tline\n"));
        q.writeBytes(ascii("1\t2\tstale\tw\0in\tstale: w\0in\n"));
        q.writeBytes(ascii("\n\t\t\t\n"));
        q.writeBytes(ascii("1\t3\tcheck\t/s/big.check.sh\t" + big + "\n"));
        q.writeBytes(ascii("1\t4\tstale\twin\tlater\n"));
        q.writeBytes(ascii("1\t5\tsignal\tt.status\tsignal: /s/t.status")); // torn: no newline
        home.write(".wake-queue", q.toByteArray());

        TestKit.Result w = home.run("fm-watch.java");
        assertEquals(0, w.exit(), w.stderr());
        assertEquals("heartbeat\n", w.stdout());
        TestKit.Result d = home.run("fm-wake-drain.java");

        assertEquals(0, d.exit(), d.stderr());
        assertEquals("", d.stderr(), "no task in flight: the guard is silent");
        List<String> lines = d.lines();
        assertEquals(5, lines.size(), d.stdout().length() > 2000 ? d.stdout().substring(0, 2000) : d.stdout());
        assertEquals("1\t1\tsignal\ta.status\tsignal: /s/a.status", lines.get(0));
        assertEquals("1\t4\tstale\twin\tlater", lines.get(1), "NULs removed, then folded with the later record");
        assertEquals("1\t3\tcheck\t/s/big.check.sh\t" + big, lines.get(2));
        assertEquals("1\t5\tsignal\tt.status\tsignal: /s/t.status", lines.get(3), "the torn record kept its own line");
        assertTrue(lines.get(4).matches("[0-9]{10}\t1\theartbeat\theartbeat\theartbeat"), lines.get(4));
        assertEquals(0, Files.size(home.state.resolve(".wake-queue")));
        assertEquals(List.of(), leftovers(home.state));
    }

    static Stream<Arguments> garbageSequences() {
        return Stream.of(
                Arguments.of("text", ascii("not a number\n")),
                Arguments.of("negative", ascii("-5\n")),
                Arguments.of("25 digits", ascii("1234567890123456789012345\n")),
                Arguments.of("20 digits, past a long", ascii("99999999999999999999\n")),
                Arguments.of("NUL bytes", new byte[] {0, 0, '7', 0}),
                Arguments.of("empty", new byte[0]));
    }

    /** docs/state.md: a garbled .wake-queue.seq reads as 0, so the next record is seq 1. */
    @ParameterizedTest(name = ".wake-queue.seq: {0}")
    @MethodSource("garbageSequences")
    void aGarbledSequenceFileRestartsAtOne(String what, byte[] content) throws Exception {
        TestKit.Home home = BadInputTest.heartbeatDue(BadInputTest.home(kit));
        home.write(".wake-queue.seq", content);

        TestKit.Result w = home.run("fm-watch.java");

        assertEquals(0, w.exit(), w.stderr());
        assertEquals("heartbeat\n", w.stdout());
        assertEquals("", w.stderr());
        assertEquals(List.of(List.of("1", "heartbeat", "heartbeat", "heartbeat")), home.records());
        assertEquals("1\n", Files.readString(home.state.resolve(".wake-queue.seq")));
    }

    /**
     * A directory where the sequence file belongs: the append fails, so the watcher exits 1 with
     * one line, advances no marker, and leaves no temporary file; once it is cleared the next
     * watcher reports the same heartbeat.
     */
    @Test
    void aSequenceFileThatIsADirectoryFailsTheAppendCleanly() throws Exception {
        TestKit.Home home = BadInputTest.heartbeatDue(BadInputTest.home(kit));
        Path seq = Files.createDirectory(home.state.resolve(".wake-queue.seq"));
        FileTime last = Files.getLastModifiedTime(home.state.resolve(".last-heartbeat"));

        TestKit.Result w = home.run("fm-watch.java");

        assertEquals(1, w.exit(), w.stdout());
        assertEquals("", w.stdout());
        String line = BadInputTest.oneLine(w.stderr());
        assertTrue(line.startsWith("watcher: cannot append to ") && line.contains(".wake-queue.seq")
                && line.contains("not recorded"), line);
        BadInputTest.assertClean(w.stderr());
        assertEquals(last, Files.getLastModifiedTime(home.state.resolve(".last-heartbeat")), "marker advanced");
        assertFalse(Files.exists(home.state.resolve(".heartbeat-streak")));
        assertTrue(Files.isDirectory(seq));
        assertEquals(List.of(), leftovers(home.state), "a failed append left a file behind");

        Files.delete(seq);
        TestKit.Result again = home.run("fm-watch.java");
        assertEquals("heartbeat\n", again.stdout(), again.stderr());
        assertEquals(List.of(List.of("1", "heartbeat", "heartbeat", "heartbeat")), home.records());
    }

    /**
     * A regular file at the queue lock's path is never removed and never waited on: the watcher's
     * append and the drain each fail at once with one line, and nothing queued is lost.
     */
    @Test
    void aRegularFileAtTheQueueLockFailsAppendAndDrainInOneLineAndLosesNothing() throws Exception {
        TestKit.Home home = BadInputTest.heartbeatDue(BadInputTest.home(kit));
        Path lock = home.write(".wake-queue.lock", "mine\n");
        String queued = "1\t1\tsignal\ta.status\tsignal: /s/a.status\n";
        home.write(".wake-queue", queued);
        FileTime last = Files.getLastModifiedTime(home.state.resolve(".last-heartbeat"));
        long t0 = System.nanoTime();

        TestKit.Result w = home.run("fm-watch.java");
        TestKit.Result d = home.run("fm-wake-drain.java");
        double took = (System.nanoTime() - t0) / 1e9;

        assertEquals(1, w.exit(), w.stdout());
        assertEquals("", w.stdout());
        String wline = BadInputTest.oneLine(w.stderr());
        assertTrue(wline.startsWith("watcher: ") && wline.contains(lock + " is not a lock")
                && wline.contains("not recorded"), wline);
        assertEquals(last, Files.getLastModifiedTime(home.state.resolve(".last-heartbeat")), "marker advanced");
        assertEquals(1, d.exit(), d.stdout());
        assertEquals("", d.stdout());
        assertTrue(BadInputTest.oneLine(d.stderr()).startsWith("fm-wake-drain: " + lock + " is not a lock"), d.stderr());
        BadInputTest.assertClean(w.stderr() + d.stderr());
        assertEquals(queued, Files.readString(home.state.resolve(".wake-queue")), "the queued record is gone");
        assertEquals("mine\n", Files.readString(lock));
        assertTrue(took < 30, "waited " + took + " s on a lock nothing can release");
    }

    /** Files a failed or finished append/drain must not leave behind. */
    static List<String> leftovers(Path state) throws IOException {
        try (Stream<Path> s = Files.list(state)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(".wake-queue.seq.tmp") || n.startsWith(WakeQueue.DRAINING_PREFIX)
                            || n.startsWith(".wake-queue.lock"))
                    .sorted().toList();
        }
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }
}
