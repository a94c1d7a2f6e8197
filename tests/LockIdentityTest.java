import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * Evidence that can condemn a live holder must survive a wall-clock
 * step, and a process hidden from /proc is not dead. A pid file's mtime moved back 10 s stands
 * in for the step (it makes the live holder look younger than its pid file, exactly as a step
 * of the computed start instants does).
 */
class LockIdentityTest {
    private static final Map<String, String> STALE_ZERO = Map.of("FM_LOCK_STALE_AFTER", "0");
    private static final Duration LIMIT = Duration.ofSeconds(60);
    @AutoClose private final TestKit kit = new TestKit();

    private TestKit.Lines javaHolder(Path lock) throws Exception {
        TestKit.Lines h = new TestKit.Lines(kit.start(
                TestKit.command("FmLock.java", "try-acquire", lock.toString(), "--hold", "300"), Map.of(), null));
        assertEquals("acquired pid=" + h.process.pid(), h.next(LIMIT), h.err.toString());
        return h;
    }

    /** The step: the pid file now looks written 10 s before its writer started. */
    private static void stepTheClock(Path lock, long pid) throws Exception {
        FileTime before = FileTime.from(FmProc.startOf(pid).orElseThrow().minusSeconds(10));
        Files.setLastModifiedTime(lock.resolve("pid"), before);
    }

    @Test
    void aClockStepNeverMakesJavaStealFromALiveJavaHolder() throws Exception {
        Path dir = kit.tempDir("fm-ident");
        Path lock = dir.resolve("l");
        TestKit.Lines holder = javaHolder(lock);
        long pid = holder.process.pid();
        Path owner = Files.readSymbolicLink(lock);
        stepTheClock(lock, pid);
        FmLock.Attempt a = FmLock.tryAcquire(lock, Duration.ZERO);
        a.held().ifPresent(FmLock.Held::close);
        assertFalse(a.acquired(), "a live Java holder was robbed after a clock step");
        assertEquals(OptionalLong.of(pid), a.holder());
        TestKit.Result rival = kit.run(TestKit.command("FmLock.java", "try-acquire", lock.toString()), STALE_ZERO, null, LIMIT);
        assertEquals("held pid=" + pid + "\n", rival.stdout(), rival.stderr());
        assertEquals(owner, Files.readSymbolicLink(lock));
        assertTrue(holder.process.isAlive());
        // What proved it: its identity, recorded when the lock was claimed, with no caller's help.
        assertEquals(FmProc.identity(pid).orElseThrow() + "\n", Files.readString(owner.resolve("pid-identity")));
    }

    @Test
    void theIdentityIsBootAndTicksAndDoesNotDependOnTheWallClock() throws Exception {
        Process p = kit.sleeper();
        assertTrue(TestKit.waitFor(LIMIT, () -> FmProc.identity(p.pid()).isPresent()));
        String id = FmProc.identity(p.pid()).orElseThrow();
        String boot = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
        String stat = Files.readString(Path.of("/proc/" + p.pid() + "/stat"));
        String ticks = stat.substring(stat.lastIndexOf(')') + 2).split(" ")[19];
        String ns = Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString().replaceAll("[^0-9]", "");
        assertTrue(id.startsWith("fm-java-2 pid=" + p.pid() + " boot=" + boot + " ticks=" + ticks + " pidns=" + ns + " "), id);
        assertEquals(Identity.Verdict.SAME, Identity.of(p.pid(), id));
        assertEquals(Identity.Verdict.OTHER, Identity.of(p.pid(), id.replace("ticks=" + ticks + " ", "ticks=" + (Long.parseLong(ticks) - 1) + " ")));
        String otherBoot = "00000000-0000-0000-0000-000000000000";
        assertEquals(Identity.Verdict.OTHER, Identity.of(p.pid(), id.replace("boot=" + boot, "boot=" + otherBoot)));
    }

    /** fm-java-1 lines (start in epoch ms) are read sensibly: a shifted start alone proves nothing. */
    @Test
    void anOldIdentityLineWithAShiftedStartKeepsItsLiveHolder() throws Exception {
        Path dir = kit.tempDir("fm-ident");
        Process holder = kit.sleeper();
        assertTrue(TestKit.waitFor(LIMIT, () -> holder.info().command().isPresent()));
        long pid = holder.pid();
        long start = FmProc.startOf(pid).orElseThrow().toEpochMilli();
        String exe = holder.info().command().orElseThrow();
        Path shifted = FmLockTest.dirLock(dir.resolve("shifted"), pid + "\n");
        Files.writeString(shifted.resolve("pid-identity"), "fm-java-1 pid=" + pid + " start=" + (start - 10_000) + " exe=" + exe + "\n");
        stepTheClock(shifted, pid);
        assertEquals(Identity.Verdict.UNKNOWN, Identity.of(pid, Files.readString(shifted.resolve("pid-identity")).strip()));
        FmLock.Attempt a = FmLock.tryAcquire(shifted, Duration.ZERO);
        a.held().ifPresent(FmLock.Held::close);
        assertFalse(a.acquired(), "an old line with a shifted start condemned a live holder");
        assertEquals(pid + "\n", Files.readString(shifted.resolve("pid")));
        // Another executable under that pid is proof of another process whatever the clock did.
        Path other = FmLockTest.dirLock(dir.resolve("other"), pid + "\n");
        Files.writeString(other.resolve("pid-identity"), "fm-java-1 pid=" + pid + " start=" + (start - 10_000) + " exe=/opt/gone/java\n");
        try (FmLock.Held h = FmLock.tryAcquire(other, Duration.ZERO).held().orElseThrow()) {
            assertTrue(h.stillHeld());
        }
        // And an exact old line proves the holder.
        assertEquals(Identity.Verdict.SAME, Identity.of(pid, "fm-java-1 pid=" + pid + " start=" + start + " exe=" + exe));
        assertTrue(holder.isAlive());
    }

    /**
     * A contender running as nobody, with /proc remounted hidepid=2 in its own mount namespace,
     * cannot see root's holder at all; kill -0 would say "not permitted". Seeing nothing is not
     * death: the lock stays with its holder, with or without an identity record.
     */
    @Test
    void aHolderHiddenFromProcIsAlive() throws Exception {
        assumeTrue("root".equals(Files.getOwner(Path.of("/proc/self")).getName()), "needs root to mount /proc and run as nobody");
        Path dir = kit.tempDir("fm-hidden");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        List<String> cmd = LockRaceTest.fmLockCopiedTo(dir);
        cmd.addAll(0, List.of("unshare", "-m", "sh", "-c",
                "mount -t proc -o hidepid=2 proc /proc && exec runuser -u nobody -- \"$@\"", "sh"));
        Process holder = kit.sleeper();
        assertTrue(TestKit.waitFor(LIMIT, () -> FmProc.identity(holder.pid()).isPresent()));
        LockRaceTest.assertHolderKeepsItsLock(kit, dir, cmd, holder);
        // The same contender does reclaim a dead holder's lock there (the test can fail both ways).
        Path dead = FmLockTest.dirLock(dir.resolve("dead"), FmLockTest.deadPid() + "\n");
        Files.setPosixFilePermissions(dead, PosixFilePermissions.fromString("rwxrwxrwx"));
        List<String> attempt = new ArrayList<>(cmd);
        attempt.addAll(List.of("try-acquire", dead.toString()));
        TestKit.Result r = kit.run(attempt, STALE_ZERO, null, LIMIT);
        assertTrue(r.stdout().startsWith("acquired pid="), r.stdout() + r.stderr());
    }

    /**
     * A bash watcher's lock: its ps line's start moved with the clock step, its command line did
     * not. The live process whose command line is the recorded one keeps the lock; one running
     * another command is a recycled pid and is reclaimed, whatever the clock says.
     */
    @Test
    void aBashLineWhoseCommandIsTheLiveOneKeepsItsHolderAcrossAClockStep() throws Exception {
        Path dir = kit.tempDir("fm-ident");
        Process holder = kit.sleeper();
        long pid = holder.pid();
        assertTrue(TestKit.waitFor(LIMIT, () -> BashIdentity.commandLine(pid).isPresent()));
        java.time.Instant start = FmProc.startOf(pid).orElseThrow();
        String shiftedStart = BashIdentity.lstart(start.plusSeconds(10), java.time.ZoneId.systemDefault());
        Path same = FmLockTest.dirLock(dir.resolve("same"), pid + "\n");
        Files.writeString(same.resolve("pid-identity"), shiftedStart + " " + BashIdentity.commandLine(pid).orElseThrow() + "\n");
        stepTheClock(same, pid);
        FmLock.Attempt a = FmLock.tryAcquire(same, Duration.ZERO);
        a.held().ifPresent(FmLock.Held::close);
        assertFalse(a.acquired(), "a live bash watcher was robbed after a clock step");
        Path other = FmLockTest.dirLock(dir.resolve("other"), pid + "\n");
        Files.writeString(other.resolve("pid-identity"), BashIdentity.lstart(start, java.time.ZoneId.systemDefault())
                + " bash /opt/firstmate/fm-watch.sh\n");
        try (FmLock.Held h = FmLock.tryAcquire(other, Duration.ZERO).held().orElseThrow()) {
            assertTrue(h.stillHeld());
        }
        assertTrue(holder.isAlive());
    }
}
