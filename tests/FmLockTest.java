import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * FmLock in one JVM: threads as contenders, and lock states built on disk exactly as a crashed,
 * paused, foreign or hand-made holder would leave them (docs/lock.md). Process-level races, the
 * command line and debugger-paused contenders are in LockRaceTest. One file despite its
 * length: each hand-made lock state is a case of docs/lock.md "Liveness" and "Identity", and
 * they share the builders that lay them out on disk.
 */
class FmLockTest {
    private static final long ME = ProcessHandle.current().pid();
    private static final Duration ZERO = Duration.ZERO; // FM_LOCK_STALE_AFTER=0, the harshest setting
    @AutoClose private final TestKit kit = new TestKit();

    // ------------------------------------------------------------------ threads

    @Test
    void threadsOfOneJvmRacingAFreshLockYieldExactlyOneWinner() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            for (int round = 0; round < 40; round++) {
                Path lock = dir.resolve("l" + round);
                CyclicBarrier gate = new CyclicBarrier(threads);
                List<Future<FmLock.Attempt>> tries = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    tries.add(pool.submit(() -> {
                        gate.await();
                        return FmLock.tryAcquire(lock, ZERO);
                    }));
                }
                List<FmLock.Attempt> won = new ArrayList<>();
                for (Future<FmLock.Attempt> f : tries) {
                    FmLock.Attempt a = f.get(30, TimeUnit.SECONDS);
                    if (a.acquired()) won.add(a);
                    // A loser names the winner, or no one when it read the pid file during the
                    // winner's claim rewrite (see aLinkedLockNeverShowsAnEmptyPid).
                    else assertTrue(a.holder().isEmpty() || a.holder().getAsLong() == ME, "a loser names " + a.holder());
                }
                assertEquals(1, won.size(), "round " + round + ": winners");
                FmLock.Held h = won.get(0).held().get();
                assertTrue(h.stillHeld());
                h.close();
                assertFalse(Files.exists(lock, LinkOption.NOFOLLOW_LINKS), "release removes the lock");
            }
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        }
        assertEquals(List.of(), names(dir), "no owner directory or steal mutex is left behind");
    }

    @Test
    void oneThreadsReleaseNeverRemovesAnotherThreadsLock() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        Path lock = dir.resolve("l");
        FmLock.Held first = FmLock.tryAcquire(lock, ZERO).held().orElseThrow();
        Path firstOwner = first.ownerDir();
        // As if a stealer had removed the first holder's link: a second holder takes the lock.
        Files.delete(lock);
        FmLock.Held second = runInThread(() -> FmLock.tryAcquire(lock, ZERO).held().orElseThrow());
        assertFalse(first.stillHeld());
        first.close(); // the stale holder's release
        assertTrue(second.stillHeld(), "the other thread's lock survives a stale release");
        assertEquals(second.ownerDir(), Files.readSymbolicLink(lock));
        assertFalse(Files.exists(firstOwner), "the stale holder still cleans up its own token");
        first.close(); // a second release of the same Held is a no-op too
        assertTrue(second.stillHeld());
        second.close();
        // A Held released long ago, closed again while another thread holds the lock: nothing moves.
        FmLock.Held third = runInThread(() -> FmLock.tryAcquire(lock, ZERO).held().orElseThrow());
        second.close();
        assertTrue(third.stillHeld());
        third.close();
        assertEquals(List.of(), names(dir));
    }

    @Test
    void releaseByANonHolderLeavesAnotherProcesssLockAlone() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        Path lock = dir.resolve("l");
        FmLock.Held mine = FmLock.tryAcquire(lock, ZERO).held().orElseThrow();
        // Another process (a live sleep) now holds the lock in link form, as after a theft.
        Process other = kit.sleeper();
        Files.delete(lock);
        Path otherOwner = linkLock(lock, "other", other.pid() + "\n");
        mine.close();
        assertEquals(otherOwner, Files.readSymbolicLink(lock), "the non-holder's release left the link");
        assertEquals(other.pid() + "\n", Files.readString(otherOwner.resolve("pid")));
        // Same for a directory-form lock (bash) that names this very JVM: only the token counts.
        Path dirLock = dir.resolve("d");
        FmLock.Held onD = FmLock.tryAcquire(dirLock, ZERO).held().orElseThrow();
        Files.delete(dirLock);
        dirLock(dirLock, ME + "\n");
        onD.close();
        assertEquals(ME + "\n", Files.readString(dirLock.resolve("pid")), "bash holder's directory untouched");
    }

    /**
     * FAILS as of this writing. The claim rewrites the pid file with a truncating write, so for
     * an instant a freshly linked lock shows an empty pid: a contender looking then reports an
     * unknown holder and judges a live holder's lock mid-acquire. (Safe, thanks to the 2 s floor,
     * but wrong.) A Java lock writes its pid before linking, so it should never look pid-less.
     * Samples for 3 s; the current code shows a few percent of reads empty on this machine.
     */
    @Test
    void aLinkedLockNeverShowsAnEmptyPid() throws Exception {
        Path lock = kit.tempDir("fm-lock").resolve("l");
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread churn = new Thread(() -> {
            while (!stop.get()) FmLock.tryAcquire(lock, ZERO).held().ifPresent(FmLock.Held::close);
        }, "churn");
        churn.start();
        long linked = 0;
        long empty = 0;
        try {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (System.nanoTime() < end) {
                FmLock.Snapshot s = FmLock.Snapshot.of(lock);
                if (s.form() != FmLock.Form.LINK || s.pidText() == null) continue;
                linked++;
                if (s.pid().isEmpty()) empty++;
            }
        } finally {
            stop.set(true);
            churn.join(30_000);
        }
        assertTrue(linked > 50, "sampled a held lock " + linked + " times");
        assertEquals(0, empty, "reads of a held lock's pid file that found no pid, out of " + linked);
    }

    // ------------------------------------------------------------------ live holders

    @Test
    void aLiveHolderIsNeverStolenEvenAtStaleZeroWithOldTimes() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        // A holder thread of this JVM, its link and token aged an hour.
        Path lock = dir.resolve("l");
        try (FmLock.Held h = FmLock.tryAcquire(lock, ZERO).held().orElseThrow()) {
            age(lock, Duration.ofHours(1));
            age(h.ownerDir(), Duration.ofHours(1));
            for (int i = 0; i < 5; i++) {
                FmLock.Attempt a = runInThread(() -> FmLock.tryAcquire(lock, ZERO));
                assertFalse(a.acquired());
                assertEquals(OptionalLong.of(ME), a.holder());
            }
            assertTrue(h.stillHeld());
        }
        // A bash-style directory lock of a live process: directory aged an hour, pid file as old
        // as a real holder's can be (written the instant the process started).
        Process sleeper = kit.sleeper();
        Path d = dir.resolve("d");
        dirLock(d, sleeper.pid() + "\n");
        Files.setLastModifiedTime(d.resolve("pid"), FileTime.from(FmProc.startOf(sleeper.pid()).orElseThrow()));
        age(d, Duration.ofHours(1));
        for (int i = 0; i < 5; i++) {
            FmLock.Attempt a = FmLock.tryAcquire(d, ZERO);
            assertFalse(a.acquired());
            assertEquals(OptionalLong.of(sleeper.pid()), a.holder(), "tryAcquire reports the live holder");
        }
        assertEquals(sleeper.pid() + "\n", Files.readString(d.resolve("pid")));
        // Another JVM holding through the command line, its link and token aged an hour.
        Path p = dir.resolve("p");
        Process holder = kit.start(TestKit.command("FmLock.java", "try-acquire", p.toString(), "--hold", "120"), Map.of(), null);
        StringBuilder out = new StringBuilder();
        TestKit.pump(holder.getInputStream(), out);
        assertTrue(TestKit.waitFor(Duration.ofSeconds(30), () -> text(out).contains("acquired pid=")), text(out));
        Path owner = Files.readSymbolicLink(p);
        age(p, Duration.ofHours(1));
        age(owner, Duration.ofHours(1));
        for (int i = 0; i < 5; i++) {
            FmLock.Attempt a = FmLock.tryAcquire(p, ZERO);
            assertFalse(a.acquired());
            assertEquals(OptionalLong.of(holder.pid()), a.holder());
        }
        assertEquals(owner, Files.readSymbolicLink(p));
        holder.destroy();
        assertTrue(holder.waitFor(30, TimeUnit.SECONDS));
        assertFalse(Files.exists(p, LinkOption.NOFOLLOW_LINKS), "TERM released it");
    }

    // ------------------------------------------------------------------ mid-acquire grace

    @Test
    void anEmptyJustCreatedLockKeepsItsTwoSecondGraceAtStaleZeroThenIsReclaimed() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        Path link = dir.resolve("link");
        Path emptyOwner = dir.resolve("link.owner.paused");
        Files.createDirectory(emptyOwner);
        Files.createSymbolicLink(link, emptyOwner); // a claimant that linked before writing its pid
        Path directory = dir.resolve("dir");
        Files.createDirectory(directory);           // an older tool between mkdir and writing pid
        List<Path> locks = List.of(link, directory);
        List<Instant> made = new ArrayList<>();
        for (Path l : locks) made.add(mtime(l));
        List<FmLock.Held> won = new ArrayList<>();
        int[] refused = new int[2];
        boolean[] reclaimed = new boolean[2];
        boolean done = TestKit.waitFor(Duration.ofSeconds(15), () -> {
            for (int i = 0; i < 2; i++) {
                if (reclaimed[i]) continue;
                FmLock.Attempt a = FmLock.tryAcquire(locks.get(i), ZERO);
                Duration age = Duration.between(made.get(i), Instant.now());
                if (a.acquired()) {
                    assertTrue(age.compareTo(Duration.ofSeconds(2)) >= 0, locks.get(i) + " reclaimed at age " + age);
                    won.add(a.held().get());
                    reclaimed[i] = true;
                } else {
                    assertEquals(OptionalLong.empty(), a.holder(), "holder unknown while mid-acquire");
                    refused[i]++;
                }
            }
            return reclaimed[0] && reclaimed[1];
        });
        assertTrue(done, "both were reclaimed after their grace");
        // Guards against a vacuous pass on a slow machine: the grace was actually exercised.
        assertTrue(refused[0] > 0 && refused[1] > 0, "both were refused during their grace");
        assertFalse(Files.exists(emptyOwner), "the abandoned token went with its link");
        for (FmLock.Held h : won) {
            assertTrue(h.stillHeld());
            h.close();
        }
        assertEquals(List.of(), names(dir));
    }

    @Test
    void aStaleAfterAboveTheFloorStretchesTheGrace() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        Path lock = dir.resolve("l");
        Files.createDirectory(lock);
        age(lock, Duration.ofSeconds(3));
        assertFalse(FmLock.tryAcquire(lock, Duration.ofSeconds(5)).acquired(), "3 s old, 5 s threshold");
        age(lock, Duration.ofSeconds(6));
        try (FmLock.Held h = FmLock.tryAcquire(lock, Duration.ofSeconds(5)).held().orElseThrow()) {
            assertTrue(h.stillHeld());
        }
    }

    @Test
    void pidFilesThatAreNotAPlainPidAreNeverAliveAndReadAsMidAcquire() throws Exception {
        List<String> garbage = List.of("abc", "12ab", "-5", "1".repeat(25), "", "\0\0\0", "12\0", "0",
                "4294967296", " 42", "42 ", "+42");
        assertFalse(FmProc.alive(-5));
        assertFalse(FmProc.alive(0));
        assertFalse(FmProc.alive(4294967296L));
        assertFalse(FmProc.alive(Long.MAX_VALUE));
        Path dir = kit.tempDir("fm-lock");
        int n = 0;
        for (String text : garbage) {
            String shown = text.replace("\0", "\\0");
            assertEquals(OptionalLong.empty(), FmProc.parsePid(text), shown);
            assertEquals(OptionalLong.empty(), FmProc.parsePid(text + "\n"), shown + "\\n");
            for (boolean linkForm : List.of(true, false)) {
                Path lock = dir.resolve("l" + n++);
                Path oldOwner = linkForm ? linkLock(lock, "x", text) : dirLock(lock, text);
                FmLock.Attempt fresh = FmLock.tryAcquire(lock, ZERO);
                assertFalse(fresh.acquired(), "'" + shown + "' fresh is mid-acquire");
                assertEquals(OptionalLong.empty(), fresh.holder(), shown);
                assertEquals(text, Files.readString(oldOwner.resolve("pid"), StandardCharsets.UTF_8), "untouched");
                age(lock, Duration.ofSeconds(3));
                try (FmLock.Held h = FmLock.tryAcquire(lock, ZERO).held().orElseThrow(() ->
                        new AssertionError("'" + shown + "' past the grace is reclaimable"))) {
                    assertTrue(h.stillHeld());
                    if (linkForm) assertFalse(Files.exists(oldOwner), "old token removed");
                }
            }
        }
        assertEquals(List.of(), names(dir));
    }

    // ------------------------------------------------------------------ odd lock paths

    /**
     * A regular file where the lock should be is nothing any lock protocol writes, so nobody
     * may remove it: every acquire fails, naming no holder ("held pid="), until a person
     * deletes the file. A wait gives up at once (nothing will ever release it), saying which path.
     */
    @Test
    void aRegularFileAtTheLockPathIsNeverDeletedAndHasAnUnknownHolder() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        Path lock = dir.resolve("l");
        Files.writeString(lock, "12345\n");
        age(lock, Duration.ofHours(1));
        for (int i = 0; i < 3; i++) {
            FmLock.Attempt a = FmLock.tryAcquire(lock, ZERO);
            assertFalse(a.acquired());
            assertEquals(OptionalLong.empty(), a.holder());
        }
        long t0 = System.nanoTime();
        FmLock.Timeout t = assertThrows(FmLock.Timeout.class, () -> FmLock.acquireWithin(lock, Duration.ofSeconds(30)));
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "the wait gave up without using its 30 s");
        assertFalse(t.waited, "waiting on a regular file could never help");
        assertTrue(t.getMessage().contains(lock.toString()), t.getMessage());
        assertTrue(Files.isRegularFile(lock, LinkOption.NOFOLLOW_LINKS));
        assertEquals("12345\n", Files.readString(lock));
        assertEquals(List.of("l"), names(dir), "no owner directory or steal mutex left behind");
    }

    @Test
    void aDanglingLinkIsMidAcquireThenOnlyTheLinkIsRemoved() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        Path lock = dir.resolve("l");
        Path gone = dir.resolve("gone");
        Files.createSymbolicLink(lock, gone);
        Files.writeString(dir.resolve("keep"), "keep\n");
        FmLock.Attempt fresh = FmLock.tryAcquire(lock, ZERO);
        assertFalse(fresh.acquired());
        assertEquals(OptionalLong.empty(), fresh.holder());
        age(lock, Duration.ofSeconds(3));
        try (FmLock.Held h = FmLock.tryAcquire(lock, ZERO).held().orElseThrow()) {
            assertEquals(h.ownerDir(), Files.readSymbolicLink(lock));
            assertFalse(Files.exists(gone, LinkOption.NOFOLLOW_LINKS), "nothing created where the link pointed");
        }
        assertEquals(List.of("keep"), names(dir));
        // A link to a directory that is not one of the lock's tokens loses only the link, even
        // when that directory holds files with the lock's known names.
        Path user = dir.resolve("user");
        Files.createDirectory(user);
        Files.writeString(user.resolve("fm-home"), "/somewhere\n");
        Files.writeString(user.resolve("notes"), "mine\n");
        Path m = dir.resolve("m");
        Files.createSymbolicLink(m, user);
        age(m, Duration.ofSeconds(3));
        try (FmLock.Held h = FmLock.tryAcquire(m, ZERO).held().orElseThrow()) {
            assertTrue(h.stillHeld());
        }
        assertEquals("/somewhere\n", Files.readString(user.resolve("fm-home")));
        assertEquals("mine\n", Files.readString(user.resolve("notes")));
    }

    // ------------------------------------------------------------------ the steal mutex

    @Test
    void aLiveStealersMutexIsNeverReclaimedEvenWhenOld() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        Path lock = dir.resolve("l");
        long dead = deadPid();
        dirLock(lock, dead + "\n");
        age(lock, Duration.ofHours(1));
        Process stealer = kit.sleeper();
        Path steal = dir.resolve("l.steal");
        Path stealOwner = linkLock(steal, "live", stealer.pid() + "\n");
        age(steal, Duration.ofHours(1));
        age(stealOwner, Duration.ofHours(1));
        List<String> before = names(dir);
        for (int i = 0; i < 5; i++) {
            FmLock.Attempt a = runInThread(() -> FmLock.tryAcquire(lock, ZERO));
            assertFalse(a.acquired(), "the abandoned lock stays while a live stealer holds the mutex");
        }
        assertEquals(before, names(dir));
        assertEquals(stealOwner, Files.readSymbolicLink(steal));
        assertEquals(dead + "\n", Files.readString(lock.resolve("pid")));
        // The stealer releases its mutex (without finishing): now the lock is reclaimable.
        Files.delete(steal);
        TestKit.deleteTree(stealOwner);
        try (FmLock.Held h = FmLock.tryAcquire(lock, ZERO).held().orElseThrow()) {
            assertTrue(h.stillHeld());
        }
        // A stealer that died holding the mutex does not wedge the lock: its mutex is reclaimed
        // through <lock>.steal.steal and everything is cleaned up.
        dirLock(lock, dead + "\n");
        Path deadSteal = linkLock(steal, "dead", dead + "\n");
        try (FmLock.Held h = FmLock.tryAcquire(lock, ZERO).held().orElseThrow()) {
            assertTrue(h.stillHeld());
            assertFalse(Files.exists(deadSteal));
        }
        assertEquals(List.of(), names(dir));
    }

    @Test
    void aStealMutexWithNoPidYetKeepsItsTwoSecondGraceAtStaleZero() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        Path lock = dir.resolve("l");
        dirLock(lock, deadPid() + "\n");
        Path steal = dirLock(dir.resolve("l.steal"), null); // a bash stealer between mkdir and its pid
        for (int i = 0; i < 3; i++) assertFalse(FmLock.tryAcquire(lock, ZERO).acquired());
        assertEquals(List.of("l", "l.steal"), names(dir));
        age(steal, Duration.ofSeconds(3));
        try (FmLock.Held h = FmLock.tryAcquire(lock, ZERO).held().orElseThrow()) {
            assertTrue(h.stillHeld());
        }
        assertEquals(List.of(), names(dir));
    }

    @Test
    void aClaimantThatFindsAStealInProgressBacksOff() throws Exception {
        // The state a claimant faces when it links a lock that a live stealer has just removed
        // and not yet recreated: no lock, a steal mutex held by a live process.
        Path dir = kit.tempDir("fm-lock");
        Path lock = dir.resolve("l");
        Process stealer = kit.sleeper();
        Path stealOwner = linkLock(dir.resolve("l.steal"), "live", stealer.pid() + "\n");
        List<String> before = names(dir);
        for (int i = 0; i < 5; i++) {
            FmLock.Attempt a = FmLock.tryAcquire(lock, ZERO);
            assertFalse(a.acquired(), "backs off");
        }
        assertEquals(before, names(dir), "its link and token are gone, the stealer's mutex is untouched");
        assertEquals(stealOwner, Files.readSymbolicLink(dir.resolve("l.steal")));
    }

    // ------------------------------------------------------------------ recycled pids

    @Test
    void aRecycledPidYoungerThanThePidFileIsReclaimedByExactlyOne() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        Process young = kit.sleeper(); // started a moment ago; the pid file below is an hour old
        Path lock = dir.resolve("l");
        dirLock(lock, young.pid() + "\n");
        age(lock.resolve("pid"), Duration.ofHours(1));
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<FmLock.Held> won = new ArrayList<>();
        // One round may end with no winner (a plain create can slip in after the removal, see the
        // steal mutex and back off, and make the stealer's own create fail): the protocol promises
        // at most one winner at a time and no lasting wedge, so race in rounds until one wins.
        try {
            for (int round = 0; round < 20 && won.isEmpty(); round++) {
                CyclicBarrier gate = new CyclicBarrier(threads);
                List<Future<FmLock.Attempt>> tries = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    tries.add(pool.submit(() -> {
                        gate.await();
                        return FmLock.tryAcquire(lock, Duration.ofSeconds(2));
                    }));
                }
                for (Future<FmLock.Attempt> f : tries) f.get(30, TimeUnit.SECONDS).held().ifPresent(won::add);
                assertTrue(won.size() <= 1, "two threads reclaimed it in one round");
            }
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
        }
        assertEquals(1, won.size(), "exactly one reclaims it");
        assertTrue(won.get(0).stillHeld());
        won.get(0).close();
        assertTrue(young.isAlive(), "reclaiming never signals the unrelated process");
        // A wait on such a lock does not spin until its deadline.
        Path waited = dir.resolve("w");
        dirLock(waited, young.pid() + "\n");
        age(waited.resolve("pid"), Duration.ofHours(1));
        long t0 = System.nanoTime();
        try (FmLock.Held h = FmLock.acquireWithin(waited, Duration.ofSeconds(30))) {
            assertTrue(h.stillHeld());
        }
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(3), "acquireWithin returned promptly");
    }

    @Test
    void aLiveProcessThatStartedBeforeItsPidFileKeepsTheLock() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        Process holder = kit.sleeper();
        Instant start = FmProc.startOf(holder.pid()).orElseThrow();
        Path now = dir.resolve("now");
        dirLock(now, holder.pid() + "\n"); // written after it started
        Path edge = dir.resolve("edge");
        dirLock(edge, holder.pid() + "\n");
        // A second before its start instant as we read it: within the 2 s margin.
        Files.setLastModifiedTime(edge.resolve("pid"), FileTime.from(start.minusSeconds(1)));
        for (Path l : List.of(now, edge)) {
            FmLock.Attempt a = FmLock.tryAcquire(l, ZERO);
            assertFalse(a.acquired(), l.toString());
            assertEquals(OptionalLong.of(holder.pid()), a.holder());
        }
    }

    @Test
    void anIdentityRecordDecidesWhetherAPidWasRecycled() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        Process holder = kit.sleeper();
        long pid = holder.pid();
        String ours = FmProc.identity(pid).orElseThrow();
        assertTrue(Identity.ours(ours), ours);
        // Our format, matching: the holder.
        Path matching = dir.resolve("matching");
        dirLock(matching, pid + "\n");
        Files.writeString(matching.resolve("pid-identity"), ours + "\n");
        FmLock.Attempt held = FmLock.tryAcquire(matching, ZERO);
        assertFalse(held.acquired(), matching.toString());
        assertEquals(OptionalLong.of(pid), held.holder());
        // A line no writer of ours or of the bash tools would write for this process (older than
        // its pid file): not its identity, so the pid was reused, and the lock is reclaimable.
        Path foreign = dir.resolve("foreign");
        dirLock(foreign, pid + "\n");
        Files.writeString(foreign.resolve("pid-identity"), "bash-lstart pid=" + pid + " Thu Jan  1 00:00:00 1970\n");
        try (FmLock.Held h = FmLock.tryAcquire(foreign, ZERO).held().orElseThrow()) {
            assertTrue(h.stillHeld());
        }
        // Our format for a different start of that pid: a recycled pid, reclaimable.
        long ticks = FmProc.startTicks(pid).orElseThrow();
        Path other = dir.resolve("other");
        dirLock(other, pid + "\n");
        Files.writeString(other.resolve("pid-identity"), ours.replace("ticks=" + ticks + " ", "ticks=" + (ticks + 1) + " ") + "\n");
        assertNotEquals(ours, Files.readString(other.resolve("pid-identity")).trim(), "the test changed the start");
        try (FmLock.Held h = FmLock.tryAcquire(other, ZERO).held().orElseThrow()) {
            assertTrue(h.stillHeld());
        }
        assertTrue(holder.isAlive());
    }

    /**
     * FAILS with FmProc/FmLock as of this writing. The identity line includes the executable's
     * path as /proc shows it, and Linux appends " (deleted)" once the file is removed or replaced
     * (a JDK upgrade under a running watcher). The same live process then yields a different
     * line, FmLock judges its pid recycled, and a second contender takes a lock whose holder is
     * alive: two watchers.
     */
    @Test
    void aHolderWhoseExecutableWasReplacedKeepsItsLock() throws Exception {
        Path dir = kit.tempDir("fm-lock");
        Path copy = dir.resolve("sleep-copy");
        Files.copy(Path.of("/bin/sleep"), copy);
        assertTrue(copy.toFile().setExecutable(true));
        Process holder = kit.start(List.of(copy.toString(), "3600"), Map.of(), null);
        assertTrue(TestKit.waitFor(Duration.ofSeconds(10),
                () -> FmProc.identity(holder.pid()).orElse("").contains(copy.toString())));
        String recorded = FmProc.identity(holder.pid()).orElseThrow();
        Path lock = dir.resolve("l");
        dirLock(lock, holder.pid() + "\n");
        Files.writeString(lock.resolve("pid-identity"), recorded + "\n");
        Files.delete(copy); // the binary is replaced on disk; the process runs on
        FmLock.Attempt a = FmLock.tryAcquire(lock, ZERO);
        a.held().ifPresent(FmLock.Held::close);
        assertFalse(a.acquired(), "a live holder was robbed");
        assertEquals(recorded, FmProc.identity(holder.pid()).orElse(""),
                "docs/lock.md: the same live process always yields the same identity line");
    }

    /**
     * FAILS as of this writing. Reached through a symbolic link to its directory (macOS /tmp,
     * a linked home), a dead holder's link is removed but its owner directory is left behind:
     * removeAbandoned compares the target's parent (physical) with the lock's parent (as given).
     */
    @Test
    void reclaimingThroughALinkedDirectoryAlsoRemovesTheDeadTokenDirectory() throws Exception {
        Path base = kit.tempDir("fm-lock");
        Path real = Files.createDirectory(base.resolve("real"));
        Path linked = Files.createSymbolicLink(base.resolve("linked"), real);
        Path token = linkLock(real.resolve("l"), "dead", deadPid() + "\n");
        try (FmLock.Held h = FmLock.tryAcquire(linked.resolve("l"), ZERO).held().orElseThrow()) {
            assertTrue(h.stillHeld());
        }
        assertFalse(Files.exists(token), "the dead holder's token " + token + " was left behind");
    }

    // ------------------------------------------------------------------ helpers

    /** A link-form lock pointing at a fresh token {@code <lock>.owner.<suffix>} whose pid file holds {@code pid} (none if null). */
    static Path linkLock(Path lock, String suffix, String pid) throws IOException {
        Path owner = lock.resolveSibling(lock.getFileName() + ".owner." + suffix);
        Files.createDirectory(owner);
        if (pid != null) Files.writeString(owner.resolve("pid"), pid, StandardCharsets.UTF_8);
        Files.createSymbolicLink(lock, owner);
        return owner;
    }

    /** A directory-form lock, as older tools make it; returns the lock itself. */
    static Path dirLock(Path lock, String pid) throws IOException {
        Files.createDirectory(lock);
        if (pid != null) Files.writeString(lock.resolve("pid"), pid, StandardCharsets.UTF_8);
        return lock;
    }

    /** Sets the mtime of {@code p} itself (not a link's target) to {@code by} ago. */
    static void age(Path p, Duration by) throws IOException {
        Files.getFileAttributeView(p, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                .setTimes(FileTime.from(Instant.now().minus(by)), null, null);
    }

    static Instant mtime(Path p) throws IOException {
        return Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toInstant();
    }

    /** A pid that named a process of ours which has exited and been reaped. */
    static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertFalse(FmProc.alive(p.pid()));
        return p.pid();
    }

    static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    static String text(StringBuilder sb) {
        synchronized (sb) {
            return sb.toString();
        }
    }

    interface Body<T> {
        T run() throws Exception;
    }

    /** Runs {@code body} on a thread of its own (a distinct contender) and returns its result. */
    static <T> T runInThread(Body<T> body) throws Exception {
        ExecutorService one = Executors.newSingleThreadExecutor();
        try {
            return one.submit(body::run).get(30, TimeUnit.SECONDS);
        } finally {
            one.shutdownNow();
        }
    }
}
