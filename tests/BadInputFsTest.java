import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * The state directory itself as bad input: not writable, full, on a path with spaces and
 * non-ASCII characters (under a UTF-8 locale and under LANG=C). Permission cases run the
 * commands as an unprivileged user when the tests run as root (setpriv or runuser).
 */
class BadInputFsTest {
    private static final String NON_ASCII = "\u00e9t\u00e9 \u2603";

    @AutoClose private final TestKit kit = new TestKit();

    // ------------------------------------------------------------------ not writable

    /**
     * A read-only state directory: nothing can take a lock there. Each command says so in one
     * line and exits non-zero (the guard, which only reads, still warns and exits 0); a queued
     * record stays queued. A home whose state directory cannot even be created: one line too.
     */
    @Test
    void aReadOnlyStateDirectoryIsOneClearLinePerCommand() throws Exception {
        TestKit.Home home = BadInputTest.heartbeatDue(BadInputTest.home(kit));
        String queued = "1\t1\tsignal\ta.status\tsignal: /s/a.status\n";
        home.write(".wake-queue", queued);
        home.write("t.meta", "window=fleet:t\n");
        home.env.put("FM_ARM_CONFIRM_TIMEOUT", "2");
        TestKit.Home uncreatable = BadInputTest.home(kit);
        Files.delete(uncreatable.state);
        Unprivileged as = new Unprivileged(kit);
        as.open(home.home);
        as.open(uncreatable.home);
        readOnly(home.state);
        readOnly(uncreatable.home);

        Process watcher = as.start(home, "fm-watch.java");
        Process arm = as.start(home, "fm-watch-arm.java");
        Process drain = as.start(home, "fm-wake-drain.java");
        Process guard = as.start(home, "fm-guard.java");
        Process creator = as.start(uncreatable, "fm-watch.java");

        TestKit.Result w = TestKit.finish(watcher, BadInputTest.LIMIT);
        TestKit.Result a = TestKit.finish(arm, BadInputTest.LIMIT);
        TestKit.Result d = TestKit.finish(drain, BadInputTest.LIMIT);
        TestKit.Result g = TestKit.finish(guard, BadInputTest.LIMIT);
        TestKit.Result c = TestKit.finish(creator, BadInputTest.LIMIT);

        BadInputTest.assertClean(w.stderr() + a.stderr() + d.stderr() + g.stderr() + c.stderr());
        assertEquals(1, w.exit(), w.stdout());
        assertEquals("", w.stdout());
        assertTrue(BadInputTest.oneLine(w.stderr()).startsWith("watcher: ") && w.stderr().contains(home.state.toString()),
                w.stderr());
        assertEquals("watcher: FAILED - no live watcher with a fresh beacon\n", a.stdout());
        assertEquals(1, a.exit());
        assertTrue(BadInputTest.oneLine(a.stderr()).contains(home.state.toString()), a.stderr());
        assertEquals(1, d.exit(), d.stdout());
        assertEquals("", d.stdout());
        assertTrue(BadInputTest.oneLine(d.stderr()).startsWith("fm-wake-drain: "), d.stderr());
        assertEquals(queued, Files.readString(home.state.resolve(".wake-queue")));
        assertEquals(0, g.exit());
        assertTrue(g.stderr().contains("WATCHER DOWN") && g.stderr().contains("WARNING: queued wakes pending"), g.stderr());
        assertEquals(1, c.exit());
        assertEquals("watcher: cannot create state directory " + uncreatable.state
                + " (AccessDeniedException); check its permissions or set FM_STATE_OVERRIDE", BadInputTest.oneLine(c.stderr()));
    }

    /**
     * The state directory fills up under a running watcher (a 256 KiB tmpfs): the wake's append
     * fails, so the watcher exits 1 with one line and advances no marker; once there is room
     * again the next watcher reports the same wake.
     */
    @Test
    void aFullStateDirectoryFailsTheWakeWithoutAdvancingMarkers() throws Exception {
        Path mnt = kit.tempDir("fm-full");
        TestKit.Result mount = kit.run(List.of("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt.toString()),
                Map.of(), null, BadInputTest.LIMIT);
        assumeTrue(mount.exit() == 0 || isRoot(), "only root may mount a tmpfs; here: " + mount.stderr());
        assertEquals(0, mount.exit(), "root, yet no tmpfs: " + mount.stderr());
        try {
            TestKit.Home home = BadInputTest.home(kit, mnt);
            home.env.put("FM_HEARTBEAT", "3");
            Process p = home.start("fm-watch.java");
            assertTrue(TestKit.waitFor(BadInputTest.LIMIT, () -> Files.exists(home.state.resolve(".last-check"))
                    || !p.isAlive()), "the watcher never started polling");
            Path filler = mnt.resolve("filler");
            fill(filler);
            FileTime last = Files.getLastModifiedTime(home.state.resolve(".last-heartbeat"));

            TestKit.Result w = TestKit.finish(p, BadInputTest.LIMIT);

            assertEquals(1, w.exit(), w.stdout());
            assertEquals("", w.stdout());
            BadInputTest.assertClean(w.stderr());
            String line = BadInputTest.oneLine(w.stderr());
            assertTrue(line.startsWith("watcher: cannot append to " + home.state.resolve(".wake-queue"))
                    && line.contains("not recorded"), line);
            assertEquals(last, Files.getLastModifiedTime(home.state.resolve(".last-heartbeat")), "marker advanced");
            assertFalse(Files.exists(home.state.resolve(".heartbeat-streak")));
            home.assertNoLockLeft();

            Files.delete(filler);
            TestKit.Result again = home.run("fm-watch.java");
            assertEquals("heartbeat\n", again.stdout(), again.stderr());
            assertEquals(List.of(List.of("1", "heartbeat", "heartbeat", "heartbeat")), home.records());
        } finally {
            kit.run(List.of("umount", "-l", mnt.toString()), Map.of(), null, BadInputTest.LIMIT);
        }
    }

    // ------------------------------------------------------------------ odd paths

    /** A home under "home dir/\u00e9t\u00e9 \u2603" with a UTF-8 locale: arm, signal, drain. */
    @Test
    void aHomeWithSpacesAndNonAsciiWorksEndToEnd() throws Exception {
        assumeUtf8();
        Path home = Files.createDirectories(kit.tempDir("fm-bad").resolve("home dir").resolve(NON_ASCII));
        TestKit.Home h = BadInputTest.home(kit, home);
        TestKit.Lines arm = new TestKit.Lines(h.start("fm-watch-arm.java"));
        String started = arm.next(BadInputTest.LIMIT);
        assertTrue(started.matches("watcher: started pid=\\d+ \\(beacon fresh(; no task in flight)?\\)"), started);
        assertEquals(home.toString(), Files.readString(h.state.resolve(".watch.lock/fm-home")).strip());

        Path status = h.write("t.status", "working: caf\u00e9\n");
        String signal = "signal: " + status;
        assertEquals(signal, arm.next(BadInputTest.LIMIT));
        assertEquals(0, arm.exit(BadInputTest.LIMIT), arm.err());
        assertEquals("", arm.err());
        TestKit.Result d = h.run("fm-wake-drain.java");

        assertEquals(0, d.exit(), d.stderr());
        assertTrue(d.stdout().matches("[0-9]{10}\t1\tsignal\tt\\.status\t\\Q" + signal + "\\E\n"), d.stdout());
        assertEquals("", d.stderr());
    }

    /**
     * The same home under LANG=C: Java cannot name such a path in that locale. Every command
     * must say so in one line (naming FM_HOME and the UTF-8 fix), never with a stack trace.
     */
    @Test
    void aNonAsciiHomeUnderTheCLocaleIsOneClearLine() throws Exception {
        assumeUtf8();
        Path home = Files.createDirectories(kit.tempDir("fm-bad").resolve("home dir").resolve(NON_ASCII));
        TestKit.Home h = BadInputTest.heartbeatDue(BadInputTest.home(kit, home));
        h.write("t.meta", "window=fleet:t\n");
        h.env.put("LANG", "C");
        h.env.put("LC_ALL", "C");
        h.env.put("FM_ARM_CONFIRM_TIMEOUT", "2");

        List<Process> ps = new ArrayList<>();
        for (String s : List.of("fm-watch.java", "fm-watch-arm.java", "fm-wake-drain.java", "fm-guard.java")) {
            ps.add(h.start(s));
        }
        List<TestKit.Result> rs = new ArrayList<>();
        for (Process p : ps) rs.add(TestKit.finish(p, BadInputTest.LIMIT));

        String all = rs.toString();
        for (TestKit.Result r : rs) BadInputTest.assertClean(r.stderr());
        for (TestKit.Result r : rs.subList(0, 3)) assertEquals(1, r.exit(), all);
        assertEquals(0, rs.get(3).exit(), all);
        for (TestKit.Result r : rs) {
            String line = BadInputTest.oneLine(r.stderr());
            assertTrue(line.contains("FM_HOME") && line.contains("UTF-8"), "unclear: " + line);
        }
    }

    // ------------------------------------------------------------------ helpers

    /** The test itself must be able to name a non-ASCII path (the tests run under a UTF-8 locale). */
    private static void assumeUtf8() {
        assumeTrue("UTF-8".equalsIgnoreCase(System.getProperty("sun.jnu.encoding")),
                "the test runner's locale cannot name non-ASCII paths: run the tests with LC_ALL=C.UTF-8");
    }

    private static void readOnly(Path dir) throws IOException {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("r-xr-xr-x"));
    }

    /** Writes until the file system refuses: ENOSPC. */
    private static void fill(Path filler) throws IOException {
        byte[] block = new byte[4096];
        try (OutputStream out = Files.newOutputStream(filler)) {
            for (int i = 0; i < 1_000_000; i++) out.write(block);
            fail("a 256 KiB file system took 4 GB");
        } catch (IOException full) {
            // full now
        }
    }

    static boolean isRoot() throws IOException {
        return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
    }

    /**
     * Runs commands as a user for whom permissions apply: as nobody (setpriv, else runuser)
     * when the tests run as root, else as the current user. Nobody cannot read root's JBang
     * cache, so the class path is copied into a directory it can read.
     */
    static final class Unprivileged {
        private final TestKit kit;
        private final boolean root;

        Unprivileged(TestKit kit) throws IOException {
            this.kit = kit;
            this.root = isRoot();
            if (root) {
                assertTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")) || Files.isExecutable(Path.of("/usr/sbin/runuser")),
                        "running as root without setpriv or runuser: cannot test permissions");
            }
        }

        /** Makes {@code dir} (a temp dir, private by default) enterable by the unprivileged user. */
        void open(Path dir) throws IOException {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        }

        Process start(TestKit.Home home, String script) throws IOException {
            List<String> cmd = new ArrayList<>(TestKit.command(script));
            if (root) cmd = kit.asNobody(cmd);
            return kit.start(cmd, home.env, home.home);
        }
    }
}
