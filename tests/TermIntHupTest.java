import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * TERM, INT and HUP sent to the commands at a moment that matters (idle, lingering, inside a
 * check, attached, printing a drain, holding a lock), each moment reached before the signal
 * is sent. Each must release what it holds, leave no process it started behind, lose no wake,
 * and exit 128 + the signal number.
 *
 * fm-guard has no case: it holds nothing, writes nothing and has nothing that waits, so no
 * moment can be made to last until a signal lands; a case could only pass when the signal
 * happened to arrive in time.
 */
class TermIntHupTest {
    private static final Duration LIMIT = Duration.ofSeconds(60);

    enum Sig {
        HUP(1), INT(2), TERM(15);

        final int number;

        Sig(int number) { this.number = number; }

        int exitCode() { return 128 + number; }
    }

    private final TestKit kit = new TestKit();
    private final TestKit.Home fixture = kit.home("fm-signals", TestKit.QUIET, "FM_SIGNAL_GRACE", "0.5");
    private final Path home = fixture.home;
    private final Path state = fixture.state;
    /** Pids of check processes the watchers started: if they outlive a test we stop them. */
    private final List<Long> checkPids = new ArrayList<>();

    /**
     * Ignored signals are inherited: under nohup, or as a background job of a shell without job
     * control, HUP or INT arrive ignored and every command started here would shrug them off.
     */
    @BeforeAll
    static void hupAndIntAreNotIgnoredHere() throws IOException {
        String ignored = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("SigIgn:"))
                .findFirst().map(l -> l.substring("SigIgn:".length()).strip()).orElse("0");
        assertEquals(0, Long.parseUnsignedLong(ignored, 16) & 0b11, "the tests run with HUP or INT ignored (SigIgn "
                + ignored + "): start them from a shell with job control, not under nohup or as a plain background job");
    }

    @AfterEach
    void tearDown() {
        // An orphaned check escapes TestKit's process tree; stop it by the pid it recorded.
        for (long pid : checkPids) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        kit.close();
    }

    // ------------------------------------------------------------------ the cases

    @ParameterizedTest @EnumSource(Sig.class)
    void watcherIdle(Sig sig) throws Exception {
        TestKit.Lines w = start("fm-watch.java", fixture.env());
        awaitWatching(w);
        signal(w, sig);
        assertEquals(sig.exitCode(), w.exit(LIMIT), w.err());
        assertNothingLeft();
    }

    @ParameterizedTest @EnumSource(Sig.class)
    void watcherInCheck(Sig sig) throws Exception { inCheck("fm-watch.java", sig); }

    @ParameterizedTest @EnumSource(Sig.class)
    void armInCheck(Sig sig) throws Exception { inCheck("fm-watch-arm.java", sig); }

    // ------------------------------------------------------------------ scenarios

    /**
     * A status change starts a ten-minute linger; the signal lands inside it (the watcher's
     * thread dump shows it there) and the wake survives.
     */
    @ParameterizedTest @EnumSource(Sig.class)
    void watcherInLinger(Sig sig) throws Exception {
        Map<String, String> env = fixture.env("FM_SIGNAL_GRACE", "600");
        TestKit.Lines w = start("fm-watch.java", env);
        awaitWatching(w);
        Path status = Files.writeString(state.resolve("task.status"), "working: 1\n");
        long pid = w.process.pid();
        assertTrue(TestKit.waitFor(LIMIT, () -> !w.process.isAlive() || TestKit.mainThreadIn(pid, "Watcher.linger")),
                "the watcher never lingered over the change: " + w.err());
        assertTrue(w.process.isAlive(), "the watcher left its linger early: " + w.err());
        signal(w, sig);
        assertEquals(sig.exitCode(), w.exit(LIMIT), w.err());
        assertEquals("", String.join("\n", w.all(LIMIT)), "no reason line from an interrupted linger");
        assertFalse(Files.exists(state.resolve(".seen-task_status")), "an unreported signal must not be marked seen");
        assertNothingLeft();
        // Nothing lost: the next watcher reports the same change.
        TestKit.Result next = kit.run(TestKit.command("fm-watch.java"), fixture.env("FM_SIGNAL_GRACE", "0"), home, LIMIT);
        assertEquals("signal: " + status + "\n", next.stdout(), next.stderr());
    }

    /** A check that started a child and waits on it: the signal must end both, not orphan them. */
    private void inCheck(String script, Sig sig) throws Exception {
        Path shellPid = home.resolve("check-shell.pid");
        Path childPid = home.resolve("check-child.pid");
        Files.writeString(state.resolve("slow.check.sh"),
                "echo $$ > '" + shellPid + "'\nsleep 300 &\necho $! > '" + childPid + "'\nwait\n");
        TestKit.Lines w = start(script, fixture.env("FM_CHECK_INTERVAL", "0", "FM_CHECK_TIMEOUT", "600"));
        assertTrue(TestKit.waitFor(LIMIT, () -> Files.exists(childPid) && Files.exists(shellPid) && size(childPid) > 0),
                "the check never started: " + w.err());
        long shell = Long.parseLong(Files.readString(shellPid).strip());
        long child = Long.parseLong(Files.readString(childPid).strip());
        checkPids.add(child);
        checkPids.add(shell);
        assertTrue(w.process.isAlive(), "the watcher left during its check: " + w.seen + " " + w.err());
        signal(w, sig);
        assertEquals(sig.exitCode(), w.exit(LIMIT), w.err());
        assertNothingLeft();
        assertTrue(TestKit.waitFor(Duration.ofSeconds(10), () -> gone(shell) && gone(child)),
                script + " exited on " + sig + " but left its check running: bash pid " + shell + " alive="
                        + !gone(shell) + ", its child sleep pid " + child + " alive=" + !gone(child));
    }

    @ParameterizedTest @EnumSource(Sig.class)
    void armIdle(Sig sig) throws Exception {
        TestKit.Lines a = start("fm-watch-arm.java", fixture.env());
        String line = a.next(LIMIT);
        assertTrue(line.startsWith("watcher: started pid=" + a.process.pid() + " "), line + " " + a.err());
        awaitWatching(a);
        signal(a, sig);
        assertEquals(sig.exitCode(), a.exit(LIMIT), a.err());
        assertNothingLeft();
    }

    /** An attached arm holds nothing: its signal ends it alone and the watcher it watched lives on. */
    @ParameterizedTest @EnumSource(Sig.class)
    void armAttached(Sig sig) throws Exception {
        TestKit.Lines watcher = start("fm-watch-arm.java", fixture.env());
        assertTrue(watcher.next(LIMIT).startsWith("watcher: started pid=" + watcher.process.pid()), watcher.err());
        TestKit.Lines attached = start("fm-watch-arm.java", fixture.env(), "--attach");
        String line = attached.next(LIMIT);
        assertTrue(line.startsWith("watcher: attached pid=" + watcher.process.pid() + " "), line + " " + attached.err());
        signal(attached, sig);
        assertEquals(sig.exitCode(), attached.exit(LIMIT), attached.err());
        assertTrue(watcher.process.isAlive(), "the watcher must outlive an attached arm");
        assertEquals(watcher.process.pid(), FmLock.holderPid(state.resolve(".watch.lock")).orElse(-1));
        assertEquals(1, names(n -> n.startsWith(".watch.lock.owner.")).size(), "only the watcher's owner directory");
        assertEquals(List.of(), names(n -> n.startsWith(".wake-queue.lock") || n.startsWith(WakeQueue.DRAINING_PREFIX)));
    }

    /**
     * A drain blocked mid-print on a pipe nobody reads. After the signal, every record is either
     * printed already or still in the queue (at-least-once), and no private file is left behind.
     */
    @ParameterizedTest @EnumSource(Sig.class)
    void drainPrinting(Sig sig) throws Exception {
        int records = 200_000;
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i <= records; i++) {
            sb.append("1700000000\t").append(i).append("\tsignal\tk").append(i).append("\tsignal: k").append(i).append('\n');
        }
        Files.writeString(state.resolve(".wake-queue"), sb);
        Set<String> all = new HashSet<>(List.of(sb.toString().split("\n")));
        Process p = kit.start(TestKit.command("fm-wake-drain.java"), Map.of("FM_HOME", home.toString()), home);
        StringBuilder err = new StringBuilder();
        TestKit.pump(p.getErrorStream(), err);
        assertTrue(TestKit.waitFor(LIMIT, () -> names(n -> n.startsWith(WakeQueue.DRAINING_PREFIX)).size() == 1),
                "the drain never took the queue: " + err);
        // Read a little, so the drain is printing (and blocked on the full pipe) when the signal lands.
        InputStream out = p.getInputStream();
        byte[] first = out.readNBytes(256 * 1024);
        assertEquals(256 * 1024, first.length, "the drain printed too little: " + err);
        assertTrue(p.isAlive(), "the drain finished before the signal; make the queue bigger");
        signal(p, sig);
        byte[] rest = out.readAllBytes();
        assertTrue(p.waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS), "the drain ignored " + sig);
        assertEquals(sig.exitCode(), p.exitValue(), err.toString());
        String printed = new String(first, StandardCharsets.ISO_8859_1) + new String(rest, StandardCharsets.ISO_8859_1);
        List<String> leftBehind = names(n -> n.startsWith(WakeQueue.DRAINING_PREFIX) || n.startsWith(".wake-queue.lock"));

        TestKit.Result next = kit.run(TestKit.command("fm-wake-drain.java"), Map.of("FM_HOME", home.toString()), home, LIMIT);
        assertEquals(0, next.exit(), next.stderr());
        Set<String> covered = new HashSet<>(completeLines(printed));
        covered.addAll(next.lines());
        Set<String> missing = new HashSet<>(all);
        missing.removeAll(covered);
        assertEquals(0, missing.size(), missing.size() + " records lost, e.g. " + missing.stream().limit(3).toList());
        assertEquals(List.of(), leftBehind, "a drain stopped by " + sig + " must put its records back, not leave"
                + " its private file for the next drain (it printed " + completeLines(printed).size() + " of "
                + records + " lines)");
    }

    @ParameterizedTest @EnumSource(Sig.class)
    void lockHold(Sig sig) throws Exception {
        Path lock = state.resolve(".watch.lock");
        TestKit.Lines holder = start("FmLock.java", Map.of(), "try-acquire", lock.toString(), "--hold", "600");
        assertEquals("acquired pid=" + holder.process.pid(), holder.next(LIMIT), holder.err());
        assertEquals(holder.process.pid(), FmLock.holderPid(lock).orElse(-1));
        signal(holder, sig);
        assertEquals(sig.exitCode(), holder.exit(LIMIT), holder.err());
        assertNothingLeft();
    }

    // ------------------------------------------------------------------ helpers

    private TestKit.Lines start(String script, Map<String, String> env, String... args) throws IOException {
        return new TestKit.Lines(kit.start(TestKit.command(script, args), env, home));
    }

    /** The process holds the watcher lock and has finished its first poll (the sweep ran). */
    private void awaitWatching(TestKit.Lines w) {
        long pid = w.process.pid();
        assertTrue(TestKit.waitFor(LIMIT, () -> !w.process.isAlive()
                || (FmLock.holderPid(state.resolve(".watch.lock")).orElse(-1) == pid
                        && Files.exists(state.resolve(".last-check")) && Files.exists(state.resolve(".last-watcher-beat")))),
                "the watcher never started polling");
        assertTrue(w.process.isAlive(), "the watcher exited early: " + w.seen + " " + w.err());
    }

    private static void signal(TestKit.Lines p, Sig sig) throws Exception {
        signal(p.process, sig);
    }

    private static void signal(Process p, Sig sig) throws Exception {
        Process kill = new ProcessBuilder("kill", "-s", sig.name(), Long.toString(p.pid())).start();
        assertTrue(kill.waitFor(30, TimeUnit.SECONDS), "kill hung");
    }

    /** Nothing any command holds is left: locks, their owner and steal entries, drain files, temp files. */
    private void assertNothingLeft() {
        assertEquals(List.of(), names(n -> n.startsWith(".watch.lock") || n.startsWith(".wake-queue.lock")
                || n.startsWith(WakeQueue.DRAINING_PREFIX) || n.contains(".tmp.")));
    }

    private List<String> names(java.util.function.Predicate<String> which) {
        try (Stream<Path> s = Files.list(state)) {
            return s.map(p -> p.getFileName().toString()).filter(which).sorted().toList();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String> completeLines(String printed) {
        int end = printed.lastIndexOf('\n');
        return end < 0 ? List.of() : List.of(printed.substring(0, end).split("\n"));
    }

    private static boolean gone(long pid) {
        return ProcessHandle.of(pid).map(h -> !h.isAlive()).orElse(true);
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return 0;
        }
    }
}
