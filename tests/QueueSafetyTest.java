import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The queue's safety promises under attack, with real drain,
 * appender and watcher processes: a signal while the queue lock guards a half-done step, a
 * nearly full disk, a recycled pid, a leftover that cannot be moved, an overlong line, a full
 * disk mid-append, and the system calls that make it all survive a power loss. Drains are
 * stopped at exact steps under a debugger (JDI), and killed there for a leftover. One file
 * despite its length: the attacks share the small disk, the killed drain's leftover and the
 * appender, and each reads best beside the promise of docs/state.md it attacks.
 */
class QueueSafetyTest {
    private static final Duration LIMIT = Duration.ofSeconds(90);
    private final TestKit kit = new TestKit();
    private final List<Path> mounts = new ArrayList<>();
    private final List<Path> immutable = new ArrayList<>();
    /** The temp home ({@link #useHome}); the commands run under the C locale here. */
    private TestKit.Home fixture;
    private Path home;
    private Path state;

    @BeforeEach
    void setUp() throws IOException {
        useHome(kit.tempDir("fm-qsafe"));
    }

    @AfterEach
    void tearDown() throws IOException {
        for (Path p : immutable) kit.run(List.of("chattr", "-i", p.toString()), Map.of(), null, LIMIT);
        // Lazily: a process still running keeps the file system until the kit kills it.
        for (Path m : mounts) kit.run(List.of("umount", "-l", m.toString()), Map.of(), null, LIMIT);
        kit.close();
    }

    // ------------------------------------------------------------------ finding 5: signals

    /**
     * A drain stopped (under a debugger) inside a step it does under the queue lock - the
     * rename that takes the queue, or the rename that puts its records back - gets TERM. The
     * lock must stay held while that step is unfinished: a one-shot contender and a one-try
     * appender are refused; an appender that waits gets in once the step has ended, its record
     * lands after the drain's, and nothing is lost.
     */
    @ParameterizedTest(name = "TERM while stopped in the {0}")
    @ValueSource(strings = {"take", "put-back"})
    void aSignalNeverReleasesTheQueueLockUnderAHalfDoneStep(String step) throws Exception {
        List<String> records = appendRecords("early", 30);
        try (Debuggee d = Debuggee.start(kit, TestKit.command("fm-wake-drain.java"), fixture.env(), false)) {
            if (step.equals("take")) {
                d.stopAt("java.nio.file.Files", "move"); // the first rename: queue to private file
            } else {
                d.stopAt("WakeQueue", "putBack");     // printing failed: its reader is gone
                d.go();
                d.awaitStop();
                d.stopAt("java.nio.file.Files", "move"); // the rename that puts the records back
            }
            d.go();
            d.awaitStop();
            d.holdThreadDeaths(); // the JVM cannot halt until we let its shutdown hooks end
            d.process.toHandle().destroy(); // TERM
            assertTrue(TestKit.waitFor(LIMIT, () -> d.threadWaitingOrDead("fm-lock-release")),
                    "the lock-release hook never ran: " + d.err());

            TestKit.Result contender = kit.run(TestKit.command("FmLock.java", "try-acquire",
                    state.resolve(".wake-queue.lock").toString()), Map.of(), null, LIMIT);
            assertEquals("held pid=" + d.process.pid() + "\n", contender.stdout(),
                    "a second holder while the drain's " + step + " is unfinished: " + contender.stderr());
            TestKit.Result oneTry = kit.run(TestKit.command("tests/helpers/queue-append.java", state.toString(), "sneak", "1"),
                    Map.of("FM_QUEUE_LOCK_WAIT", "0"), null, LIMIT);
            assertEquals(1, oneTry.exit(), "an appender got in while the drain's " + step + " was unfinished");
            assertTrue(oneTry.stderr().contains("pid " + d.process.pid()), oneTry.stderr());
            Process appender = kit.start(TestKit.command("tests/helpers/queue-append.java", state.toString(), "late", "1"),
                    Map.of(), null);

            d.go(); // the step ends; the lock is released after it, never before
            TestKit.Result appended = TestKit.finish(appender, LIMIT);
            assertEquals(0, appended.exit(), appended.stderr());
            d.releaseAll();
            assertEquals(143, d.exit(), d.err());
        }
        TestKit.Result next = drain();
        assertEquals(0, next.exit(), next.stderr());
        List<String> lines = next.lines();
        assertEquals(records, lines.subList(0, Math.min(records.size(), lines.size())), "the drain's records, first");
        assertEquals(records.size() + 1, lines.size(), next.stdout());
        assertTrue(lines.get(records.size()).matches("\\d+\t\\d+\tsignal\tlate-0\tfrom late #0"), next.stdout());
        assertEquals(List.of(), privateFiles());
    }

    /**
     * A watcher stopped (under a debugger) between its queue append and its markers gets TERM:
     * its lock stays held until the markers are written, so no second watcher starts and
     * reports the same wake while the first is still recording it.
     */
    @Test
    void aSignalNeverReleasesTheWatcherLockBetweenTheAppendAndTheMarkers() throws Exception {
        Map<String, String> env = new HashMap<>(fixture.env());
        env.put("FM_HEARTBEAT", "0");
        env.put("FM_CHECK_INTERVAL", "3600");
        env.put("FM_SIGNAL_GRACE", "0");
        try (Debuggee w = Debuggee.start(kit, TestKit.command("fm-watch.java"), env, true)) {
            w.stopAt("Heartbeat", "recordWake"); // the heartbeat record is queued; its markers come now
            w.go();
            w.awaitStop();
            assertTrue(Files.readString(queue()).contains("\theartbeat\t"), "stopped before the append");
            w.holdThreadDeaths();
            w.process.toHandle().destroy();
            assertTrue(TestKit.waitFor(LIMIT, () -> w.threadWaitingOrDead("fm-lock-release")),
                    "the lock-release hook never ran: " + w.err());
            TestKit.Result contender = kit.run(TestKit.command("FmLock.java", "try-acquire",
                    state.resolve(".watch.lock").toString()), Map.of(), null, LIMIT);
            assertEquals("held pid=" + w.process.pid() + "\n", contender.stdout(),
                    "a second watcher could start while the first still records its wake: " + contender.stderr());
            w.go();
            assertTrue(TestKit.waitFor(LIMIT, () -> Files.exists(state.resolve(".heartbeat-streak"))),
                    "the markers were never written: " + w.err());
            w.releaseAll();
            assertEquals(143, w.exit(), w.err());
        }
        assertEquals("1\n", Files.readString(state.resolve(".heartbeat-streak")));
    }

    // ------------------------------------------------------------------ finding 7: little space

    /**
     * The review's reproduction: 1000 records left by a killed drain, 1000 queued after it, and
     * 24 KiB free on a 256 KiB file system. The drain needs no room for data: it prints all
     * 2000, the leftover's first, and leaves nothing behind.
     */
    @Test
    void aNearlyFullDiskNeverBlocksTheDrain() throws Exception {
        List<String> want = nearlyFullWithLeftover();

        TestKit.Result r = drain();
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(want, r.lines());
        assertEquals(2000, want.size());
        assertEquals(List.of(), privateFiles());
        assertEquals(0, Files.size(queue()));
    }

    /**
     * A 256 KiB file system with 24 KiB free, holding 1000 records left by a killed drain and
     * 1000 queued after it; returns them in the order a drain must print them.
     */
    private List<String> nearlyFullWithLeftover() throws Exception {
        useHome(smallDisk(256));
        Path left = leftoverOfAKilledDrain("old", 1000);
        List<String> want = new ArrayList<>(Files.readAllLines(left));
        want.addAll(appendRecords("new", 1000));
        fill(24 << 10);
        return want;
    }

    /**
     * The same full disk, and a drain whose reader goes away: its records cannot be copied back
     * into the queue, so they are left in files the next drain takes over, and a record queued
     * meanwhile still comes after them.
     */
    @Test
    void aDrainThatFailsOnAFullDiskLeavesItsRecordsInOrderForTheNext() throws Exception {
        List<String> want = nearlyFullWithLeftover();

        TestKit.Result failed = drainWithoutReader();
        assertEquals(1, failed.exit(), failed.stderr());
        assertEquals(1, failed.stderr().lines().count(), failed.stderr());
        assertTrue(failed.stderr().startsWith("fm-wake-drain: drain failed (") && failed.stderr().contains("next drain"),
                failed.stderr());
        want.addAll(appendRecords("late", 1));

        TestKit.Result r = drain();
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(want, r.lines());
        assertEquals(List.of(), privateFiles());
    }

    // ------------------------------------------------------------------ finding 8: take order

    /**
     * A killed drain's pid is reused by a process that is older than the leftover's mtime (a
     * failed write rewrites it, as the old put-back did). The leftover is still recognised as
     * the dead drain's and comes out first, before newer records.
     */
    @Test
    void aLeftoverWhosePidWasReusedComesOutFirst() throws Exception {
        Path left = null;
        Process reuser = null;
        for (int round = 0; reuser == null; round++) {
            // Rarely, another process on the machine takes the freed pid first: start over.
            assertTrue(round < 3, "the dead drain's pid was taken by other processes three times");
            if (left != null) assertEquals(0, drain().exit());
            left = leftoverOfAKilledDrain("old" + round, 20);
            long deadPid = Long.parseLong(left.getFileName().toString()
                    .substring(WakeQueue.DRAINING_PREFIX.length()).split("\\.")[0]);
            reuser = processWithPid(deadPid);
        }
        List<String> want = new ArrayList<>(Files.readAllLines(left));
        Files.setLastModifiedTime(left, FileTime.from(Instant.now().plusSeconds(5)));
        want.addAll(appendRecords("new", 20));

        TestKit.Result r = drain();
        assertTrue(reuser.isAlive(), "the process that reused the pid must still be there");
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(want, r.lines());
        assertEquals(List.of(), privateFiles());
    }

    /**
     * Two drains killed together leave two leftovers; they come out in the order they were
     * taken, whatever their mtimes say.
     */
    @Test
    void leftoversComeOutInTakeOrderWhateverTheirMtimes() throws Exception {
        Stopped a = drainStoppedWhilePrinting("first", 10);
        Stopped b = drainStoppedWhilePrinting("second", 10); // the first is alive: its file is not taken
        kill(a);
        kill(b);
        Path first = a.file();
        Path second = b.file();
        List<String> want = new ArrayList<>(Files.readAllLines(first));
        want.addAll(Files.readAllLines(second));
        Files.setLastModifiedTime(first, FileTime.from(Instant.now().plusSeconds(60)));
        Files.setLastModifiedTime(second, FileTime.from(Instant.now().minusSeconds(60)));
        want.addAll(appendRecords("third", 10));

        TestKit.Result r = drain();
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(want, r.lines());
    }

    // ------------------------------------------------------------------ finding 9: the message

    /**
     * A leftover that cannot be moved (immutable): the drain fails in one line that says its
     * records are older and go in front of the queue, never "append"; the queue is untouched,
     * and once the cause is gone the next drain prints the leftover first.
     */
    @Test
    void aLeftoverThatCannotBeTakenOverIsReportedAsBelongingInFront() throws Exception {
        Path left = leftoverOfAKilledDrain("old", 5);
        List<String> want = new ArrayList<>(Files.readAllLines(left));
        want.addAll(appendRecords("new", 5));
        String queued = Files.readString(queue());
        TestKit.Result chattr = kit.run(List.of("chattr", "+i", left.toString()), Map.of(), null, LIMIT);
        assumeTrue(chattr.exit() == 0, "chattr +i: " + chattr.stderr());
        immutable.add(left);

        TestKit.Result r = drain();
        assertEquals(1, r.exit(), r.stdout());
        assertEquals("", r.stdout());
        assertEquals(1, r.stderr().lines().count(), r.stderr());
        String line = r.stderr().strip();
        assertTrue(line.contains(left.toString()) && line.contains("in front of"), line);
        assertFalse(line.contains("append"), "the leftover's records are older; they never go after the queue's: " + line);
        assertEquals(queued, Files.readString(queue()));

        assertEquals(0, kit.run(List.of("chattr", "-i", left.toString()), Map.of(), null, LIMIT).exit());
        TestKit.Result again = drain();
        assertEquals(0, again.exit(), again.stderr());
        assertEquals(want, again.lines());
    }

    // ------------------------------------------------------------------ finding 10

    /** A line over the cap is dropped with exactly one line on stderr: how many, how long, what became of them. */
    @Test
    void linesTooLongToBeRecordsAreReportedOnce() throws Exception {
        String big = "x".repeat(5 << 20);
        Files.writeString(queue(), "1\t1\tsignal\ta\tA\n1\t2\tcheck\tbig\t" + big + "\n1\t3\tstale\tw\tW\n"
                + "1\t4\tcheck\tbig2\t" + big.substring(0, WakeQueue.MAX_LINE_BYTES) + "\n1\t5\tsignal\tb\tB\n");
        TestKit.Result r = drain();
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(List.of("1\t1\tsignal\ta\tA", "1\t3\tstale\tw\tW", "1\t5\tsignal\tb\tB"), r.lines());
        assertEquals(1, r.stderr().lines().count(), r.stderr());
        long longest = "1\t2\tcheck\tbig\t".length() + big.length();
        assertEquals("fm-wake-drain: dropped 2 lines longer than " + WakeQueue.MAX_LINE_BYTES + " bytes (the longest "
                + longest + " bytes) from the drained queue: no firstmate tool writes records that long, so they are"
                + " not wakes\n", r.stderr());
    }

    /**
     * An append that runs out of space mid-record takes its partial line back, so a bash
     * appender's `>>` afterwards starts a line of its own instead of joining a torn one.
     */
    @Test
    void aFailedAppendLeavesNoPartialLineForABashAppender() throws Exception {
        useHome(smallDisk(256));
        List<String> want = appendRecords("before", 1);
        byte[] before = Files.readAllBytes(queue());
        fill(40 << 10);
        WakeQueue q = new WakeQueue(FmHome.of(home, state, home.resolve("fm-watch.java")), new Knobs(Map.of()));
        IOException e = assertThrows(IOException.class,
                () -> q.append(List.of(new WakeQueue.Entry("check", "huge", "y".repeat(200 << 10)))));
        assertTrue(e.getMessage().contains("No space left"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(queue()), "the failed append left bytes behind");

        String bash = "1700000000\t99\tsignal\tfrom-bash\tsignal: from bash";
        TestKit.Result b = kit.run(List.of("bash", "-c", "printf '%s\\n' \"$1\" >> \"$2\"", "bash", bash,
                queue().toString()), Map.of(), null, LIMIT);
        assertEquals(0, b.exit(), b.stderr());
        want.add(bash);
        TestKit.Result r = drain();
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(want, r.lines());
    }

    /**
     * What survives a power loss is what reached the disk, directory entries included. Traced
     * at the system-call level: every rename and creation in the state directory (take,
     * adoption, sequence file, a new queue) is followed by an fsync of that directory before
     * the queue lock is released, and the sequence file's temporary is forced before its rename.
     */
    @Test
    void everyRenameAndCreationIsForcedToDiskBeforeTheLockIsReleased() throws Exception {
        assumeTrue(onPath("strace"), "strace is not installed");
        // An old-format leftover; its pid is beyond any pid_max, so no process can own it.
        String gone = WakeQueue.DRAINING_PREFIX + "2000000000";
        Files.writeString(state.resolve(gone + ".1f"), "1\t1\tsignal\tleft\tL\n");

        List<String> append = traced("append", TestKit.command("tests/helpers/queue-append.java", state.toString(), "a", "2"));
        assertForcedBeforeRelease(append, "the append");
        String tmp = ".wake-queue.seq.tmp.";
        Integer tmpFd = null;
        boolean tmpForced = false;
        boolean renamed = false;
        for (String call : append) {
            Matcher open = OPEN.matcher(call);
            if (open.find() && open.group(1).contains(tmp)) tmpFd = Integer.valueOf(open.group(2));
            if (tmpFd != null && call.matches("f(data)?sync\\(" + tmpFd + "\\).*")) tmpForced = true;
            if (call.startsWith("rename") && call.contains(tmp)) {
                assertTrue(tmpForced, "the sequence file's temporary was renamed before it was forced: " + append);
                renamed = true;
            }
        }
        assertTrue(renamed, "no rename of the sequence file's temporary seen: " + append);

        List<String> drain = traced("drain", TestKit.command("fm-wake-drain.java"));
        assertForcedBeforeRelease(drain, "the drain");
        assertTrue(drain.stream().anyMatch(c -> c.startsWith("rename") && c.contains(gone)),
                "the leftover was not taken over: " + drain);
    }

    // ------------------------------------------------------------------ the guard

    /**
     * The guard's "queued wakes pending" tells the truth about leftovers: silent while a live
     * drain prints its own records, loud once that drain is dead and its records wait.
     */
    @Test
    void theGuardCountsADeadDrainsLeftoverButNotALiveDrainsRecords() throws Exception {
        Files.writeString(state.resolve("task.meta"), "window=fleet:w\n");
        StateFiles.touch(state.resolve(".last-watcher-beat"));
        appendRecords("w", 5);
        try (Debuggee d = Debuggee.start(kit, TestKit.command("fm-wake-drain.java"), fixture.env(), true)) {
            d.stopAt("WakeQueue", "printDeduplicated");
            d.go();
            d.awaitStop();
            assertEquals(0, Files.size(queue()));
            assertEquals(1, privateFiles().size());
            TestKit.Result live = guard();
            assertEquals("", live.stderr(), "a live drain is printing these records; nothing waits");
            d.process.destroyForcibly();
            assertTrue(d.process.waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS));
        }
        TestKit.Result dead = guard();
        assertEquals(0, dead.exit());
        assertEquals("WARNING: queued wakes pending - drain them with FM_HOME=" + ShellWord.of(fixture.home) + " "
                + ShellWord.of(TestKit.root().resolve("fm-wake-drain.java")) + " before anything else.\n", dead.stderr());
        assertEquals(5, drain().lines().size());
        assertEquals("", guard().stderr());
    }

    // ------------------------------------------------------------------ helpers: the queue

    private void useHome(Path dir) throws IOException {
        fixture = new TestKit.Home(kit, dir).set("LC_ALL", "C");
        home = fixture.home;
        state = fixture.state;
    }

    private Path queue() { return state.resolve(".wake-queue"); }


    private TestKit.Result drain() throws IOException {
        return kit.run(TestKit.command("fm-wake-drain.java"), fixture.env(), null, LIMIT);
    }

    private TestKit.Result guard() throws IOException {
        return kit.run(TestKit.command("fm-guard.java"), fixture.env(), null, LIMIT);
    }

    /** A drain whose reader is gone before it prints: every write fails (EPIPE). */
    private TestKit.Result drainWithoutReader() throws IOException {
        Process p = kit.start(TestKit.command("fm-wake-drain.java"), fixture.env(), null);
        p.getInputStream().close();
        return TestKit.finish(p, LIMIT);
    }

    /** Appends {@code n} records with keys {@code tag-0...} through a real appender; returns them as queued. */
    private List<String> appendRecords(String tag, int n) throws IOException {
        List<String> before = Files.exists(queue()) ? Files.readAllLines(queue()) : List.of();
        TestKit.Result r = kit.run(TestKit.command("tests/helpers/queue-append.java", state.toString(), tag,
                Integer.toString(n), Integer.toString(n)), Map.of(), null, LIMIT);
        assertEquals(0, r.exit(), r.stderr());
        List<String> after = Files.readAllLines(queue());
        assertEquals(before, after.subList(0, before.size()));
        return new ArrayList<>(after.subList(before.size(), after.size()));
    }

    /**
     * Queues {@code n} records, lets a drain take them, and kills it (SIGKILL) at the moment
     * it starts printing: its private file is the leftover, returned.
     */
    private Path leftoverOfAKilledDrain(String tag, int n) throws Exception {
        Stopped s = drainStoppedWhilePrinting(tag, n);
        kill(s);
        return s.file();
    }

    /** A drain, stopped by the debugger as it starts printing, and the private file it took. */
    record Stopped(Debuggee drain, Path file) {}

    private Stopped drainStoppedWhilePrinting(String tag, int n) throws Exception {
        appendRecords(tag, n);
        List<Path> before = privateFiles();
        Debuggee d = Debuggee.start(kit, TestKit.command("fm-wake-drain.java"), fixture.env(), true);
        d.stopAt("WakeQueue", "printDeduplicated");
        d.go();
        d.awaitStop();
        List<Path> now = new ArrayList<>(privateFiles());
        now.removeAll(before);
        assertEquals(1, now.size(), "the stopped drain's private file: " + now);
        return new Stopped(d, now.get(0));
    }

    private static void kill(Stopped s) throws InterruptedException {
        s.drain().process.destroyForcibly();
        assertTrue(s.drain().process.waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS));
        s.drain().close();
    }

    private List<Path> privateFiles() throws IOException {
        try (Stream<Path> s = Files.list(state)) {
            return s.filter(p -> p.getFileName().toString().startsWith(WakeQueue.DRAINING_PREFIX)).sorted().toList();
        }
    }

    // ------------------------------------------------------------------ helpers: the machine

    /** A fresh tmpfs of {@code kib} KiB, unmounted after the test. */
    private Path smallDisk(int kib) throws IOException {
        Path dir = kit.tempDir("fm-qsafe-disk");
        TestKit.Result m = kit.run(List.of("mount", "-t", "tmpfs", "-o", "size=" + kib + "k", "tmpfs", dir.toString()),
                Map.of(), null, LIMIT);
        assumeTrue(m.exit() == 0, "mount: " + m.stderr());
        mounts.add(dir);
        return dir;
    }

    /** Fills the file system of the home until about {@code free} bytes are left. */
    private void fill(long free) throws IOException {
        FileStore fs = Files.getFileStore(home);
        long fill = (fs.getUsableSpace() - free) & ~4095L;
        assertTrue(fill > 0, "less than " + free + " bytes free already: " + fs.getUsableSpace());
        Files.write(home.resolve("filler"), new byte[(int) fill]);
        long left = fs.getUsableSpace();
        assertTrue(left <= free && left >= free - 8192, "free after filling: " + left);
    }

    /**
     * A live process of ours that has {@code pid}, which a drain used: the kernel's next pid is
     * set just below it and a child forked right after (root only; retried while others fork
     * meanwhile). Null when some other process took the pid first.
     */
    private Process processWithPid(long pid) throws Exception {
        for (int attempt = 0; attempt < 300; attempt++) {
            if (ProcessHandle.of(pid).isPresent()) return null;
            Process p = kit.start(List.of("bash", "-c", "echo " + (pid - 1)
                    + " > /proc/sys/kernel/ns_last_pid || exit 3; sleep 3600 & echo $!; wait"), Map.of(), null);
            String line = new String(readLine(p.getInputStream()), StandardCharsets.US_ASCII).strip();
            if (line.isEmpty()) {
                assertTrue(p.waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS));
                assumeTrue(p.exitValue() != 3, "cannot write /proc/sys/kernel/ns_last_pid (needs root)");
                throw new AssertionError("the pid-choosing shell failed: exit " + p.exitValue());
            }
            if (line.equals(Long.toString(pid))) return p;
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        throw new AssertionError("pid " + pid + " never came round again in 300 forks");
    }

    private static boolean onPath(String command) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, command))) return true;
        }
        return false;
    }

    private static byte[] readLine(InputStream in) throws IOException {
        java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();
        for (int b; (b = in.read()) >= 0 && b != '\n'; ) line.write(b);
        return line.toByteArray();
    }

    // ------------------------------------------------------------------ helpers: system calls

    private static final String TRACED = "trace=open,openat,close,rename,renameat,renameat2,fsync,fdatasync,unlink,unlinkat";
    /** An open that succeeded: the path, then the descriptor. */
    private static final Pattern OPEN = Pattern.compile("^open(?:at)?\\((?:AT_FDCWD, )?\"([^\"]*)\".*\\) = (\\d+)$");

    /**
     * Runs {@code cmd} under strace and returns the calls of the thread that worked on the
     * queue (the one that released the queue lock), in order, each without its pid prefix.
     */
    private List<String> traced(String name, List<String> cmd) throws Exception {
        Path out = kit.tempDir("fm-qsafe-strace").resolve(name);
        List<String> full = new ArrayList<>(List.of("strace", "-f", "-ff", "-qq", "-s", "512", "-e", TRACED, "-o", out.toString()));
        full.addAll(cmd);
        TestKit.Result r = kit.run(full, fixture.env(), null, LIMIT);
        assertEquals(0, r.exit(), r.stderr());
        String lock = "\"" + state.resolve(".wake-queue.lock") + "\"";
        try (Stream<Path> files = Files.list(out.getParent())) {
            for (Path f : files.toList()) {
                List<String> calls = Files.readAllLines(f);
                if (calls.stream().anyMatch(c -> c.startsWith("unlink") && c.contains(lock))) return calls;
            }
        }
        throw new AssertionError("no thread of " + name + " released the queue lock");
    }

    /**
     * Every successful rename touching the state directory, and every creation of the queue,
     * is followed by an fsync of the state directory before the queue lock is next released.
     */
    private void assertForcedBeforeRelease(List<String> calls, String who) {
        String dir = "\"" + state + "\"";
        String lock = "\"" + state.resolve(".wake-queue.lock") + "\"";
        Set<Integer> dirFds = new java.util.HashSet<>();
        String pending = null;
        int changes = 0;
        for (String c : calls) {
            if (c.endsWith("<unfinished ...>") || c.contains("resumed>")) continue; // -ff keeps one thread per file
            Matcher open = OPEN.matcher(c);
            if (open.find()) {
                int fd = Integer.parseInt(open.group(2));
                dirFds.remove(fd);
                if (open.group(1).equals(state.toString())) dirFds.add(fd);
                if (open.group(1).equals(queue().toString()) && c.contains("O_CREAT") && c.contains("O_EXCL")) {
                    pending = c;
                    changes++;
                }
            } else if (c.startsWith("close(")) {
                Matcher m = Pattern.compile("^close\\((\\d+)\\)").matcher(c);
                if (m.find()) dirFds.remove(Integer.parseInt(m.group(1)));
            } else if (c.startsWith("rename") && c.endsWith("= 0") && c.contains(state.toString() + "/")) {
                pending = c;
                changes++;
            } else if (c.matches("f(data)?sync\\((\\d+)\\).*= 0")) {
                Matcher m = Pattern.compile("\\((\\d+)\\)").matcher(c);
                if (m.find() && dirFds.contains(Integer.parseInt(m.group(1)))) pending = null;
            } else if (c.startsWith("unlink") && c.contains(lock)) {
                assertNull(pending, who + " released the queue lock before forcing the state directory after: "
                        + pending + "\n" + String.join("\n", calls));
            }
        }
        assertTrue(changes > 0, who + " changed nothing in " + dir + ": " + calls);
        assertNull(pending, who + " never forced the state directory after: " + pending);
    }
}
