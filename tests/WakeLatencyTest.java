import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A status write wakes a watcher long before the next poll (watcher.md "Doing better than
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

    private final TestKit kit = new TestKit();

    @AfterEach
    void tearDown() { kit.close(); }

    @Test
    void aStatusWriteWakesWithinTheGracePlusTwoSecondsAtTheDefaultPoll() throws Exception {
        List<Long> took = new ArrayList<>();
        for (long offset : OFFSETS_MS) {
            Path state = home();
            Path status = state.resolve("crew.status");
            took.add(trial(state, offset, status, () -> Files.writeString(status, "done: trial at " + offset + " ms\n")));
        }
        assertAllWithinBound(took);
    }

    @Test
    void aSymlinkedStatusWhoseTargetLivesElsewhereWakesAsFast() throws Exception {
        List<Long> took = new ArrayList<>();
        for (long offset : new long[] {OFFSETS_MS[0], OFFSETS_MS[2]}) {
            Path state = home();
            Path target = kit.tempDir("fm-mount").resolve("real.status");
            Files.writeString(target, "working: 1\n");
            Path link = Files.createSymbolicLink(state.resolve("boxed.status"), target);
            // Mark the current content as seen, so only the write below is a change.
            Files.writeString(state.resolve(".seen-boxed_status"), WatcherTest.signature(target));
            took.add(trial(state, offset, link, () -> Files.writeString(target, "done: a longer line than before\n",
                    StandardOpenOption.APPEND)));
        }
        assertAllWithinBound(took);
    }

    private Path home() throws IOException {
        return Files.createDirectories(kit.tempDir("fm-latency").resolve("state"));
    }

    interface Write { void run() throws IOException; }

    /**
     * Starts a watcher at FM_POLL=15, lets it settle into its wait for {@code offsetMs} (the write
     * lands inside that 15 s wait; landing earlier could only make the wake faster), writes, and
     * returns the milliseconds from the write to the reason line.
     */
    private long trial(Path state, long offsetMs, Path expected, Write write) throws Exception {
        Map<String, String> env = Map.of("FM_HOME", state.getParent().toString(), "FM_POLL", "15",
                "FM_SIGNAL_GRACE", Integer.toString(GRACE_SECONDS), "FM_HEARTBEAT", "3600");
        Process p = kit.start(TestKit.command("fm-watch.java"), env, state.getParent());
        CompletableFuture<Long> lineAt = new CompletableFuture<>();
        StringBuilder err = new StringBuilder();
        TestKit.pump(p.getErrorStream(), err);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line = r.readLine();
                long at = System.nanoTime();
                if (("signal: " + expected).equals(line)) lineAt.complete(at);
                else lineAt.completeExceptionally(new AssertionError("unexpected reason line: " + line));
            } catch (IOException e) {
                lineAt.completeExceptionally(e);
            }
        }, "latency-reader");
        reader.setDaemon(true);
        reader.start();

        assertTrue(TestKit.waitFor(Duration.ofSeconds(60), () -> Files.exists(state.resolve(".last-check")) || !p.isAlive()),
                "the watcher never polled");
        assertTrue(p.isAlive(), "the watcher exited before the write: " + err);
        Thread.sleep(offsetMs); // places the write inside the wait between polls (see above)
        assertTrue(p.isAlive(), "the watcher woke before the write: " + err);
        long wrote = System.nanoTime();
        write.run();
        long at;
        try {
            at = lineAt.get(60, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("no reason line within 60 s of the write; stderr: " + err);
        }
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the watcher did not exit after its wake");
        assertEquals(0, p.exitValue(), err.toString());
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
