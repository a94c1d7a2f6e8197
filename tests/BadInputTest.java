import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bad input in the watcher's singleton lock (the README's "bad input" table, lock rows), run
 * against the real commands. The shared {@link Home} and assertions serve every BadInput*Test.
 *
 * What every case asserts: an exact outcome, no Java stack trace on the user's screen, and
 * that nothing the lock protocol does not own is ever deleted.
 */
class BadInputTest {
    static final Duration LIMIT = Duration.ofSeconds(60);

    private final TestKit kit = new TestKit();

    @AfterEach
    void tearDown() { kit.close(); }

    // ------------------------------------------------------------------ garbage pid files

    private static final Map<String, byte[]> GARBAGE_PIDS = Map.of(
            "text", "garbage\n".getBytes(StandardCharsets.US_ASCII),
            "negative", "-5\n".getBytes(StandardCharsets.US_ASCII),
            "25 digits", "1234567890123456789012345\n".getBytes(StandardCharsets.US_ASCII),
            "NUL bytes", new byte[] {0, 0, 0, 0},
            "empty", new byte[0]);

    /** One garbage pid case: an old lock for the watcher, a fresh one for the arm, one for the guard. */
    private record PidCase(String what, Home old, Process watcher, Home fresh, Instant created, Running arm,
                           Home guarded, Process guard) {}

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
            Home old = new Home(kit).heartbeatDue();
            lockDir(old.state, c.getValue(), Instant.now().minusSeconds(3600));
            Home fresh = new Home(kit).heartbeatDue();
            Home guarded = new Home(kit);
            lockDir(guarded.state, c.getValue(), Instant.now());
            guarded.write("t.meta", "window=fleet:t\n");
            Instant created = Instant.now();
            lockDir(fresh.state, c.getValue(), created);
            cases.add(new PidCase(c.getKey(), old, old.start("fm-watch.java"), fresh, created,
                    new Running(fresh.start("fm-watch-arm.java")), guarded, guarded.start("fm-guard.java")));
        }
        for (PidCase c : cases) {
            String started = c.arm().nextLine(LIMIT);
            double waited = Duration.between(c.created(), Instant.now()).toMillis() / 1000.0;
            assertTrue(started.matches("watcher: started pid=" + c.arm().process.pid() + " \\(beacon fresh\\)"),
                    c.what() + ": " + started);
            assertTrue(waited >= 1.9, "a " + c.what() + " lock only " + waited + " s old was taken: the 2 s floor is gone");
            assertEquals("heartbeat", c.arm().nextLine(LIMIT), c.what());
            assertEquals(0, c.arm().exit(LIMIT), c.what() + ": " + c.arm().err);
            assertEquals("", c.arm().err.toString(), c.what());

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
        Home home = new Home(kit).heartbeatDue();
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
        Home home = new Home(kit).heartbeatDue();
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

    /** A temporary home with quick knobs; {@link #heartbeatDue} makes the first poll wake. */
    static final class Home {
        final TestKit kit;
        final Path home;
        final Path state;
        final Map<String, String> env = new HashMap<>();

        Home(TestKit kit) throws IOException { this(kit, kit.tempDir("fm-bad")); }

        Home(TestKit kit, Path home) throws IOException {
            this.kit = kit;
            this.home = home;
            this.state = Files.createDirectories(home.resolve("state"));
            env.put("FM_HOME", home.toString());
            env.put("FM_POLL", "0.1");
            env.put("FM_SIGNAL_GRACE", "0.5");
            env.put("FM_HEARTBEAT", "3600");
            env.put("FM_HEARTBEAT_MAX", "7200");
            env.put("FM_ARM_CONFIRM_TIMEOUT", "20");
            env.put("LANG", "C.UTF-8");
            env.put("LC_ALL", "C.UTF-8");
            env.put("TMUX_TMPDIR", home.toString()); // never a real tmux server of the machine
        }

        /** The heartbeat is overdue, so the first poll with nothing else due wakes with it. */
        Home heartbeatDue() throws IOException {
            Path last = write(".last-heartbeat", "");
            Files.setLastModifiedTime(last, FileTime.from(Instant.now().minusSeconds(3600)));
            env.put("FM_HEARTBEAT", "0.3");
            return this;
        }

        Process start(String script, String... args) throws IOException {
            return kit.start(TestKit.command(script, args), env, home);
        }

        TestKit.Result run(String script, String... args) throws IOException {
            return TestKit.finish(start(script, args), LIMIT);
        }

        Path write(String name, String content) throws IOException {
            return Files.writeString(state.resolve(name), content);
        }

        Path write(String name, byte[] content) throws IOException {
            return Files.write(state.resolve(name), content);
        }

        /** The queue's records as [seq, kind, key, payload]; every line must have five fields. */
        List<List<String>> records() throws IOException {
            List<List<String>> out = new ArrayList<>();
            Path q = state.resolve(".wake-queue");
            if (!Files.exists(q)) return out;
            for (String line : Files.readAllLines(q, StandardCharsets.UTF_8)) {
                String[] f = line.split("\t", -1);
                assertEquals(5, f.length, line);
                assertTrue(f[0].matches("[0-9]{10}"), line);
                out.add(List.of(f[1], f[2], f[3], f[4]));
            }
            return out;
        }

        /** No watcher lock, owner directory or steal mutex is left in STATE. */
        void assertNoLockLeft() throws IOException {
            try (Stream<Path> s = Files.list(state)) {
                assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".watch.lock"))
                        .toList());
            }
        }
    }

    /** A running command whose stdout lines are read as they come. */
    static final class Running {
        final Process process;
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        final StringBuilder err = new StringBuilder();
        /** Counted down once stdout reached its end: every line is in {@link #lines}. */
        final CountDownLatch eof = new CountDownLatch(1);

        Running(Process p) {
            process = p;
            Thread t = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) lines.add(l);
                } catch (IOException ignored) {
                    // the process is gone
                } finally {
                    eof.countDown();
                }
            }, "bad-input-lines");
            t.setDaemon(true);
            t.start();
            TestKit.pump(p.getErrorStream(), err);
        }

        String nextLine(Duration limit) throws InterruptedException {
            String l = lines.poll(limit.toMillis(), TimeUnit.MILLISECONDS);
            assertNotNull(l, "no line within " + limit + "; stderr: " + err);
            return l;
        }

        int exit(Duration limit) throws InterruptedException {
            assertTrue(process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS), "did not exit; stderr: " + err);
            return process.exitValue();
        }
    }
}
