import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A process we cannot see is not dead, across pid namespaces: two
 * containers sharing a home share the boot but not their pids. A holder in another namespace
 * wrote a pid that names nothing here, or (pid 1, say) an unrelated live process; before its
 * identity recorded the namespace, the contender judged it dead or recycled and took the lock
 * beside it. Real namespaces: each holder or contender runs under {@code unshare --pid --fork
 * --mount-proc}, which needs root.
 */
class PidNamespaceTest {
    private static final Duration LIMIT = Duration.ofSeconds(60);
    @AutoClose private final TestKit kit = new TestKit();

    @BeforeEach
    void needsNamespaces() throws Exception {
        assumeTrue("root".equals(Files.getOwner(Path.of("/proc/self")).getName()), "creating a pid namespace needs root");
        TestKit.Result probe = kit.run(List.of("unshare", "--pid", "--fork", "--mount-proc", "true"), Map.of(), null, LIMIT);
        assumeTrue(probe.exit() == 0, "unshare cannot create a pid namespace here: " + probe.stderr().strip());
    }

    /** {@code script args} run as the first process of a new pid namespace; it dies with us. */
    private static List<String> inNewPidNamespace(String script, String... args) {
        List<String> cmd = new ArrayList<>(List.of("unshare", "--pid", "--fork", "--kill-child", "--mount-proc"));
        cmd.addAll(TestKit.command(script, args));
        return cmd;
    }

    @Test
    void aHolderInAnotherPidNamespaceKeepsItsLock() throws Exception {
        Path lock = kit.tempDir("fm-pidns").resolve("l");
        TestKit.Lines holder = new TestKit.Lines(kit.start(
                inNewPidNamespace("FmLock.java", "try-acquire", lock.toString(), "--hold", "300"), Map.of(), null));
        // Exactly this line: a JVM that kept a perf-data file would first warn on stdout that
        // /tmp/hsperfdata_<user>/1 is another namespace's (every command runs -XX:-UsePerfData).
        assertEquals("acquired pid=1", holder.next(LIMIT), holder.err());
        Path owner = Files.readSymbolicLink(lock);
        String identity = Files.readString(owner.resolve("pid-identity"));
        assertTrue(identity.matches("fm-java-2 pid=1 boot=\\S+ ticks=[0-9]+ pidns=[0-9]+ .*\n"), identity);
        assertNotEquals(FmProc.pidNamespace().orElseThrow(), identity.replaceAll(".* pidns=([0-9]+) .*\n", "$1"));
        // Here pid 1 is init, alive and started long before the holder: both the recycled-pid rule
        // and the tick compare would condemn the holder, were its namespace not recorded.
        FmLock.Attempt a = FmLock.tryAcquire(lock, Duration.ZERO);
        a.held().ifPresent(FmLock.Held::close);
        assertFalse(a.acquired(), "a contender took the lock of a live holder in another pid namespace");
        assertEquals(OptionalLong.of(1), a.holder());
        TestKit.Result rival = kit.run(TestKit.command("FmLock.java", "try-acquire", lock.toString()),
                Map.of("FM_LOCK_STALE_AFTER", "0"), null, LIMIT);
        assertEquals("held pid=1\n", rival.stdout(), rival.stderr());
        assertEquals(owner, Files.readSymbolicLink(lock));
        assertTrue(Files.isDirectory(owner), "a winner's sweep removed a live holder's owner directory");
        assertTrue(holder.process.isAlive());
    }

    @Test
    void aContenderInAnotherPidNamespaceLeavesALiveHolderAlone() throws Exception {
        Path lock = kit.tempDir("fm-pidns").resolve("l");
        TestKit.Lines holder = new TestKit.Lines(kit.start(
                TestKit.command("FmLock.java", "try-acquire", lock.toString(), "--hold", "300"), Map.of(), null));
        assertEquals("acquired pid=" + holder.process.pid(), holder.next(LIMIT), holder.err());
        Path owner = Files.readSymbolicLink(lock);
        // Inside, the holder's pid names nothing (or someone else): it must still not be robbed.
        TestKit.Lines rival = new TestKit.Lines(kit.start(inNewPidNamespace("FmLock.java", "try-acquire", lock.toString()),
                Map.of("FM_LOCK_STALE_AFTER", "0"), null));
        assertEquals("held pid=" + holder.process.pid(), rival.next(LIMIT), rival.err());
        assertEquals(1, rival.exit(LIMIT), rival.err());
        assertEquals(owner, Files.readSymbolicLink(lock));
        assertTrue(holder.process.isAlive());
    }

    @Test
    void theArmAndStatusNeverReplaceOrSignalAWatcherInAnotherPidNamespace() throws Exception {
        TestKit.Home home = new TestKit.Home(kit, "fm-pidns-home")
                .set("FM_POLL", "0.5", "FM_HEARTBEAT", "3600", "FM_CHECK_INTERVAL", "3600", "FM_ARM_CONFIRM_TIMEOUT", "3");
        // No task and no check: nothing wakes the watcher inside, so it holds the lock until killed.
        Process inside = kit.start(inNewPidNamespace("fm-watch.java"), home.env, home.home);
        Path lock = home.state.resolve(".watch.lock");
        assertTrue(TestKit.waitFor(LIMIT, () -> {
            try {
                return Files.readString(lock.resolve("pid-identity")).contains(" pidns=");
            } catch (Exception e) {
                return false;
            }
        }), "the watcher in its own pid namespace never took the lock");
        Path owner = Files.readSymbolicLink(lock);
        // Its home, its watcher path, a fresh beacon: only its pid (1 there, init here) is foreign.
        TestKit.Result arm = home.run("fm-watch-arm.java", "--restart");
        assertEquals(1, arm.exit(), arm.stdout() + arm.stderr());
        assertEquals("watcher: FAILED - no live watcher with a fresh beacon\n", arm.stdout(), arm.stderr());
        assertEquals(owner, Files.readSymbolicLink(lock), "the arm replaced a live watcher it cannot see");
        assertTrue(inside.isAlive(), "the watcher in the other namespace was stopped");
        TestKit.Result status = home.run("fm-status.java");
        assertEquals(1, status.exit(), status.stdout() + status.stderr());
        List<String> lines = status.lines();
        assertTrue(lines.get(0).startsWith("supervision: BLOCKED - pid 1 holds the watcher lock but is not provably"
                + " this home's watcher (identity written in another pid namespace)"), lines.get(0));
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("lock: ") && l.contains("pid 1 (in another pid namespace")),
                status.stdout());
        String next = lines.get(lines.size() - 1);
        assertTrue(next.startsWith("next: cat " + lock + "/pid-identity  # its holder runs in another pid namespace"), next);
        assertFalse(next.contains("kill 1") || next.contains("/proc/1/"), next);
        assertTrue(inside.isAlive());
    }
}
