import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * Bad input the crewmates' side of STATE can produce, through the real fm-watch.java: check
 * scripts that hang, flood, fail or leave children behind; signal files that vanish during
 * the linger; .meta files with odd or missing windows (with tests/helpers/fake-tmux/tmux).
 */
class BadInputChecksTest {
    @AutoClose private final TestKit kit = new TestKit();

    // ------------------------------------------------------------------ check scripts

    /** Children that ignore TERM do not outlive a hung check: KILL follows the TERM. */
    @Test
    void aHungCheckWhoseChildrenIgnoreTermIsKilledWithAllOfThem() throws Exception {
        TestKit.Home home = BadInputTest.home(kit);
        Path pids = home.home.resolve("pids");
        // The script, a child, a subshell and its own child (a grandchild): all ignore TERM.
        home.write("a.check.sh", "trap '' TERM\n"
                + "sleep 1000 &\necho $! >> '" + pids + "'\n"
                + "(sleep 1000 & echo $! >> '" + pids + "'; wait) &\necho $! >> '" + pids + "'\n"
                + "echo $$ >> '" + pids + "'\nwait\n");
        Path next = home.write("b.check.sh", "echo after\n");
        home.env.put("FM_CHECK_TIMEOUT", "3");

        TestKit.Result w = home.run("fm-watch.java");

        assertEquals(0, w.exit(), w.stderr());
        assertEquals("check: " + next + ": after\n", w.stdout());
        assertEquals("", w.stderr());
        assertAllDead(pids, 4);
    }

    /** A check that floods 100 MiB and then hangs: killed at the timeout, its output capped. */
    @Test
    void aCheckThatFloodsThenHangsIsCappedAndKilled() throws Exception {
        TestKit.Home home = BadInputTest.home(kit);
        Path pids = home.home.resolve("pids");
        Path flood = home.write("a.check.sh", "echo $$ > '" + pids + "'\n"
                + "head -c 104857600 /dev/zero | tr '\\0' a\nexec sleep 1000\n");
        home.env.put("FM_CHECK_TIMEOUT", "3");

        TestKit.Result w = home.run("fm-watch.java");

        String prefix = "check: " + flood + ": aaaa";
        assertEquals(0, w.exit(), w.stderr());
        assertTrue(w.stdout().startsWith(prefix), w.stdout().substring(0, Math.min(200, w.stdout().length())));
        assertTrue(w.stdout().length() <= Checks.MAX_OUTPUT + prefix.length() + 1, w.stdout().length() + " chars");
        assertTrue(w.stdout().endsWith("a\n"));
        assertEquals(1, w.lines().size());
        assertAllDead(pids, 1);
        List<List<String>> records = home.records();
        assertEquals(1, records.size());
        assertEquals(w.stdout().strip(), records.get(0).get(3));
    }

    /** A failing check with no stdout is no wake; its stderr is discarded; the sweep still counts. */
    @Test
    void aCheckThatFailsSilentlyIsNoWakeButTheSweepCounts() throws Exception {
        TestKit.Home home = BadInputTest.heartbeatDue(BadInputTest.home(kit));
        home.write("a.check.sh", "echo 'oops on stderr' >&2\nexit 3\n");
        Path lastCheck = home.write(".last-check", "");
        Files.setLastModifiedTime(lastCheck, FileTime.from(Instant.now().minusSeconds(3600)));
        Instant before = Instant.now().minusSeconds(1);

        TestKit.Result w = home.run("fm-watch.java");

        assertEquals(0, w.exit(), w.stderr());
        assertEquals("heartbeat\n", w.stdout());
        assertEquals("", w.stderr());
        assertTrue(Files.getLastModifiedTime(lastCheck).toInstant().isAfter(before), ".last-check not touched");
        assertEquals(List.of(List.of("1", "heartbeat", "heartbeat", "heartbeat")), home.records());
    }

    /**
     * A check that exits at once but leaves a TERM-ignoring child holding its stdout: the
     * watcher must not wait for it, and must not leave it running (it is a process the check
     * started, on the pipe the watcher gave it).
     */
    @Test
    void aChildThatOutlivesItsCheckOnTheWatchersPipeIsNotLeftRunning() throws Exception {
        TestKit.Home home = BadInputTest.heartbeatDue(BadInputTest.home(kit));
        Path pids = home.home.resolve("pids");
        home.write("a.check.sh", "trap '' TERM\nsleep 1000 &\necho $! > '" + pids + "'\n");
        long t0 = System.nanoTime();

        TestKit.Result w = home.run("fm-watch.java");

        assertEquals(0, w.exit(), w.stderr());
        assertEquals("heartbeat\n", w.stdout());
        assertTrue((System.nanoTime() - t0) / 1e9 < 30, "the watcher waited on the orphan's pipe");
        assertAllDead(pids, 1);
    }

    private static void assertAllDead(Path pidFile, int expected) throws IOException {
        List<Long> pids = new ArrayList<>();
        for (String l : Files.readAllLines(pidFile)) pids.add(Long.parseLong(l.strip()));
        assertEquals(expected, pids.size(), pids.toString());
        List<Long> alive = new ArrayList<>();
        for (long p : pids) {
            boolean gone = TestKit.waitFor(Duration.ofSeconds(10),
                    () -> ProcessHandle.of(p).map(h -> !h.isAlive()).orElse(true));
            if (!gone) {
                alive.add(p);
                ProcessHandle.of(p).ifPresent(ProcessHandle::destroyForcibly); // ours to clean up
            }
        }
        assertEquals(List.of(), alive, "processes started by a check are still running");
    }

    // ------------------------------------------------------------------ signal files that change under us

    /**
     * The only changed status file disappears (deleted, replaced by a directory, replaced by a
     * dangling link) during the FM_SIGNAL_GRACE linger: nothing is left to report, so no signal
     * wake, no .seen marker, no complaint; the watcher keeps polling and its next wake (the
     * heartbeat) comes out. The three variants run side by side, one home each.
     */
    @Test
    void aStatusFileThatVanishesDuringTheLingerIsDroppedQuietly() throws Exception {
        List<String> hows = List.of("deleted", "replaced by a directory", "replaced by a dangling link");
        List<TestKit.Home> homes = new ArrayList<>();
        List<Process> watchers = new ArrayList<>();
        for (int i = 0; i < hows.size(); i++) {
            TestKit.Home home = BadInputTest.home(kit);
            home.write("a.status", "working: x\n");
            home.env.put("FM_SIGNAL_GRACE", "15");
            home.env.put("FM_HEARTBEAT", "5");
            homes.add(home);
            watchers.add(home.start("fm-watch.java"));
        }
        for (int i = 0; i < hows.size(); i++) {
            TestKit.Home home = homes.get(i);
            Process p = watchers.get(i);
            assertTrue(TestKit.waitFor(BadInputTest.LIMIT, () -> Files.exists(home.state.resolve(".last-check"))
                    || !p.isAlive()), "the watcher never reached its first scan");
        }
        // The scenario: the file goes away while the watcher lingers over it.
        for (int i = 0; i < hows.size(); i++) {
            Process p = watchers.get(i);
            assertTrue(TestKit.waitFor(BadInputTest.LIMIT, () -> !p.isAlive() || TestKit.mainThreadIn(p.pid(), "Watcher.linger")),
                    hows.get(i) + ": the watcher never lingered");
        }
        for (int i = 0; i < hows.size(); i++) {
            assertTrue(watchers.get(i).isAlive(), hows.get(i) + ": the watcher did not linger");
            Path status = homes.get(i).state.resolve("a.status");
            Files.delete(status);
            if (hows.get(i).contains("directory")) Files.createDirectory(status);
            if (hows.get(i).contains("link")) Files.createSymbolicLink(status, homes.get(i).state.resolve("gone"));
        }
        for (int i = 0; i < hows.size(); i++) {
            TestKit.Home home = homes.get(i);
            TestKit.Result w = TestKit.finish(watchers.get(i), BadInputTest.LIMIT);
            assertEquals(0, w.exit(), hows.get(i) + ": " + w.stderr());
            assertEquals("heartbeat\n", w.stdout(), hows.get(i));
            assertEquals("", w.stderr(), hows.get(i));
            assertEquals(List.of(List.of("1", "heartbeat", "heartbeat", "heartbeat")), home.records(), hows.get(i));
            assertFalse(Files.exists(home.state.resolve(".seen-a_status")), hows.get(i));
        }
    }

    // ------------------------------------------------------------------ .meta files

    /**
     * Metas without a window, with a duplicate window, with CRLF, and with a window name full
     * of spaces and shell metacharacters: each distinct window is captured once, as one
     * argument (never through a shell), and the odd name comes out exactly in the reason line
     * and the queue record.
     */
    @Test
    void oddMetasReachTmuxAsOneArgumentEachAndTheReasonLineExactly() throws Exception {
        TestKit.Home home = BadInputTest.home(kit);
        Path fake = kit.tempDir("fm-fake-tmux");
        Files.writeString(fake.resolve("steps"), "frame x\n");
        Files.writeString(fake.resolve("x"), "x\n");
        String odd = "fleet:odd $(touch \"$FAKE_TMUX_DIR/pwned\") `id` x; y | z & <w> 'q' \u00e9";
        home.write("a.meta", "kind=ship\nwindow=fleet:dup\n");
        home.write("b.meta", "window=fleet:dup\n");
        home.write("c.meta", "name=no window here\nwindows=fleet:not-this\n");
        home.write("d.meta", "window=fleet:crlf\r\nkind=ship\r\n");
        home.write("z.meta", "window=" + odd + "\n");
        // The odd window's pane has not moved for a while (markers as any earlier watcher leaves them).
        String key = FmHome.windowKey(odd);
        home.write(".hash-" + key, md5Hex("x") + "\n");
        home.write(".count-" + key, "5\n");
        home.env.put("PATH", TestKit.root().resolve("tests/helpers/fake-tmux") + ":/usr/local/bin:/usr/bin:/bin");
        home.env.put("FAKE_TMUX_DIR", fake.toString());

        TestKit.Result w = home.run("fm-watch.java");

        assertEquals(0, w.exit(), w.stderr());
        assertEquals("stale: " + odd + "\n", w.stdout());
        assertEquals("", w.stderr());
        assertEquals(List.of(List.of("1", "stale", odd, "stale: " + odd)), home.records());
        List<String> expected = new ArrayList<>();
        for (String window : List.of("fleet:dup", "fleet:crlf", odd)) {
            expected.addAll(List.of("capture-pane", "-p", "-t", window, "-S", "-40", "--"));
        }
        assertEquals(expected, Files.readAllLines(fake.resolve("calls"), StandardCharsets.UTF_8));
        assertFalse(Files.exists(fake.resolve("pwned")), "the window name went through a shell");
        assertEquals(md5Hex("x") + "\n", Files.readString(home.state.resolve(".stale-" + key)));
    }

    private static String md5Hex(String s) throws Exception {
        byte[] d = java.security.MessageDigest.getInstance("MD5").digest(s.getBytes(StandardCharsets.UTF_8));
        StringBuilder sb = new StringBuilder();
        for (byte b : d) sb.append(String.format("%02x", b));
        return sb.toString();
    }
}
