import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The arm (docs/arm-guard.md), run as users run it: the real script in its own JVM. */
class ArmTest {
    @AutoClose private final TestKit kit = new TestKit();
    private final TestKit.Home fixture = kit.home("fm-arm", TestKit.QUIET, "FM_SIGNAL_GRACE", "0.5",
            "FM_ARM_CONFIRM_TIMEOUT", "10");
    private final Path home = fixture.home;
    private final Path state = fixture.state;

    private TestKit.Lines arm(Map<String, String> env, String... args) throws IOException {
        return new TestKit.Lines(kit.start(TestKit.command("fm-watch-arm.java", args), env, home));
    }

    private long lockPid() {
        return FmLock.holderPid(state.resolve(".watch.lock")).orElse(-1);
    }

    private static long pidOf(String line, String prefix) {
        assertTrue(line.startsWith(prefix), line);
        return Long.parseLong(line.substring(prefix.length()).replaceAll("[^0-9].*", ""));
    }

    /** Makes a lock owned by a live process that is not a watcher, written after it started. */
    private Process strangerHolding(Path lock) throws IOException {
        Process p = kit.sleeper();
        TestKit.waitFor(Duration.ofSeconds(5), () -> FmProc.startOf(p.pid()).isPresent());
        Files.createDirectories(lock);
        Files.writeString(lock.resolve("pid"), p.pid() + "\n");
        return p;
    }

    private void age(Path p, Duration by) throws IOException {
        Files.setLastModifiedTime(p, FileTime.from(Instant.now().minus(by)));
    }

    @Test
    void startsAndConfirmsAWatcherNamedByTheLock() throws Exception {
        TestKit.Lines a = arm(fixture.env());
        String line = a.next(Duration.ofSeconds(60));
        assertTrue(line.matches("watcher: started pid=\\d+ \\(beacon fresh(; no task in flight)?\\)"), line);
        long pid = pidOf(line, "watcher: started pid=");
        assertEquals(a.process.pid(), pid, "the watcher runs in the arm's own JVM");
        assertEquals(pid, lockPid());
        assertEquals(home.toString(), Files.readString(state.resolve(".watch.lock/fm-home")).strip());
        assertEquals(TestKit.root().resolve("fm-watch.java").toRealPath().toString(),
                Files.readString(state.resolve(".watch.lock/watcher-path")).strip());
        // The wake: a status write is reported by the arm, which then exits 0 and releases the lock.
        Files.writeString(state.resolve("t1.status"), "working: x\n");
        String wake = a.next(Duration.ofSeconds(30));
        assertEquals("signal: " + state.resolve("t1.status"), wake);
        assertEquals(0, a.exit(Duration.ofSeconds(10)));
        assertFalse(Files.exists(state.resolve(".watch.lock"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void secondArmReportsHealthyAndStartsNothing() throws Exception {
        TestKit.Lines first = arm(fixture.env());
        long pid = pidOf(first.next(Duration.ofSeconds(60)), "watcher: started pid=");
        TestKit.Lines second = arm(fixture.env());
        String line = second.next(Duration.ofSeconds(30));
        assertTrue(line.matches("watcher: healthy pid=" + pid + " \\(beacon \\d+s\\)"), line);
        assertEquals(0, second.exit(Duration.ofSeconds(10)));
        assertEquals(pid, lockPid());
        assertTrue(first.process.isAlive());
    }

    @Test
    void attachStaysUntilThatCycleEnds() throws Exception {
        TestKit.Lines first = arm(fixture.env());
        long pid = pidOf(first.next(Duration.ofSeconds(60)), "watcher: started pid=");
        TestKit.Lines attached = arm(fixture.env(), "--attach");
        String line = attached.next(Duration.ofSeconds(30));
        assertTrue(line.matches("watcher: attached pid=" + pid + " \\(beacon \\d+s\\)"), line);
        // Still attached while the watcher lives (two attach polls at least).
        assertFalse(attached.process.waitFor(1500, TimeUnit.MILLISECONDS), "attached arm left early");
        Files.writeString(state.resolve("t1.status"), "done\n");
        first.next(Duration.ofSeconds(30));
        assertEquals(0, first.exit(Duration.ofSeconds(10)));
        assertEquals(0, attached.exit(Duration.ofSeconds(15)));
    }

    @Test
    void liveStrangerWithStaleBeaconIsFailedAndNeverSignalled() throws Exception {
        Path lock = state.resolve(".watch.lock");
        Process stranger = strangerHolding(lock);
        Files.writeString(state.resolve(".last-watcher-beat"), "");
        age(state.resolve(".last-watcher-beat"), Duration.ofSeconds(1000));
        age(lock, Duration.ofSeconds(1000));
        long t0 = System.nanoTime();
        TestKit.Lines a = arm(fixture.env("FM_ARM_CONFIRM_TIMEOUT", "3"));
        assertEquals("watcher: FAILED - no live watcher with a fresh beacon", a.next(Duration.ofSeconds(60)));
        assertNotEquals(0, a.exit(Duration.ofSeconds(10)));
        assertTrue(Duration.ofNanos(System.nanoTime() - t0).compareTo(Duration.ofSeconds(30)) < 0);
        assertTrue(stranger.isAlive(), "the stranger must never be signalled");
        assertEquals(stranger.pid(), lockPid());
    }

    @Test
    void deadPidWithFreshBeaconAndOurMetadataIsNeverHealthyAndSelfHeals() throws Exception {
        Process dead = new ProcessBuilder("true").start();
        dead.waitFor();
        Path lock = state.resolve(".watch.lock");
        Files.createDirectories(lock);
        Files.writeString(lock.resolve("pid"), dead.pid() + "\n");
        Files.writeString(lock.resolve("fm-home"), home + "\n");
        Files.writeString(lock.resolve("watcher-path"), TestKit.root().resolve("fm-watch.java").toRealPath() + "\n");
        Files.writeString(lock.resolve("pid-identity"), FmProc.LEGACY_IDENTITY_FORMAT + " pid=" + dead.pid() + " start=1 exe=/x\n");
        Files.writeString(state.resolve(".last-watcher-beat"), "");
        TestKit.Lines a = arm(fixture.env());
        String line = a.next(Duration.ofSeconds(60));
        assertTrue(line.startsWith("watcher: started pid=" + a.process.pid() + " "), line);
    }

    @Test
    void aCheckDueAtStartComesOutOfTheArm() throws Exception {
        Path check = state.resolve("merge.check.sh");
        Files.writeString(check, "echo merged\n");
        TestKit.Lines a = arm(fixture.env("FM_CHECK_INTERVAL", "300"));
        List<String> seen = new ArrayList<>();
        seen.add(a.next(Duration.ofSeconds(60)));
        seen.add(a.next(Duration.ofSeconds(30)));
        assertTrue(seen.get(0).startsWith("watcher: started pid="), seen.toString());
        assertEquals("check: " + check + ": merged", seen.get(1));
        assertEquals(0, a.exit(Duration.ofSeconds(10)));
    }

    @Test
    void aPeerThatBecomesHealthyDuringConfirmationIsReportedHealthy() throws Exception {
        Path lock = state.resolve(".watch.lock");
        Process peer = strangerHolding(lock); // lock fresh, no metadata yet: a peer mid-start
        TestKit.Lines a = arm(fixture.env("FM_ARM_CONFIRM_TIMEOUT", "20"));
        // The peer finishes starting once the arm has found it unhealthy and waits in its loop.
        assertTrue(TestKit.waitFor(Duration.ofSeconds(60), () -> !a.process.isAlive()
                || TestKit.mainThreadIn(a.process.pid(), "Arm.run", "java.lang.Thread.sleep")), "the arm never waited");
        Files.writeString(lock.resolve("fm-home"), home + "\n");
        Files.writeString(lock.resolve("watcher-path"), TestKit.root().resolve("fm-watch.java").toRealPath() + "\n");
        Files.writeString(lock.resolve("pid-identity"), FmProc.identity(peer.pid()).orElseThrow() + "\n");
        Files.writeString(state.resolve(".last-watcher-beat"), "");
        String line = a.next(Duration.ofSeconds(60));
        assertTrue(line.matches("watcher: healthy pid=" + peer.pid() + " \\(beacon \\d+s\\)"), line);
        assertEquals(0, a.exit(Duration.ofSeconds(10)));
        assertTrue(peer.isAlive());
    }

    private void signalStopsWatcher(String signal, int expected) throws Exception {
        TestKit.Lines a = arm(fixture.env());
        a.next(Duration.ofSeconds(60));
        assertTrue(TestKit.waitFor(Duration.ofSeconds(10), () -> Files.exists(state.resolve(".last-watcher-beat"))));
        new ProcessBuilder("kill", "-" + signal, Long.toString(a.process.pid())).start().waitFor();
        assertEquals(expected, a.exit(Duration.ofSeconds(20)));
        try (Stream<Path> s = Files.list(state)) {
            List<String> left = s.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(".watch.lock") || n.contains("tmp") || n.contains("draining"))
                    .toList();
            assertEquals(List.of(), left, "nothing of the watcher may remain");
        }
        assertFalse(a.process.isAlive());
    }

    @ParameterizedTest @CsvSource({"HUP, 129", "TERM, 143", "INT, 130"})
    void aSignalStopsTheWatcher(String sig, int exit) throws Exception { signalStopsWatcher(sig, exit); }

    @Test
    void restartNeverSignalsARecycledPidAndReplacesTheStaleLock() throws Exception {
        Path lock = state.resolve(".watch.lock");
        Process stranger = strangerHolding(lock);
        Files.writeString(lock.resolve("fm-home"), home + "\n");
        Files.writeString(lock.resolve("watcher-path"), TestKit.root().resolve("fm-watch.java").toRealPath() + "\n");
        Files.writeString(lock.resolve("pid-identity"), FmProc.LEGACY_IDENTITY_FORMAT + " pid=" + stranger.pid() + " start=12345 exe=/old\n");
        TestKit.Lines a = arm(fixture.env(), "--restart");
        String line = a.next(Duration.ofSeconds(60));
        assertTrue(line.startsWith("watcher: started pid=" + a.process.pid() + " "), line);
        assertTrue(stranger.isAlive(), "a recycled pid must never be signalled");
        assertEquals(a.process.pid(), lockPid());
    }

    @Test
    void restartInOneHomeLeavesAnotherHomesWatcherAlone() throws Exception {
        Path other = kit.tempDir("fm-arm-other");
        Map<String, String> otherEnv = fixture.env("FM_HOME", other.toString());
        TestKit.Lines theirs = arm(otherEnv);
        long theirPid = pidOf(theirs.next(Duration.ofSeconds(60)), "watcher: started pid=");
        TestKit.Lines ours = arm(fixture.env());
        long ourPid = pidOf(ours.next(Duration.ofSeconds(60)), "watcher: started pid=");
        TestKit.Lines restart = arm(fixture.env(), "--restart");
        String line = restart.next(Duration.ofSeconds(60));
        assertTrue(line.startsWith("watcher: started pid=" + restart.process.pid() + " "), line);
        assertTrue(ours.process.waitFor(20, TimeUnit.SECONDS), "our old watcher must be stopped");
        assertTrue(theirs.process.isAlive(), "the other home's watcher must be untouched");
        assertEquals(theirPid, FmLock.holderPid(other.resolve("state/.watch.lock")).orElse(-1));
        assertNotEquals(ourPid, lockPid());
    }

    @Test
    void directExecutionThroughASymlinkKeepsThePidAndTheCheckout() throws Exception {
        TestKit.javaCommand("fm-watch-arm.java"); // built once, so the run below does not race a build
        Path link = kit.tempDir("fm-arm-bin").resolve("arm");
        Files.createSymbolicLink(link, TestKit.root().resolve("fm-watch-arm.java"));
        TestKit.Lines a = new TestKit.Lines(kit.start(List.of("bash", "-c", "\"$0\" & p=$!; echo $p; wait $p", link.toString()),
                fixture.env(), kit.tempDir("fm-arm-cwd")));
        long bang = Long.parseLong(a.next(Duration.ofSeconds(30)));
        String line = a.next(Duration.ofSeconds(120));
        assertTrue(line.matches("watcher: started pid=" + bang + " \\(beacon fresh(; no task in flight)?\\)"), "$! must be the watcher's JVM: " + line);
        assertEquals(TestKit.root().resolve("fm-watch.java").toRealPath().toString(),
                Files.readString(state.resolve(".watch.lock/watcher-path")).strip());
        new ProcessBuilder("kill", "-TERM", Long.toString(bang)).start().waitFor();
        assertEquals(143, a.exit(Duration.ofSeconds(20)), "bash reports the arm's own exit on TERM");
        assertFalse(Files.exists(state.resolve(".watch.lock"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
    }

    // Forty arms at once in one home, five rounds: StressTest.

    @Test
    void helpVersionAndUsageErrors() throws Exception {
        TestKit.Result help = kit.run(TestKit.command("fm-watch-arm.java", "--help"), fixture.env(), home, Duration.ofSeconds(60));
        assertEquals(0, help.exit());
        assertTrue(help.stdout().contains("--restart") && help.stdout().contains("--attach"), help.stdout());
        TestKit.Result version = kit.run(TestKit.command("fm-watch-arm.java", "--version"), fixture.env(), home, Duration.ofSeconds(60));
        assertEquals(0, version.exit());
        assertTrue(version.stdout().startsWith("fm-watch-arm "), version.stdout());
        TestKit.Result bad = kit.run(TestKit.command("fm-watch-arm.java", "--bogus"), fixture.env(), home, Duration.ofSeconds(60));
        assertEquals(2, bad.exit());
        assertTrue(bad.stderr().startsWith("fm-watch-arm: unknown argument '--bogus'\n") && bad.stderr().contains("Usage"),
                bad.stderr());
        assertEquals("", bad.stdout(), "a usage error starts nothing and says no status");
        assertFalse(Files.exists(state.resolve(".watch.lock"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
    }
}
