import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * A status write wakes a watcher long before the next poll (docs/watcher.md "Doing better than
 * polling"): at the default FM_POLL=15, every trial's reason line arrives within
 * FM_SIGNAL_GRACE + 2 s of the write, for a status in STATE and for a symlinked status whose
 * target lives in another directory. Without the file watch a write lands on average 7.5 s
 * before the next poll, so these trials (written 1.5 to 6 s into the wait) would fail.
 */
class WakeLatencyTest {
    private static final int GRACE_SECONDS = 1;
    private static final Duration BOUND = Duration.ofSeconds(GRACE_SECONDS + 2);
    /** How far into the 15 s wait each trial writes: early, middle, late. */
    private static final long[] OFFSETS_MS = {1500, 3000, 6000};

    @AutoClose private final TestKit kit = new TestKit();

    @Test
    void aStatusWriteWakesWithinTheGracePlusTwoSecondsAtTheDefaultPoll() throws Exception {
        List<Long> took = new ArrayList<>();
        for (long offset : OFFSETS_MS) {
            TestKit.Home h = home();
            Path state = h.state;
            Path status = state.resolve("crew.status");
            took.add(trial(h, offset, status, () -> Files.writeString(status, "done: trial at " + offset + " ms\n")));
        }
        assertAllWithinBound(took);
    }

    @Test
    void aSymlinkedStatusWhoseTargetLivesElsewhereWakesAsFast() throws Exception {
        List<Long> took = new ArrayList<>();
        for (long offset : new long[] {OFFSETS_MS[0], OFFSETS_MS[2]}) {
            TestKit.Home h = home();
            Path state = h.state;
            Path target = kit.tempDir("fm-mount").resolve("real.status");
            Files.writeString(target, "working: 1\n");
            Path link = Files.createSymbolicLink(state.resolve("boxed.status"), target);
            // Mark the current content as seen, so only the write below is a change.
            Files.writeString(state.resolve(".seen-boxed_status"), WatcherTest.signature(target));
            took.add(trial(h, offset, link, () -> Files.writeString(target, "done: a longer line than before\n",
                    StandardOpenOption.APPEND)));
        }
        assertAllWithinBound(took);
    }

    /** A fresh home with this class's knobs: a 15 s poll, so only the wait's early wake-up can be fast. */
    private TestKit.Home home() throws IOException {
        return new TestKit.Home(kit, "fm-latency").set("FM_POLL", "15",
                "FM_SIGNAL_GRACE", Integer.toString(GRACE_SECONDS), "FM_HEARTBEAT", "3600");
    }

    interface Write { void run() throws IOException; }

    /**
     * Starts a watcher at FM_POLL=15, lets it settle into its wait for {@code offsetMs} (the write
     * lands inside that 15 s wait; landing earlier could only make the wake faster), writes, and
     * returns the milliseconds from the write to the reason line.
     */
    private long trial(TestKit.Home h, long offsetMs, Path expected, Write write) throws Exception {
        Path state = h.state;
        TestKit.Lines w = h.lines("fm-watch.java");
        Process p = w.process;

        assertTrue(TestKit.waitFor(Duration.ofSeconds(60), () -> Files.exists(state.resolve(".last-check")) || !p.isAlive()),
                "the watcher never polled");
        assertTrue(p.isAlive(), "the watcher exited before the write: " + w.err());
        Thread.sleep(offsetMs); // places the write inside the wait between polls (see above)
        assertTrue(p.isAlive(), "the watcher woke before the write: " + w.err());
        long wrote = System.nanoTime();
        write.run();
        String line = w.next(Duration.ofSeconds(60));
        long at = System.nanoTime();
        assertEquals("signal: " + expected, line, "unexpected reason line");
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the watcher did not exit after its wake");
        assertEquals(0, p.exitValue(), w.err());
        return TimeUnit.NANOSECONDS.toMillis(at - wrote);
    }

    private static void assertAllWithinBound(List<Long> tookMs) {
        for (long ms : tookMs) {
            assertTrue(ms >= GRACE_SECONDS * 1000L, "woke after " + ms + " ms, before the grace was over: " + tookMs);
            assertTrue(ms <= BOUND.toMillis(), "woke " + ms + " ms after the write (bound " + BOUND.toMillis()
                    + " ms at FM_POLL=15); all trials: " + tookMs);
        }
    }
}
