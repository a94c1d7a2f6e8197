import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.Map;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * Identity's table, row by row, against real processes: every caller (the lock, the arm, the
 * ledger, a drain's files, fm-status) reads its verdict from here. The rows a live holder meets
 * in a lock are also exercised end to end by ReusedPidTest, LockIdentityTest, BashIdentityTest
 * and PidNamespaceTest; these are the verdicts themselves.
 */
class IdentityTest {
    private static final Duration LIMIT = Duration.ofSeconds(60);
    @AutoClose private final TestKit kit = new TestKit();

    /** A live process whose /proc facts are readable. */
    private Process live() throws Exception {
        Process p = kit.sleeper();
        assertTrue(TestKit.waitFor(LIMIT, () -> FmProc.identity(p.pid()).isPresent()
                && BashIdentity.commandLine(p.pid()).isPresent()));
        return p;
    }

    @Test
    void absentLinesProveNothingUnlessTheProcessIsYoungerThanTheRecord() throws Exception {
        long pid = live().pid();
        for (String line : new String[] {null, "", "   ", "\n"}) {
            assertEquals(Identity.Verdict.UNKNOWN, Identity.of(pid, line), "line: [" + line + "]");
        }
        Instant start = FmProc.startOf(pid).orElseThrow();
        // Written after the process started (as its writer would have): proves nothing.
        assertEquals(Identity.Verdict.UNKNOWN, Identity.of(pid, null, start.plusSeconds(1)));
        // Written well before it started: this process cannot have written it.
        assertEquals(Identity.Verdict.OTHER, Identity.of(pid, null, start.minusSeconds(60)));
        assertEquals(Identity.Verdict.OTHER, Identity.of(pid, "", start.minusSeconds(60)));
    }

    @Test
    void oursDecidesOnPidBootAndTicks() throws Exception {
        long pid = live().pid();
        String id = FmProc.identity(pid).orElseThrow();
        assertEquals(Identity.Verdict.SAME, Identity.of(pid, id));
        long ticks = FmProc.startTicks(pid).orElseThrow();
        assertEquals(Identity.Verdict.OTHER, Identity.of(pid, id.replace(" ticks=" + ticks + " ", " ticks=" + (ticks + 1) + " ")));
        assertEquals(Identity.Verdict.OTHER, Identity.of(pid, id.replace("pid=" + pid + " ", "pid=" + (pid + 1) + " ")));
        String boot = FmProc.bootId().orElseThrow();
        assertEquals(Identity.Verdict.OTHER, Identity.of(pid, id.replace(boot, "00000000-0000-0000-0000-000000000000")));
        // The boot id without its dashes (a drain's file name) is the same boot.
        assertEquals(Identity.Verdict.SAME, Identity.of(pid, id.replace(boot, boot.replace("-", ""))));
        // Without the executable or the namespace (older lines of ours) it still decides.
        assertEquals(Identity.Verdict.SAME, Identity.of(pid, id.substring(0, id.indexOf(" pidns="))));
    }

    @Test
    void legacyDecidesOnlyOnAMatchAPidOrAnExecutable() throws Exception {
        Process p = live();
        long pid = p.pid();
        long start = FmProc.startOf(pid).orElseThrow().toEpochMilli();
        String exe = p.info().command().orElseThrow();
        assertEquals(Identity.Verdict.SAME, Identity.of(pid, "fm-java-1 pid=" + pid + " start=" + start + " exe=" + exe));
        assertEquals(Identity.Verdict.UNKNOWN, Identity.of(pid, "fm-java-1 pid=" + pid + " start=" + (start - 10_000) + " exe=" + exe));
        assertEquals(Identity.Verdict.OTHER, Identity.of(pid, "fm-java-1 pid=" + pid + " start=" + (start - 10_000) + " exe=/opt/gone/java"));
        assertEquals(Identity.Verdict.OTHER, Identity.of(pid, "fm-java-1 pid=" + (pid + 1) + " start=" + start + " exe=" + exe));
    }

    /** A line of ours cut short (a reader between a writer's truncate and its write) is still ours. */
    @Test
    void oursButUnreadableProvesNothing() throws Exception {
        long pid = live().pid();
        String id = FmProc.identity(pid).orElseThrow();
        for (String line : new String[] {"f", "fm-ja", "fm-java-", "fm-java-2", "fm-java-2 pid=", id.substring(0, 20), "fm-java-3 pid=1 what=next"}) {
            assertEquals(Identity.Verdict.UNKNOWN, Identity.of(pid, line), "line: " + line);
        }
    }

    @Test
    void bashLinesDecideOnTheCommandLineAndAnExactStart() throws Exception {
        long pid = live().pid();
        Instant start = FmProc.startOf(pid).orElseThrow();
        ZoneId zone = ZoneId.systemDefault();
        String command = BashIdentity.commandLine(pid).orElseThrow();
        assertEquals(Identity.Verdict.SAME, Identity.of(pid, BashIdentity.lstart(start, zone) + " " + command));
        // The same command line, its start off by a clock step: such a watcher, not proven this one.
        assertEquals(Identity.Verdict.UNKNOWN, Identity.of(pid, BashIdentity.lstart(start.plusSeconds(10), zone) + " " + command));
        // Another command line: another process, whatever the start says.
        assertEquals(Identity.Verdict.OTHER, Identity.of(pid, BashIdentity.lstart(start, zone) + " bash /opt/firstmate/bin/fm-watch.sh"));
    }

    @Test
    void anUnparsableLineMeansThePidWasReused() throws Exception {
        long pid = live().pid();
        for (String line : new String[] {"stale watcher identity", "garbage", pid + " Fri Nov 27 01:02:03 2026 bash fm-watch.sh",
                "bash-lstart pid=" + pid + " Thu Jan  1 00:00:00 1970", "v1:stale watcher identity"}) {
            assertEquals(Identity.Verdict.OTHER, Identity.of(pid, line), "line: " + line);
        }
    }

    @Test
    void noProcessUnderThePidIsDeadWhateverTheLine() throws Exception {
        long dead = FmLockTest.deadPid();
        String someone = FmProc.identity(ProcessHandle.current().pid()).orElseThrow();
        for (String line : new String[] {null, "", "stale watcher identity", "fm-java-2 pid=" + dead + " boot=x ticks=1",
                someone.replace("pid=" + ProcessHandle.current().pid() + " ", "pid=" + dead + " ")}) {
            assertEquals(Identity.Verdict.DEAD, Identity.of(dead, line), "line: " + line);
        }
        assertTrue(Identity.Verdict.DEAD.writerGone());
        assertTrue(Identity.Verdict.OTHER.writerGone());
        assertFalse(Identity.Verdict.UNKNOWN.writerGone());
        assertFalse(Identity.Verdict.SAME.writerGone());
    }

    /**
     * A line of ours from another pid namespace of this boot names a process invisible from
     * here: UNKNOWN whether or not something here has that pid (PidNamespaceTest runs the real
     * thing under unshare). From another boot it is no such line: that process is gone.
     */
    @Test
    void aLineFromAnotherPidNamespaceProvesNothing() throws Exception {
        long pid = live().pid();
        String id = FmProc.identity(pid).orElseThrow();
        String ns = FmProc.pidNamespace().orElseThrow();
        String elsewhere = id.replace(" pidns=" + ns + " ", " pidns=" + (Long.parseLong(ns) + 1) + " ");
        assertTrue(Identity.fromAnotherPidNamespace(elsewhere), elsewhere);
        assertEquals(Identity.Verdict.UNKNOWN, Identity.of(pid, elsewhere));
        long dead = FmLockTest.deadPid();
        assertEquals(Identity.Verdict.UNKNOWN, Identity.of(dead, elsewhere.replace("pid=" + pid + " ", "pid=" + dead + " ")));
        String otherBoot = elsewhere.replace(FmProc.bootId().orElseThrow(), "00000000-0000-0000-0000-000000000000");
        assertFalse(Identity.fromAnotherPidNamespace(otherBoot));
        assertEquals(Identity.Verdict.OTHER, Identity.of(pid, otherBoot));
    }

    /** The lock's view is the verdict with its pid file's time; our own pid is ourselves. */
    @Test
    void theLockAsksTheSameVerdict() throws Exception {
        long pid = live().pid();
        Path dir = kit.tempDir("fm-identity");
        Path lock = FmLockTest.dirLock(dir.resolve("l"), pid + "\n");
        for (Map.Entry<String, Identity.Verdict> row : Map.of(
                FmProc.identity(pid).orElseThrow(), Identity.Verdict.SAME,
                "stale watcher identity", Identity.Verdict.OTHER,
                "fm-java-2 pid=", Identity.Verdict.UNKNOWN).entrySet()) {
            Files.writeString(lock.resolve("pid-identity"), row.getKey() + "\n");
            FmLock.Snapshot s = FmLock.Snapshot.of(lock);
            assertEquals(row.getValue(), s.holder(), row.getKey());
            assertEquals(!row.getValue().writerGone(), s.holderAlive(), row.getKey());
        }
        Files.delete(lock.resolve("pid-identity"));
        assertEquals(Identity.Verdict.UNKNOWN, FmLock.Snapshot.of(lock).holder(), "pid file written after the process started");
    }
}
