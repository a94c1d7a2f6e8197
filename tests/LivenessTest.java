import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * The three field failures of the bash original (recycled pid, wedged watcher, long cycle
 * looking dead), each reproduced against the real scripts.
 */
class LivenessTest {
    /** Short graces, so that a dead or wedged watcher is seen as one within seconds (WaitNoticeTest's too). */
    static final Map<String, String> KNOBS = TestKit.knobs(TestKit.QUIET, "FM_SIGNAL_GRACE", "0.5", "FM_GUARD_GRACE", "2",
            "FM_WATCHER_STALE_GRACE", "2", "FM_BEACON_MAX_AGE", "1", "FM_ARM_CONFIRM_TIMEOUT", "15");
    @AutoClose private final TestKit kit = new TestKit();
    private final TestKit.Home fixture = kit.home("fm-live", KNOBS);
    private final Path home = fixture.home;
    private final Path state = fixture.state;

    private TestKit.Lines arm(Map<String, String> env) throws IOException {
        return new TestKit.Lines(kit.start(TestKit.command("fm-watch-arm.java"), env, home));
    }

    private static void signal(String sig, long pid) throws Exception {
        assertEquals(0, new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).start().waitFor());
    }

    private Duration beaconAge() {
        return StateFiles.age(state.resolve(".last-watcher-beat")).orElse(Duration.ZERO);
    }

    @Test
    void aFrozenWatcherIsReplacedByAPlainArm() throws Exception {
        TestKit.Lines first = arm(fixture.env());
        String started = first.next(Duration.ofSeconds(60));
        assertTrue(started.startsWith("watcher: started pid=" + first.process.pid() + " "), started);
        signal("STOP", first.process.pid());
        try {
            assertTrue(TestKit.waitFor(Duration.ofSeconds(20), () -> beaconAge().toMillis() >= 2500));
            TestKit.Lines second = arm(fixture.env());
            String replacing = second.next(Duration.ofSeconds(60));
            assertTrue(replacing.matches("watcher: replacing wedged pid=" + first.process.pid() + " \\(beacon \\d+s\\)"),
                    replacing);
            String line = second.next(Duration.ofSeconds(60));
            assertTrue(line.matches("watcher: started pid=" + second.process.pid() + " \\(beacon fresh(; no task in flight)?\\)"), line);
            assertTrue(first.process.waitFor(10, TimeUnit.SECONDS), "the frozen watcher must be gone");
            assertEquals(second.process.pid(), FmLock.holderPid(state.resolve(".watch.lock")).orElse(-1));
        } finally {
            if (first.process.isAlive()) signal("CONT", first.process.pid());
        }
    }

    @Test
    void aWatcherStoppedOnlyBrieflyIsNotReplaced() throws Exception {
        TestKit.Lines first = arm(fixture.env());
        first.next(Duration.ofSeconds(60));
        signal("STOP", first.process.pid());
        TestKit.Lines second;
        try {
            assertTrue(TestKit.waitFor(Duration.ofSeconds(20), () -> beaconAge().toMillis() >= 2500));
            // The second arm waits up to 2 x FM_BEACON_MAX_AGE = 8 s for a fresh beat.
            second = arm(fixture.env("FM_BEACON_MAX_AGE", "4"));
            // The laptop sleeps on until the second arm judges it wedged and waits for a beat.
            TestKit.Lines waiting = second;
            assertTrue(TestKit.waitFor(Duration.ofSeconds(60), () -> !waiting.process.isAlive()
                    || TestKit.mainThreadIn(waiting.process.pid(), "Arm.replaceWedged")), "the second arm never waited for a beat");
        } finally {
            signal("CONT", first.process.pid());
        }
        String line = second.next(Duration.ofSeconds(60));
        assertTrue(line.matches("watcher: healthy pid=" + first.process.pid() + " \\(beacon \\d+s\\)"), line);
        assertTrue(first.process.isAlive());
        assertEquals(0, second.process.waitFor(10, TimeUnit.SECONDS) ? second.process.exitValue() : -1);
    }

    @Test
    void aRecycledPidInTheWatcherLockDoesNotBlockANewWatcher() throws Exception {
        Path lock = state.resolve(".watch.lock");
        Files.createDirectories(lock);
        Process unrelated = kit.sleeper(); // took over the dead watcher's pid, say
        assertTrue(TestKit.waitFor(Duration.ofSeconds(5), () -> FmProc.startOf(unrelated.pid()).isPresent()));
        Files.writeString(lock.resolve("pid"), unrelated.pid() + "\n");
        Files.setLastModifiedTime(lock.resolve("pid"), FileTime.from(Instant.now().minus(Duration.ofHours(1))));
        TestKit.Result r = kit.run(TestKit.command("fm-watch.java"), fixture.env("FM_HEARTBEAT", "0.5"), home,
                Duration.ofSeconds(60));
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("heartbeat\n", r.stdout(), "a new watcher runs instead of 'already running'");
        assertTrue(unrelated.isAlive(), "the unrelated process is never signalled");
    }

    @Test
    void aLiveHolderOlderThanItsPidFileWithoutAnIdentityIsNotReclaimed() throws Exception {
        Path lock = state.resolve(".watch.lock");
        Process holder = kit.sleeper();
        assertTrue(TestKit.waitFor(Duration.ofSeconds(5), () -> FmProc.startOf(holder.pid()).isPresent()));
        Files.createDirectories(lock);
        Files.writeString(lock.resolve("pid"), holder.pid() + "\n");
        TestKit.Result r = kit.run(TestKit.command("fm-watch.java"),
                fixture.env("FM_HEARTBEAT", "0.5", "FM_WATCHER_STALE_GRACE", "300", "FM_GUARD_GRACE", "300"), home,
                Duration.ofSeconds(60));
        assertEquals(0, r.exit(), r.stderr());
        assertEquals("watcher: already running pid " + holder.pid() + "\n", r.stdout());
        assertTrue(Files.isDirectory(lock));
        assertEquals(holder.pid() + "\n", Files.readString(lock.resolve("pid")));
    }

    @Test
    void aRegularFileAtTheLockPathIsReportedAndNeverRemoved() throws Exception {
        Path lock = state.resolve(".watch.lock");
        Files.writeString(lock, "not a lock\n");
        TestKit.Result w = kit.run(TestKit.command("fm-watch.java"), fixture.env("FM_HEARTBEAT", "0.5"), home, Duration.ofSeconds(60));
        assertEquals(1, w.exit(), w.stdout());
        assertEquals("", w.stdout());
        assertTrue(w.stderr().startsWith("watcher: " + lock + " is not a lock"), w.stderr());
        assertEquals(1, w.stderr().lines().count(), w.stderr());
        TestKit.Result a = kit.run(TestKit.command("fm-watch-arm.java"), fixture.env(), home, Duration.ofSeconds(60));
        assertEquals("watcher: FAILED - no live watcher with a fresh beacon\n", a.stdout());
        assertNotEquals(0, a.exit());
        assertTrue(a.stderr().contains("is not a lock"), a.stderr());
        assertEquals("not a lock\n", Files.readString(lock));
    }
}
