import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * fm-adopt.java and our arm beside a running bash watcher of a throwaway firstmate home
 * (AdoptHome): a bash watcher in either lock form is proven by the line ps wrote, healthy to
 * our arm, refused by adopt and undo and never signalled, and stopped by --restart only while
 * that line proves it; one run from another checkout is this home's only through
 * FM_BASH_WATCHER; the adopted home's own arm waits for its bash peer under another FM_HOME;
 * a bash lock whose pid now runs another command is reclaimed, that process untouched.
 */
class AdoptWatcherTest extends AdoptHome {
    @Test
    void aBashWatcherInLinkFormIsHealthyBlocksAdoptAndRestartStopsIt() throws Exception {
        bashWatcherOfTheHome("link", true);
    }

    @Test
    void aBashWatcherInDirectoryFormIsHealthyAndBlocksAdoptAndUndo() throws Exception {
        bashWatcherOfTheHome("dir", false);
    }

    private void bashWatcherOfTheHome(String form, boolean restart) throws Exception {
        Map<String, String> env = fixture.env("FM_HOME", home.toString(), "FAKE_LOCK_FORM", form, "FM_ARM_CONFIRM_TIMEOUT", "20");
        TestKit.Lines watcher = new TestKit.Lines(kit.start(List.of(bin.resolve("fm-watch.sh").toString()), env, home));
        assertEquals("bash watcher pid " + watcher.process.pid(), watcher.next(LIMIT));
        long pid = watcher.process.pid();
        assertEquals(form.equals("link"), Files.isSymbolicLink(state.resolve(".watch.lock")));
        String identity = Files.readString(state.resolve(".watch.lock/pid-identity")).strip();
        assertTrue(identity.endsWith("bash " + bin.resolve("fm-watch.sh")), identity);

        // Our arm proves it is this home's watcher by the line ps wrote, and starts nothing.
        TestKit.Result arm = kit.run(TestKit.command("fm-watch-arm.java"), env, home, LIMIT);
        assertEquals(0, arm.exit(), arm.stdout() + arm.stderr());
        assertTrue(arm.stdout().matches("watcher: healthy pid=" + pid + " \\(beacon \\d+s\\)\n"), arm.stdout());

        // Adopting (or a dry run of it) now is refused in one line naming it; it is not signalled.
        Map<String, String> before = homeWithoutState();
        for (String[] args : new String[][] {{}, {"--dry-run"}}) {
            TestKit.Result r = adopt(args);
            assertEquals(1, r.exit(), r.stdout() + r.stderr());
            assertEquals("", r.stdout());
            assertEquals(1, stderrLines(r).size(), r.stderr());
            assertTrue(r.stderr().startsWith("fm-adopt: refusing: a watcher of " + home + " is running (pid " + pid + ", "),
                    r.stderr());
            assertTrue(r.stderr().contains("it was not signalled: it ends at its next wake"), r.stderr());
        }
        assertEquals(before, homeWithoutState(), "nothing changed");
        assertTrue(watcher.process.isAlive());
        if (!restart) {
            // After a wall-clock step its ps line proves nothing: --restart must then neither
            // signal it nor clear its lock (the honest answer is FAILED).
            Path id = state.resolve(".watch.lock/pid-identity");
            String shifted = identity.substring(0, 20) + (Integer.parseInt(identity.substring(20, 24)) - 1) + identity.substring(24);
            Files.writeString(id, shifted + "\n");
            assertEquals(java.util.Optional.empty(), BashIdentity.matches(shifted, pid));
            Map<String, String> quick = new HashMap<>(env);
            quick.put("FM_ARM_CONFIRM_TIMEOUT", "1");
            TestKit.Result r = kit.run(TestKit.command("fm-watch-arm.java", "--restart"), quick, home, LIMIT);
            assertEquals("watcher: FAILED - no live watcher with a fresh beacon\n", r.stdout(), r.stderr());
            assertEquals(pid, lockPid(), "its lock is kept");
            assertTrue(watcher.process.isAlive(), "it was not signalled");
            Files.writeString(id, identity + "\n");
            // Undo is refused the same way (here on a home adopted while no watcher ran).
            watcher.process.destroy();
            assertEquals(143, watcher.exit(LIMIT));
            assertEquals(0, adopt().exit());
            TestKit.Lines second = new TestKit.Lines(kit.start(List.of(bin.resolve(".fm-adopt/fm-watch.sh").toString()), env, home));
            long pid2 = second.process.pid();
            assertEquals("bash watcher pid " + pid2, second.next(LIMIT));
            Map<String, String> adopted = homeWithoutState();
            TestKit.Result u = adopt("--undo");
            assertEquals(1, u.exit());
            assertTrue(u.stderr().startsWith("fm-adopt: refusing: a watcher of " + home + " is running (pid " + pid2 + ", "),
                    u.stderr());
            assertEquals(adopted, homeWithoutState());
            assertTrue(second.process.isAlive());
            return;
        }
        // --restart may stop it, now that its identity is proven, and starts ours.
        TestKit.Lines ours = new TestKit.Lines(kit.start(TestKit.command("fm-watch-arm.java", "--restart"), env, home));
        String started = ours.next(LIMIT);
        assertTrue(started.matches("watcher: started pid=" + ours.process.pid() + " \\(beacon fresh(; no task in flight)?\\)"), started);
        assertEquals(143, watcher.exit(LIMIT), "the bash watcher got TERM");
        // Ours is a watcher of the home too: still refused, until it ends.
        TestKit.Result r = adopt();
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("(pid " + ours.process.pid() + ", "), r.stderr());
        ours.process.destroy();
        assertEquals(143, ours.exit(LIMIT));
        assertEquals(0, adopt().exit());
    }

    @Test
    void aBashWatcherRunFromAnotherCheckoutIsThisHomesOnlyThroughFmBashWatcher() throws Exception {
        // A secondmate home: its FM_HOME is not the firstmate checkout whose bin/fm-watch.sh runs.
        Path second = new TestKit.Home(kit, "fm-secondmate").home;
        Map<String, String> env = fixture.env("FM_HOME", second.toString(), "FM_ARM_CONFIRM_TIMEOUT", "1");
        TestKit.Lines watcher = new TestKit.Lines(kit.start(List.of(bin.resolve("fm-watch.sh").toString()), env, home));
        assertEquals("bash watcher pid " + watcher.process.pid(), watcher.next(LIMIT));
        TestKit.Result stranger = kit.run(TestKit.command("fm-watch-arm.java"), env, second, LIMIT);
        assertEquals("watcher: FAILED - no live watcher with a fresh beacon\n", stranger.stdout());
        env.put("FM_BASH_WATCHER", bin.resolve("fm-watch.sh").toString());
        TestKit.Result known = kit.run(TestKit.command("fm-watch-arm.java"), env, second, LIMIT);
        assertTrue(known.stdout().matches("watcher: healthy pid=" + watcher.process.pid() + " \\(beacon \\d+s\\)\n"),
                known.stdout() + known.stderr());
        assertTrue(watcher.process.isAlive(), "never signalled");
    }

    /**
     * Upstream's arm-waits-for-peer-beacon scenario, run in an adopted home: the home's own arm
     * (its shim), run for another FM_HOME (a case directory, as upstream's tests and secondmate
     * homes do), meets a lock that names this home's bin/fm-watch.sh with the ps line of a live
     * peer, whose beacon turns fresh only once the arm waits. The bash arm of this checkout
     * counts that peer as its watcher; so must the shim: healthy, exit 0, peer untouched.
     */
    @Test
    void theHomesOwnArmWaitsForItsBashPeerUnderAnotherFmHome() throws Exception {
        assertEquals(0, adopt().exit());
        Path other = new TestKit.Home(kit, "fm-case").home;
        Process peer = kit.start(List.of("sleep", "300"), Map.of(), null);
        assertTrue(TestKit.waitFor(LIMIT, () -> BashIdentity.commandLine(peer.pid()).orElse("").startsWith("sleep")));
        bashLock(other, peer.pid(), psLine(peer.pid()));
        // The peer has not beaten yet: the arm waits for its beat (FM_BEACON_MAX_AGE twice, a hang
        // bound here) before it would call it wedged.
        Map<String, String> env = fixture.env("FM_HOME", other.toString(), "FM_ARM_CONFIRM_TIMEOUT", "20",
                "FM_BEACON_MAX_AGE", "60");
        TestKit.Lines arm = new TestKit.Lines(kit.start(List.of(bin.resolve("fm-watch-arm.sh").toString()), env,
                kit.tempDir("fm-elsewhere")));
        // jcmd looks only once the JVM catches SIGQUIT: asked of the shell the shim still is, or
        // of a JVM still starting, the thread dump's SIGQUIT would end the process.
        assertTrue(TestKit.waitFor(LIMIT, () -> !arm.process.isAlive() || catchesSigquit(arm.process.pid())));
        assertTrue(TestKit.waitFor(LIMIT, () -> !arm.process.isAlive()
                || TestKit.mainThreadIn(arm.process.pid(), "Arm.run", "java.lang.Thread.sleep")), "the arm never waited");
        Files.writeString(other.resolve("state/.last-watcher-beat"), "");
        String line = arm.next(LIMIT);
        assertTrue(line.matches("watcher: healthy pid=" + peer.pid() + " \\(beacon \\d+s\\)"), line + arm.err);
        assertEquals(0, arm.exit(LIMIT), arm.err.toString());
        assertTrue(peer.isAlive(), "never signalled");
    }

    /** Whether the process has a handler for SIGQUIT (bit 3 of SigCgt in /proc/<pid>/status). */
    private static boolean catchesSigquit(long pid) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (l.startsWith("SigCgt:")) return (Long.parseUnsignedLong(l.substring(7).strip(), 16) & (1L << 2)) != 0;
            }
        } catch (IOException | RuntimeException e) {
            // gone, or unreadable: not provably ready
        }
        return false;
    }

    @Test
    void aBashLockWhosePidRunsAnotherCommandIsReclaimedAndThatProcessUntouched() throws Exception {
        // The bash watcher died; its pid now runs something else. Its ps line proves the difference.
        Process gone = kit.start(List.of("sh", "-c", "sleep 3600"), Map.of(), null);
        Process stranger = kit.sleeper();
        assertTrue(TestKit.waitFor(LIMIT, () -> BashIdentity.commandLine(stranger.pid()).orElse("").startsWith("sleep")));
        assertTrue(TestKit.waitFor(LIMIT, () -> BashIdentity.commandLine(gone.pid()).orElse("").startsWith("sh")));
        String goneLine = psLine(gone.pid());
        Path lock = bashLock(home, stranger.pid(), goneLine);
        Map<String, String> env = fixture.env("FM_HOME", home.toString(), "FM_ARM_CONFIRM_TIMEOUT", "5");
        TestKit.Lines arm = new TestKit.Lines(kit.start(TestKit.command("fm-watch-arm.java"), env, home));
        String started = arm.next(LIMIT);
        assertTrue(started.matches("watcher: started pid=" + arm.process.pid() + " \\(beacon fresh(; no task in flight)?\\)"), started);
        assertTrue(stranger.isAlive(), "the process that reused the pid is never signalled");
        // And fm-adopt, judging as the lock does, sees no running bash watcher in such a lock either.
        arm.process.destroy();
        assertEquals(143, arm.exit(LIMIT));
        Files.createDirectories(lock);
        Files.writeString(lock.resolve("pid"), stranger.pid() + "\n");
        Files.writeString(lock.resolve("pid-identity"), goneLine);
        TestKit.Result r = adopt();
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(stranger.isAlive());
    }

    /** The line the bash tools record as a process's identity: {@code ps -o lstart= -o command=}, as ps itself writes it. */
    private String psLine(long pid) throws IOException {
        TestKit.Result ps = kit.run(List.of("ps", "-p", Long.toString(pid), "-o", "lstart=", "-o", "command="),
                Map.of(), null, LIMIT);
        return ps.stdout().stripLeading();
    }

    /**
     * The lock a bash watcher of {@code fmHome} leaves (directory form): {@code pid}, the home, this
     * home's bin/fm-watch.sh as the watcher's path, and {@code identity} as its ps line.
     */
    private Path bashLock(Path fmHome, long pid, String identity) throws IOException {
        Path lock = Files.createDirectories(fmHome.resolve("state/.watch.lock"));
        Files.writeString(lock.resolve("pid"), pid + "\n");
        Files.writeString(lock.resolve("fm-home"), fmHome + "\n");
        Files.writeString(lock.resolve("watcher-path"), bin.resolve("fm-watch.sh") + "\n");
        Files.writeString(lock.resolve("pid-identity"), identity);
        return lock;
    }
}
