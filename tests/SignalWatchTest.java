import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * SignalWatch in-process: the directories of symlinked statuses' targets are watched, only
 * for those targets, and the set follows the links as they come, move and go.
 */
class SignalWatchTest {
    private static final Duration SOON = Duration.ofSeconds(10);
    private static final Duration QUIET = Duration.ofMillis(1500);

    @AutoClose private final TestKit kit = new TestKit();

    @Test
    void aWriteToALinkTargetElsewhereWakesButItsNeighboursDoNot() throws Exception {
        Path state = kit.tempDir("fm-sw-state");
        Path mount = kit.tempDir("fm-sw-mount");
        Path target = Files.writeString(mount.resolve("real.status"), "working\n");
        Files.createSymbolicLink(state.resolve("boxed.status"), target);
        try (SignalWatch watch = SignalWatch.open(state)) {
            assertFalse(watch.await(Duration.ofMillis(200)), "nothing changed yet");
            Files.writeString(mount.resolve("notes.txt"), "a neighbour of the target\n");
            assertFalse(watch.await(QUIET), "a file next to the target is not a signal");

            Files.writeString(target, "done\n");
            long t0 = System.nanoTime();
            assertTrue(watch.await(SOON), "the target's write was not noticed");
            assertTrue(System.nanoTime() - t0 < SOON.toNanos() / 2, "noticed only at the end of the wait");
        }
    }

    @Test
    void aRemovedLinkStopsTheWatchAndAMovedOneIsFollowed() throws Exception {
        Path state = kit.tempDir("fm-sw-state");
        Path first = Files.writeString(kit.tempDir("fm-sw-a").resolve("t.status"), "1\n");
        Path second = Files.writeString(kit.tempDir("fm-sw-b").resolve("t.status"), "1\n");
        Path link = Files.createSymbolicLink(state.resolve("crew.status"), first);
        try (SignalWatch watch = SignalWatch.open(state)) {
            assertFalse(watch.await(Duration.ofMillis(200)));
            Files.delete(link);
            assertFalse(watch.await(Duration.ofMillis(200)), "removing a link is not a signal");
            Files.writeString(first, "2\n");
            assertFalse(watch.await(QUIET), "the old target is no longer anyone's signal");

            Files.createSymbolicLink(link, second);
            assertTrue(watch.await(SOON), "a new link in STATE is itself a change");
            Files.writeString(second, "2\n");
            assertTrue(watch.await(SOON), "the new target's directory is watched from the next wait on");
        }
    }
}
