import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A TERM aimed at each instant of a check's life (docs/reliability.md "Signals"): the watcher
 * is stopped by a debugger at that instant, the signal is sent, and only then is it let go.
 * Whatever the instant, the watcher exits 143 and no process of the check is left: not the
 * check, not what it started, and no check started after the signal.
 *
 * The instants: being started (the process exists, the watcher has not yet recorded it),
 * being killed for its time limit, and being reaped (the check exited and left a child behind).
 * A check that is simply running is TermIntHupTest's inCheck.
 */
class CheckStopTest {
    private static final Duration LIMIT = Duration.ofSeconds(60);

    private final TestKit kit = new TestKit();
    /** A check sweep every cycle, and one that is never cut short by its own timeout. */
    private final TestKit.Home fixture = kit.home("fm-checkstop", TestKit.QUIET, "FM_SIGNAL_GRACE", "0.5",
            "FM_CHECK_INTERVAL", "0", "FM_CHECK_TIMEOUT", "600");
    private final Path pids = fixture.home.resolve("check-pids");

    @AfterEach
    void tearDown() throws IOException {
        // An orphaned check escapes TestKit's process tree: stop it through the handle taken
        // when its pid was first read (a handle carries the start time, so a reused pid is spared).
        handles.values().forEach(ProcessHandle::destroyForcibly);
        kit.close();
    }

    /** The check's processes as first seen, by pid. */
    private final java.util.Map<Long, ProcessHandle> handles = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * The check is forked and running (it recorded itself and its child) while the watcher's
     * thread is still inside the call that started it, before it could note the new process
     * anywhere. Before the fix the shutdown hook ran on an empty list and the check outlived us.
     */
    @Test
    void aSignalWhileTheCheckIsBeingStarted() throws Exception {
        String check = "echo $$ >> '" + pids + "'\nsleep 300 &\necho $! >> '" + pids + "'\nwait\n";
        // Stopped inside ProcessBuilder.start: forked, not returned.
        try (Debuggee d = watcherStoppedAt(check, fixture.env, "java.lang.ProcessImpl", "initStreams")) {
            assertTrue(TestKit.waitFor(LIMIT, () -> recorded().size() >= 2), "the check never started: " + d.err());
            term(d);
            // Let go only once shutdown has begun: the hook waits for the start to finish, or has
            // already run without it.
            assertTrue(TestKit.waitFor(LIMIT, () -> d.threadBlockedOrGone("fm-children-stop")),
                    "the shutdown hook never reached the children: " + d.err());
            assertExitsAfterTerm(d);
        }
        assertNothingOfTheCheckLeft();
    }

    /**
     * The check ignores TERM, so its time limit needs KILL; the signal lands as the watcher is
     * about to send the first TERM of that kill.
     */
    @Test
    void aSignalWhileTheCheckIsBeingKilledForItsTimeLimit() throws Exception {
        String check = "trap '' TERM\necho $$ >> '" + pids + "'\nsleep 300 &\necho $! >> '" + pids + "'\nwait\n";
        try (Debuggee d = watcherStoppedAt(check, fixture.env("FM_CHECK_TIMEOUT", "1"), "java.lang.ProcessHandleImpl",
                "destroyProcess")) {
            assertEquals(2, recorded().size(), "the check had not started when its time ran out: " + d.err());
            term(d);
            assertExitsAfterTerm(d);
        }
        assertNothingOfTheCheckLeft();
    }

    /**
     * The check started a child and exited without waiting for it; the signal lands after the
     * watcher saw the exit and before it killed what the check left behind.
     */
    @Test
    void aSignalWhileWhatTheCheckLeftIsBeingReaped() throws Exception {
        String check = "echo $$ >> '" + pids + "'\nsleep 300 &\necho $! >> '" + pids + "'\n";
        try (Debuggee d = watcherStoppedAt(check, fixture.env("FM_CHECK_INTERVAL", "3600"), "ChildProcesses", "signalGroup")) {
            List<Long> seen = recorded();
            assertEquals(2, seen.size(), "the check had not run: " + d.err());
            assertTrue(ProcessHandle.of(seen.get(0)).map(h -> !h.isAlive()).orElse(true),
                    "the check itself should have exited by now");
            assertTrue(ProcessHandle.of(seen.get(1)).map(ProcessHandle::isAlive).orElse(false),
                    "what the check left behind should still be running at this instant");
            term(d);
            assertExitsAfterTerm(d);
        }
        assertNothingOfTheCheckLeft();
    }

    // ------------------------------------------------------------------ helpers

    /** A watcher whose check sweep runs {@code check}, stopped at the first entry of {@code type.method}. */
    private Debuggee watcherStoppedAt(String check, Map<String, String> env, String type, String method) throws Exception {
        Files.writeString(fixture.state.resolve("slow.check.sh"), check);
        return Debuggee.stoppedAt(kit, TestKit.command("fm-watch.java"), env, type, method, 1);
    }

    private void term(Debuggee d) throws Exception {
        Process kill = new ProcessBuilder("kill", "-s", "TERM", Long.toString(d.process.pid())).start();
        assertTrue(kill.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "kill hung");
        // The signal is handled on threads the debugger does not stop: the cycle's end line in
        // the ledger is written just before the JVM starts its shutdown.
        assertTrue(TestKit.waitFor(LIMIT, () -> !d.process.isAlive() || ledgerEndsWith("signal:TERM")),
                "the TERM was never handled: " + d.err());
    }

    private boolean ledgerEndsWith(String how) {
        try {
            List<String> lines = Files.readAllLines(fixture.state.resolve(".watch-cycles.log"));
            return !lines.isEmpty() && lines.get(lines.size() - 1).endsWith(how);
        } catch (IOException e) {
            return false;
        }
    }

    /** Lets the stopped thread go on, if the JVM is still there, and expects the exit of a TERM. */
    private static void assertExitsAfterTerm(Debuggee d) throws InterruptedException {
        try {
            d.go();
        } catch (com.sun.jdi.VMDisconnectedException | IllegalStateException e) {
            // the JVM is already gone
        }
        assertEquals(143, d.exit(), d.err());
    }

    private List<Long> recorded() {
        try {
            if (!Files.exists(pids)) return List.of();
            List<Long> out = new ArrayList<>();
            for (String l : Files.readAllLines(pids)) {
                if (l.isBlank()) continue;
                long pid = Long.parseLong(l.strip());
                out.add(pid);
                if (!handles.containsKey(pid)) ProcessHandle.of(pid).ifPresent(h -> handles.putIfAbsent(pid, h));
            }
            return out;
        } catch (IOException | NumberFormatException e) {
            return List.of();
        }
    }

    private void assertNothingOfTheCheckLeft() {
        assertTrue(TestKit.waitFor(Duration.ofSeconds(10),
                        () -> recorded().stream().allMatch(p -> ProcessHandle.of(p).map(h -> !h.isAlive()).orElse(true))),
                "the watcher exited on TERM but left processes of its check running: " + recorded() + " alive: "
                        + recorded().stream().filter(p -> ProcessHandle.of(p).map(ProcessHandle::isAlive).orElse(false)).toList());
    }
}
