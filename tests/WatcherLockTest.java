import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The watcher's start and its life with the singleton lock (docs/watcher.md "Start", "Self-eviction",
 * "Beacon"): the three answers to a held lock, reclaiming a dead holder's lock, the metadata,
 * release on every exit, eviction, and a beacon that is fresh exactly while the cycle progresses.
 */
class WatcherLockTest {
    private static final Duration LIMIT = Duration.ofSeconds(60);

    @AutoClose private final TestKit kit = new TestKit();
    private TestKit.Home rig;

    @BeforeEach
    void setUp() throws IOException { rig = WatcherTest.rig(kit); }

    @Test
    void theLockNamesThisWatcherAndIsReleasedAfterTheWake() throws Exception {
        Process p = pollingWatcher();
        Path lock = rig.state.resolve(".watch.lock");

        assertTrue(Files.isSymbolicLink(lock));
        assertEquals(p.pid() + "\n", Files.readString(lock.resolve("pid")));
        assertEquals(rig.home.toRealPath() + "\n", Files.readString(lock.resolve("fm-home")));
        assertEquals(TestKit.root().resolve("fm-watch.java").toRealPath() + "\n",
                Files.readString(lock.resolve("watcher-path")));
        TestKit.Result id = kit.run(TestKit.command("FmLock.java", "identity", Long.toString(p.pid())), Map.of(),
                null, LIMIT);
        assertEquals(0, id.exit(), id.stderr());
        assertEquals(id.stdout(), Files.readString(lock.resolve("pid-identity")));
        assertTrue(Files.exists(rig.state.resolve(".last-heartbeat")), "created at start");

        // A second watcher for the same home reports the first and leaves.
        TestKit.Result second = rig.run("fm-watch.java");
        assertEquals(0, second.exit(), second.stderr());
        assertEquals("watcher: already running pid " + p.pid() + "\n", second.stdout());

        Path status = rig.write("t.status", "done\n");
        TestKit.Result r = TestKit.finish(p, LIMIT);
        assertEquals("signal: " + status + "\n", r.stdout(), r.stderr());
        rig.assertNoLockLeft();
    }

    // INT is left out: a shell without job control starts background children with INT
    // ignored, and a JVM keeps an inherited "ignore", so its outcome depends on the caller.
    @ParameterizedTest @CsvSource({"TERM, 143", "HUP, 129"})
    void termAndHupReleaseTheLockAndExit128PlusSignal(String sig, int exit) throws Exception {
        Process p = pollingWatcher();
        signal(sig, p.pid());
        TestKit.Result r = TestKit.finish(p, LIMIT);
        assertEquals(exit, r.exit(), sig + ": " + r.stderr());
        assertEquals("", r.stdout());
        rig.assertNoLockLeft();
    }

    @Test
    void theBeaconStaysFreshThroughALongLinger() throws Exception {
        rig.env.put("FM_SIGNAL_GRACE", "20");
        rig.env.put("FM_BEACON_MAX_AGE", "2");
        Process p = pollingWatcher();
        Path status = rig.write("slow.status", "working\n");
        long t0 = System.nanoTime();
        double worst = 0;
        while (p.isAlive()) {
            worst = Math.max(worst, WatcherTest.ageSeconds(rig, ".last-watcher-beat"));
            Thread.sleep(100);
        }
        double took = (System.nanoTime() - t0) / 1e9;
        TestKit.Result r = TestKit.finish(p, LIMIT);

        assertEquals("signal: " + status + "\n", r.stdout(), r.stderr());
        assertTrue(took >= 19.5, "the linger lasted only " + took + " s");
        assertTrue(worst <= 3.0, "beacon reached " + worst + " s old with FM_BEACON_MAX_AGE=2");
    }

    @Test
    void theBeaconIsFreshBetweenPollsAndGoesStaleWhenTheWatcherIsStopped() throws Exception {
        rig.env.put("FM_BEACON_MAX_AGE", "1");
        rig.env.put("FM_POLL", "4");
        Process p = pollingWatcher();
        double worst = 0;
        long until = System.nanoTime() + Duration.ofSeconds(6).toNanos();
        while (System.nanoTime() < until) { // spans a whole 4 s wait between polls
            worst = Math.max(worst, WatcherTest.ageSeconds(rig, ".last-watcher-beat"));
            Thread.sleep(100);
        }
        assertTrue(worst <= 1.6, "beacon reached " + worst + " s between polls with FM_BEACON_MAX_AGE=1");
        signal("STOP", p.pid());
        try {
            assertTrue(TestKit.waitFor(Duration.ofSeconds(20), () -> WatcherTest.ageSeconds(rig, ".last-watcher-beat") > 3.0),
                    "a frozen watcher must not keep its beacon fresh");
        } finally {
            signal("CONT", p.pid());
        }
        assertTrue(TestKit.waitFor(Duration.ofSeconds(20), () -> WatcherTest.ageSeconds(rig, ".last-watcher-beat") < 1.0),
                "resumed, it beats again");
        p.destroy();
        assertEquals(143, TestKit.finish(p, LIMIT).exit());
    }

    @Test
    void aReplacedLockMakesTheWatcherLeaveSilentlyWithoutTouchingIt() throws Exception {
        Process p = pollingWatcher();
        Path lock = rig.state.resolve(".watch.lock");
        Path ourOwner = lock.resolveSibling(Files.readSymbolicLink(lock));
        Process other = kit.sleeper();
        Files.delete(lock); // the link only
        Files.createDirectory(lock);
        Files.writeString(lock.resolve("pid"), other.pid() + "\n");
        FileTime stamp = Files.getLastModifiedTime(lock.resolve("pid"));

        TestKit.Result r = TestKit.finish(p, LIMIT);

        assertEquals(0, r.exit(), r.stderr());
        assertEquals("", r.stdout());
        assertEquals("", r.stderr());
        assertTrue(Files.isDirectory(lock, LinkOption.NOFOLLOW_LINKS));
        try (Stream<Path> s = Files.list(lock)) {
            assertEquals(List.of("pid"), s.map(x -> x.getFileName().toString()).toList());
        }
        assertEquals(other.pid() + "\n", Files.readString(lock.resolve("pid")));
        assertEquals(stamp, Files.getLastModifiedTime(lock.resolve("pid")));
        assertFalse(Files.exists(ourOwner), "the evicted watcher still cleans up its own token");
    }

    @Test
    void aLockWhosePidNowNamesSomeoneElseIsLeftExactlyAsFound() throws Exception {
        Process p = pollingWatcher();
        Process other = kit.sleeper();
        Path lock = rig.state.resolve(".watch.lock");
        Path ourOwner = lock.resolveSibling(Files.readSymbolicLink(lock));
        List<String> files; // listed first: the watcher may leave the moment the pid changes
        try (Stream<Path> s = Files.list(ourOwner)) {
            files = s.map(x -> x.getFileName().toString()).sorted().toList();
        }
        // Through the link: the owner directory is still ours, but its pid names someone else.
        Files.writeString(lock.resolve("pid"), other.pid() + "\n");
        FileTime stamp = Files.getLastModifiedTime(lock.resolve("pid"));

        TestKit.Result r = TestKit.finish(p, LIMIT);

        assertEquals(new TestKit.Result(0, "", ""), r);
        assertEquals(ourOwner, lock.resolveSibling(Files.readSymbolicLink(lock)), "the link is left pointing where it pointed");
        try (Stream<Path> s = Files.list(ourOwner)) {
            assertEquals(files, s.map(x -> x.getFileName().toString()).sorted().toList(), "nothing in it removed");
        }
        assertEquals(other.pid() + "\n", Files.readString(lock.resolve("pid")));
        assertEquals(stamp, Files.getLastModifiedTime(lock.resolve("pid")));
        assertEquals(other.pid(), FmLock.holderPid(lock).orElse(-1), "the lock still names the other process");
    }

    @Test
    void aLiveHolderWithAStaleBeaconIsRefusedLoudly() throws Exception {
        Process holder = heldBySleeper();
        Path beacon = rig.write(".last-watcher-beat", "");
        Files.setLastModifiedTime(beacon, FileTime.from(Instant.now().minusSeconds(100)));
        rig.env.put("FM_WATCHER_STALE_GRACE", "50");

        TestKit.Result r = rig.run("fm-watch.java");

        assertEquals(1, r.exit());
        assertEquals("", r.stdout());
        Matcher m = Pattern.compile("watcher: lock held by live pid " + holder.pid()
                + " but heartbeat is stale for (\\d+)s \\(>50s\\); inspect or stop that watcher before re-arming\\.\n")
                .matcher(r.stderr());
        assertTrue(m.matches(), r.stderr());
        int age = Integer.parseInt(m.group(1));
        assertTrue(age >= 100 && age < 160, "age " + age);
        assertLockUntouched(holder);
    }

    @Test
    void aLiveHolderWithNoBeaconAndAnOldLockIsRefusedLoudly() throws Exception {
        Process holder = heldBySleeper();
        Path lock = rig.state.resolve(".watch.lock");
        Files.setLastModifiedTime(lock, FileTime.from(Instant.now().minusSeconds(100)));
        rig.env.put("FM_WATCHER_STALE_GRACE", "50");

        TestKit.Result r = rig.run("fm-watch.java");

        assertEquals(1, r.exit());
        assertEquals("", r.stdout());
        assertEquals("watcher: lock held by live pid " + holder.pid()
                + " but no heartbeat exists; inspect or stop that watcher before re-arming.\n", r.stderr());
        assertLockUntouched(holder);
    }

    @Test
    void aLiveHolderThatLooksHealthyIsReportedAsRunning() throws Exception {
        Process holder = heldBySleeper();
        rig.env.put("FM_WATCHER_STALE_GRACE", "50");

        // No beacon yet, but the lock is young: a watcher that is just starting.
        TestKit.Result young = rig.run("fm-watch.java");
        assertEquals(0, young.exit(), young.stderr());
        assertEquals("watcher: already running pid " + holder.pid() + "\n", young.stdout());

        rig.write(".last-watcher-beat", "");
        Files.setLastModifiedTime(rig.state.resolve(".watch.lock"), FileTime.from(Instant.now().minusSeconds(100)));
        TestKit.Result fresh = rig.run("fm-watch.java");
        assertEquals(0, fresh.exit(), fresh.stderr());
        assertEquals("watcher: already running pid " + holder.pid() + "\n", fresh.stdout());
        assertEquals("", fresh.stderr());
        assertLockUntouched(holder);
    }

    @Test
    void aLockWithoutAPidYetIsAWatcherStarting() throws Exception {
        Files.createDirectory(rig.state.resolve(".watch.lock"));

        TestKit.Result r = rig.run("fm-watch.java");

        assertEquals(0, r.exit(), r.stderr());
        assertEquals("watcher: already running\n", r.stdout());
        assertTrue(Files.isDirectory(rig.state.resolve(".watch.lock")));
    }

    @Test
    void aDeadHoldersLockIsReclaimed() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        Path lock = Files.createDirectory(rig.state.resolve(".watch.lock"));
        Files.writeString(lock.resolve("pid"), gone.pid() + "\n");
        Path status = rig.write("t.status", "x\n");

        TestKit.Result r = rig.run("fm-watch.java");

        assertEquals(0, r.exit(), r.stderr());
        assertEquals("signal: " + status + "\n", r.stdout());
        rig.assertNoLockLeft();
    }

    @Test
    void anUnresolvableHomeIsOneLine() throws Exception {
        rig.env.remove("FM_HOME");
        List<String> cmd = new java.util.ArrayList<>(TestKit.command("fm-watch.java"));
        cmd.removeIf(a -> a.startsWith("-Dfm.script="));
        TestKit.Result r = kit.run(cmd, rig.env, rig.home, LIMIT);
        assertEquals(1, r.exit());
        assertTrue(r.stderr().startsWith("watcher: ") && r.stderr().strip().split("\n").length == 1
                && r.stderr().contains("FM_HOME"), r.stderr());
        assertEquals(2, kit.run(TestKit.command("fm-watch.java", "--bogus"), rig.env, rig.home, LIMIT).exit());
    }

    // ------------------------------------------------------------------ helpers

    /** A directory-form lock held by a live sleeper; the pid is written after it started. */
    private Process heldBySleeper() throws Exception {
        Process s = kit.sleeper();
        Path lock = Files.createDirectory(rig.state.resolve(".watch.lock"));
        Files.writeString(lock.resolve("pid"), s.pid() + "\n");
        return s;
    }

    private void assertLockUntouched(Process holder) throws IOException {
        Path lock = rig.state.resolve(".watch.lock");
        assertTrue(Files.isDirectory(lock, LinkOption.NOFOLLOW_LINKS));
        assertEquals(holder.pid() + "\n", Files.readString(lock.resolve("pid")));
        assertTrue(holder.isAlive());
    }

    private static void signal(String name, long pid) throws Exception {
        Process k = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
        assertEquals(0, k.waitFor(), "kill -" + name + " " + pid);
    }

    /** A watcher of the rig, once its first check sweep is done and it is in its poll loop. */
    private Process pollingWatcher() throws Exception {
        Process p = rig.start("fm-watch.java");
        WatcherTest.awaitPolling(rig, p);
        return p;
    }
}
