import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * A release never removes a successor's link, and the token
 * directories of holders killed with SIGKILL do not pile up. Contenders are real FmLock
 * command lines, frozen by a debugger at a chosen step (Debuggee).
 */
class LockReleaseTest {
    private static final Duration LIMIT = Duration.ofSeconds(60);
    @AutoClose private final TestKit kit = new TestKit();

    /**
     * The holder is frozen in its release between deciding the link is still its own and
     * removing it. A stealer that (wrongly) judges it dead then tries to take the lock over.
     * Either the takeover cannot happen in that gap, or the release must leave the successor's
     * link alone; before the fix the release removed the successor's link.
     */
    @Test
    void aReleaseNeverRemovesTheLinkOfAStealerThatTookOverInItsGap() throws Exception {
        Path lock = kit.tempDir("fm-release").resolve("l");
        Path steal = lock.resolveSibling("l.steal");
        // Stopped at the release's removal of the link, after its check.
        try (Debuggee d = stoppedInRelease(lock, "2", 1)) {
            Path holderOwner = Files.readSymbolicLink(lock);
            assertEquals(d.pid() + "\n", Files.readString(holderOwner.resolve("pid")), "stopped before the link went");
            // The takeover a stealer performs, through the steal mutex as docs/lock.md requires.
            Path thiefOwner = null;
            FmLock.Attempt mutex = FmLock.tryAcquire(steal, Duration.ZERO);
            if (mutex.acquired()) {
                try (FmLock.Held m = mutex.held().get()) {
                    Files.delete(lock);
                    thiefOwner = FmLockTest.linkLock(lock, "thief", ProcessHandle.current().pid() + "\n");
                }
            } else {
                assertEquals(d.pid(), mutex.holder().orElse(-1), "the releasing holder owns the steal mutex");
            }
            d.go();
            assertEquals(0, d.exit(), d.output());
            if (thiefOwner != null) {
                assertEquals(thiefOwner, FmLock.readLink(lock), "the release removed its successor's link");
            } else {
                assertFalse(Files.exists(lock, LinkOption.NOFOLLOW_LINKS), "the holder released its own lock");
            }
        }
        assertFalse(Files.exists(steal, LinkOption.NOFOLLOW_LINKS), "no steal mutex left behind");
    }

    /** Contenders that lost, frozen while removing their token, and then killed with SIGKILL. */
    @Test
    void tokenDirectoriesOfKilledContendersAreReclaimedAndLiveOnesKept() throws Exception {
        Path dir = kit.tempDir("fm-release");
        Path lock = dir.resolve("l");
        TestKit.Lines holder = new TestKit.Lines(kit.start(
                TestKit.command("FmLock.java", "try-acquire", lock.toString(), "--hold", "300"), Map.of(), null));
        assertEquals("acquired pid=" + holder.process.pid(), holder.next(LIMIT), holder.err.toString());
        List<String> killed = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            try (Debuggee d = LockRaceTest.fmLock(kit, "try-acquire", lock.toString())) {
                List<String> before = FmLockTest.names(dir);
                d.stopAt("FmLock", "removeOwnerDir", 1); // lost the create: about to remove its token
                d.go();
                d.awaitStop();
                List<String> added = new ArrayList<>(FmLockTest.names(dir));
                added.removeAll(before);
                assertEquals(1, added.size(), added.toString());
                killed.add(added.get(0));
                d.process().destroyForcibly();
                assertTrue(d.process().waitFor(30, TimeUnit.SECONDS));
            }
        }
        for (String k : killed) assertTrue(Files.isDirectory(dir.resolve(k)), "left behind by SIGKILL: " + k);
        // One more, frozen at the same step but alive: its token may not be touched.
        try (Debuggee live = LockRaceTest.fmLock(kit, "try-acquire", lock.toString())) {
            List<String> before = FmLockTest.names(dir);
            live.stopAt("FmLock", "removeOwnerDir", 1);
            live.go();
            live.awaitStop();
            List<String> added = new ArrayList<>(FmLockTest.names(dir));
            added.removeAll(before);
            assertEquals(1, added.size(), added.toString());
            String liveToken = added.get(0);
            // Not ours by name, or with no identity of ours: never touched even with a dead pid.
            long dead = FmLockTest.deadPid();
            Path foreign = Files.createDirectory(dir.resolve("other.owner.x"));
            Files.writeString(foreign.resolve("pid"), dead + "\n");
            Path bashToken = Files.createDirectory(dir.resolve("l.owner.bash"));
            Files.writeString(bashToken.resolve("pid"), dead + "\n");

            holder.process.destroy(); // TERM: the holder releases
            assertTrue(holder.process.waitFor(30, TimeUnit.SECONDS));
            assertFalse(Files.exists(lock, LinkOption.NOFOLLOW_LINKS));
            try (FmLock.Held h = FmLock.tryAcquire(lock, Duration.ZERO).held().orElseThrow()) {
                String mine = h.ownerDir().getFileName().toString();
                assertEquals(List.of("l", "l.owner.bash", liveToken, mine, "other.owner.x").stream().sorted().toList(),
                        FmLockTest.names(dir), "killed: " + killed);
            }
            live.go();
            assertEquals(1, live.exit(), live.output());
        }
        assertEquals(List.of("l.owner.bash", "other.owner.x"), FmLockTest.names(dir));
    }

    /**
     * A release now takes the steal mutex, so a SIGKILL there can leave the mutex behind with no
     * lock at all. Every create backs off from a steal mutex, and with no lock there is nothing
     * abandoned to reclaim: without care that wedges the lock forever.
     */
    @Test
    void aStealMutexLeftByAReleaseKilledMidwayDoesNotWedgeTheLock() throws Exception {
        Path dir = kit.tempDir("fm-release");
        Path lock = dir.resolve("l");
        Path steal = dir.resolve("l.steal");
        // Stopped with the link removed; the mutex's own removal comes next.
        try (Debuggee d = stoppedInRelease(lock, "1", 2)) {
            assertFalse(Files.exists(lock, LinkOption.NOFOLLOW_LINKS), "stopped after the link went");
            assertEquals(d.pid() + "\n", Files.readString(steal.resolve("pid")), "stopped holding the steal mutex");
            d.process().destroyForcibly();
            assertTrue(d.process().waitFor(30, TimeUnit.SECONDS));
        }
        // The same state by hand (an older tool's stealer killed after its removal), then both ways in.
        for (boolean byHand : List.of(false, true)) {
            if (byHand) FmLockTest.linkLock(steal, "dead", FmLockTest.deadPid() + "\n");
            assertTrue(Files.exists(steal, LinkOption.NOFOLLOW_LINKS));
            try (FmLock.Held h = FmLock.tryAcquire(lock, Duration.ZERO).held().orElseThrow()) {
                assertTrue(h.stillHeld());
            }
            assertFalse(Files.exists(steal, LinkOption.NOFOLLOW_LINKS), "the dead mutex was reclaimed");
        }
        FmLockTest.linkLock(steal, "dead2", FmLockTest.deadPid() + "\n");
        TestKit.Result r = kit.run(TestKit.command("FmLock.java", "try-acquire", lock.toString()), Map.of(), null, LIMIT);
        assertTrue(r.stdout().startsWith("acquired pid="), r.stdout() + r.stderr());
        assertEquals(List.of(), FmLockTest.names(dir));
    }

    /** FmLock.java holding {@code lock} for {@code hold} seconds, stopped at its {@code nth} removal of a lock file. */
    private Debuggee stoppedInRelease(Path lock, String hold, int nth) throws Exception {
        return Debuggee.stoppedAt(kit, TestKit.command("FmLock.java", "try-acquire", lock.toString(), "--hold", hold),
                LockRaceTest.STALE_ZERO, "FmLock", "deleteQuietly", nth);
    }
}
