import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bad input in the watcher's singleton lock (docs/reliability.md "Bad input", lock rows), run
 * against the real commands. Its home knobs ({@link #home}) and assertions serve every BadInput*Test.
 *
 * What every case asserts: an exact outcome, no Java stack trace on the user's screen, and
 * that nothing the lock protocol does not own is ever deleted.
 */
class BadInputTest {
    static final Duration LIMIT = Duration.ofSeconds(60);

    @AutoClose private final TestKit kit = new TestKit();

    // ------------------------------------------------------------------ garbage pid files

    private static final Map<String, byte[]> GARBAGE_PIDS = Map.of(
            "text", "garbage\n".getBytes(StandardCharsets.US_ASCII),
            "negative", "-5\n".getBytes(StandardCharsets.US_ASCII),
            "25 digits", "1234567890123456789012345\n".getBytes(StandardCharsets.US_ASCII),
            "NUL bytes", new byte[] {0, 0, 0, 0},
            "empty", new byte[0]);

    /** One garbage pid case: an old lock for the watcher, a fresh one for the arm, one for the guard. */
    private record PidCase(String what, TestKit.Home old, Process watcher, TestKit.Home fresh, Instant created, TestKit.Lines arm,
                           TestKit.Home guarded, Process guard) {}

    /**
     * A directory-form lock whose pid file holds no usable pid is "mid-acquire" for 2 s after
     * its mtime, then abandoned: an old one is reclaimed by the watcher at once, a fresh one by
     * the arm only after the grace. The guard never looks at the lock. The five kinds of
     * garbage run side by side, each in its own homes.
     */
    @Test
    void locksWithAGarbagePidAreReclaimedAfterTheMidAcquireGrace() throws Exception {
        List<PidCase> cases = new ArrayList<>();
        for (Map.Entry<String, byte[]> c : GARBAGE_PIDS.entrySet()) {
            TestKit.Home old = heartbeatDue(home(kit));
            lockDir(old.state, c.getValue(), Instant.now().minusSeconds(3600));
            TestKit.Home fresh = heartbeatDue(home(kit));
            TestKit.Home guarded = home(kit);
            lockDir(guarded.state, c.getValue(), Instant.now());
            guarded.write("t.meta", "window=fleet:t\n");
            Instant created = Instant.now();
            lockDir(fresh.state, c.getValue(), created);
            cases.add(new PidCase(c.getKey(), old, old.start("fm-watch.java"), fresh, created,
                    new TestKit.Lines(fresh.start("fm-watch-arm.java")), guarded, guarded.start("fm-guard.java")));
        }
        for (PidCase c : cases) {
            String started = c.arm().next(LIMIT);
            double waited = Duration.between(c.created(), Instant.now()).toMillis() / 1000.0;
            assertTrue(started.matches("watcher: started pid=" + c.arm().process.pid() + " \\(beacon fresh(; no task in flight)?\\)"),
                    c.what() + ": " + started);
            assertTrue(waited >= 1.9, "a " + c.what() + " lock only " + waited + " s old was taken: the 2 s floor is gone");
            assertEquals("heartbeat", c.arm().next(LIMIT), c.what());
            assertEquals(0, c.arm().exit(LIMIT), c.what() + ": " + c.arm().err());
            assertEquals("", c.arm().err(), c.what());

            TestKit.Result w = TestKit.finish(c.watcher(), LIMIT);
            assertEquals(0, w.exit(), c.what() + ": " + w.stderr());
            assertEquals("heartbeat\n", w.stdout(), c.what());
            assertEquals("", w.stderr(), c.what());
            assertEquals(List.of(List.of("1", "heartbeat", "heartbeat", "heartbeat")), c.old().records(), c.what());
            c.old().assertNoLockLeft();
            c.fresh().assertNoLockLeft();

            TestKit.Result g = TestKit.finish(c.guard(), LIMIT);
            assertEquals(0, g.exit(), c.what());
            assertEquals("", g.stdout(), c.what());
            assertTrue(g.stderr().contains("WATCHER DOWN - SUPERVISION IS OFF"), c.what() + ": " + g.stderr());
            assertClean(g.stderr());
            assertTrue(Files.isDirectory(c.guarded().state.resolve(".watch.lock")), c.what() + ": the guard touched the lock");
        }
    }

    // ------------------------------------------------------------------ things that are not our lock

    /**
     * A directory-form lock that holds a file the protocol does not own: the reclaim removes
     * only the known files, so the directory stays and can never be taken. The file must
     * survive, and the user must be told why no watcher can start (not "already running").
     */
    @Test
    void aLockDirectoryHoldingAForeignFileIsKeptAndReportedInOneLine() throws Exception {
        TestKit.Home home = heartbeatDue(home(kit));
        Path lock = lockDir(home.state, "junk\n".getBytes(StandardCharsets.US_ASCII), Instant.now().minusSeconds(3600));
        Path foreign = Files.writeString(lock.resolve("keep.me"), "someone's notes\n");
        Files.setLastModifiedTime(lock, FileTime.from(Instant.now().minusSeconds(3600)));

        TestKit.Result w = home.run("fm-watch.java");

        assertEquals("someone's notes\n", Files.readString(foreign), "a file the protocol does not own was touched");
        assertClean(w.stderr());
        assertEquals("", w.stdout(), "no watcher runs, yet it said: " + w.stdout());
        assertEquals(1, w.exit());
        String line = oneLine(w.stderr());
        assertTrue(line.startsWith("watcher: " + lock) && line.contains("keep.me"), line);

        home.env.put("FM_ARM_CONFIRM_TIMEOUT", "3");
        TestKit.Result a = home.run("fm-watch-arm.java");
        assertEquals("watcher: FAILED - no live watcher with a fresh beacon\n", a.stdout());
        assertEquals(1, a.exit());
        assertTrue(oneLine(a.stderr()).contains("keep.me"), "FAILED without a reason: " + a.stderr());
        assertEquals("someone's notes\n", Files.readString(foreign));
    }

    /**
     * A link at the lock path that is not one of our owner tokens: once the 2 s grace has
     * passed it is an abandoned lock, and the reclaim removes the link and nothing it points to.
     */
    @ParameterizedTest(name = "link to {0}")
    @ValueSource(strings = {"nothing", "a foreign file", "a foreign directory with a dead pid"})
    void aLinkAtTheLockPathIsReclaimedAndOnlyTheLinkRemoved(String target) throws Exception {
        TestKit.Home home = heartbeatDue(home(kit));
        Path elsewhere = kit.tempDir("fm-foreign");
        Path pointee = elsewhere.resolve("precious");
        if (target.equals("a foreign file")) {
            Files.writeString(pointee, "not yours\n");
        } else if (target.startsWith("a foreign directory")) {
            Files.createDirectory(pointee);
            Files.writeString(pointee.resolve("pid"), deadPid() + "\n");
            Files.writeString(pointee.resolve("notes"), "not yours\n");
        }
        Path lock = Files.createSymbolicLink(home.state.resolve(".watch.lock"), pointee);
        setLinkTime(lock, Instant.now().minusSeconds(3600));

        TestKit.Result w = home.run("fm-watch.java");

        assertEquals(0, w.exit(), w.stderr());
        assertEquals("heartbeat\n", w.stdout());
        assertEquals("", w.stderr());
        home.assertNoLockLeft();
        if (target.equals("a foreign file")) assertEquals("not yours\n", Files.readString(pointee));
        if (target.startsWith("a foreign directory")) {
            assertTrue(Files.exists(pointee.resolve("pid")), "the reclaim emptied a directory that is not its token");
            assertEquals("not yours\n", Files.readString(pointee.resolve("notes")));
        }
    }

    // ------------------------------------------------------------------ shared helpers

    /** A directory-form lock holding {@code pid}, dated {@code when} (both the directory and the pid file). */
    static Path lockDir(Path state, byte[] pid, Instant when) throws IOException {
        Path lock = Files.createDirectory(state.resolve(".watch.lock"));
        Files.write(lock.resolve("pid"), pid);
        Files.setLastModifiedTime(lock.resolve("pid"), FileTime.from(when));
        Files.setLastModifiedTime(lock, FileTime.from(when));
        return lock;
    }

    static void setLinkTime(Path link, Instant when) throws IOException {
        FileTime t = FileTime.from(when);
        Files.getFileAttributeView(link, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setTimes(t, t, t);
    }

    /** A pid that named a process which has exited. */
    static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }

    /** A stack frame, a JVM crash banner, a qualified Java class name, or a bare exception as the whole message. */
    private static final Pattern RAW_JAVA = Pattern.compile("\tat |Exception in thread|Caused by:|^Error: "
            + "|\\b(java|javax|sun|jdk)\\.[a-z.]+\\.?[A-Z]\\w*|^[\\w-]+: \\w*(Exception|Error)$|StackOverflowError",
            Pattern.MULTILINE);

    /**
     * No Java stack trace or raw Java error reached the user's screen. A simple exception name
     * inside a sentence, as in "cannot create state directory X (AccessDeniedException); ...",
     * is the project's own one-line style and passes; "watcher: StackOverflowError" does not.
     */
    static void assertClean(String stderr) {
        assertFalse(RAW_JAVA.matcher(stderr).find(), "a stack trace or raw Java error on the user's screen:\n" + stderr);
    }

    /** The only line of {@code text}, which must hold exactly one. */
    static String oneLine(String text) {
        List<String> lines = text.lines().toList();
        assertEquals(1, lines.size(), "expected one line, got:\n" + text);
        return lines.get(0);
    }

    /** A temporary home with this family's quick knobs; {@link #heartbeatDue} makes the first poll wake. */
    static TestKit.Home home(TestKit kit) throws IOException { return home(kit, kit.tempDir("fm-bad")); }

    /** {@link #home(TestKit)} at a given directory. */
    static TestKit.Home home(TestKit kit, Path dir) throws IOException {
        return new TestKit.Home(kit, dir).limit(LIMIT).set(
                "FM_POLL", "0.1",
                "FM_SIGNAL_GRACE", "0.5",
                "FM_HEARTBEAT", "3600",
                "FM_HEARTBEAT_MAX", "7200",
                "FM_ARM_CONFIRM_TIMEOUT", "20");
    }

    /** The heartbeat is overdue, so the first poll with nothing else due wakes with it. */
    static TestKit.Home heartbeatDue(TestKit.Home h) throws IOException {
        Path last = h.write(".last-heartbeat", "");
        Files.setLastModifiedTime(last, FileTime.from(Instant.now().minusSeconds(3600)));
        return h.set("FM_HEARTBEAT", "0.3");
    }
}
