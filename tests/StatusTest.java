import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * fm-status.java, run as users run it, against real watchers, real lock holders and real
 * kills. Every run is also checked to leave the state directory exactly as it found it (names,
 * types, sizes, mtimes, contents, link targets), including while a watcher holds the lock.
 * One file despite its length: it walks every verdict of one table (docs/status.md "Verdicts"), and the
 * read-only check wraps each of them. --history and --fleet have classes of their own.
 */
class StatusTest {
    private static final Duration LIMIT = Duration.ofSeconds(90);
    private static final long H = 3_600_000L;

    @AutoClose private final TestKit kit = new TestKit();
    /** The temp home of each test, for a watcher only the test wakes. */
    private final TestKit.Home fixture = kit.home("fm-status", TestKit.QUIET);
    private final Path home = fixture.home;
    private final Path state = fixture.state;

    /** Runs fm-status and proves it changed nothing in STATE. Only call it when nothing else writes there. */
    private TestKit.Result status(Map<String, String> env, String... args) throws Exception {
        Map<String, String> before = snapshot(state);
        TestKit.Result r = kit.run(TestKit.command("fm-status.java", args), env, home, LIMIT);
        assertEquals(before, snapshot(state), "fm-status changed the state directory");
        assertEquals("", r.stderr(), "stderr");
        return r;
    }

    private TestKit.Result status(String... args) throws Exception { return status(fixture.env(), args); }

    /** How advice names a script of this checkout for this (non-default) home: pasteable anywhere. */
    private String advice(String script) {
        return "FM_HOME=" + ShellWord.of(home) + " " + ShellWord.of(TestKit.root().resolve(script));
    }

    // ------------------------------------------------------------------ verdicts

    /** One real watcher through its life: ok, stopped (SLOW, WEDGED), killed (DOWN), no task (idle). */
    @Test
    void oneWatcherFromOkThroughSlowWedgedAndDownToIdle() throws Exception {
        Files.writeString(state.resolve("t1.meta"), "kind=ship\n");
        Files.writeString(state.resolve("t2.meta"), "kind=ship\n");
        TestKit.Lines arm = new TestKit.Lines(kit.start(TestKit.command("fm-watch-arm.java"), fixture.env(), home));
        long pid = arm.process.pid();
        assertTrue(arm.next(LIMIT).startsWith("watcher: started pid=" + pid), arm.err.toString());
        // Stopped, the watcher writes nothing: every status below runs against a still state directory.
        kill("STOP", pid);
        try {
            TestKit.Result ok = status();
            assertEquals(0, ok.exit(), ok.stdout());
            List<String> l = ok.lines();
            assertTrue(l.get(0).matches("supervision: ok - this home's watcher pid " + pid + " is healthy \\(beacon \\d+s old\\);"
                    + " 2 task\\(s\\) in flight"), l.get(0));
            assertTrue(l.contains("lock: pid " + pid + " (alive), fm-home matches, watcher-path matches, identity matches;"
                    + " written by the Java tools"), l.toString());
            assertTrue(l.contains("tasks: 2 in flight"), l.toString());
            assertTrue(l.contains("queue: empty"), l.toString());
            assertTrue(l.stream().anyMatch(x -> x.matches("cycle: \\S+Z pid " + pid + " via arm, running for \\S+")), l.toString());
            assertTrue(l.stream().noneMatch(x -> x.startsWith("next:")), "nothing to do: " + l);

            age(state.resolve(".last-watcher-beat"), Duration.ofSeconds(100));
            Map<String, String> graces = fixture.env("FM_GUARD_GRACE", "60", "FM_WATCHER_STALE_GRACE", "600");
            TestKit.Result slow = status(graces);
            assertEquals(1, slow.exit());
            l = slow.lines();
            assertTrue(l.get(0).matches("supervision: SLOW - this home's watcher pid " + pid + " is alive but its beacon is"
                    + " 10\\ds old \\(fresh under 60s\\); 2 task\\(s\\) in flight"), l.get(0));
            assertTrue(l.get(l.size() - 1).matches("next: " + java.util.regex.Pattern.quote(advice("fm-status.java")) + "  # again in \\d+s: .*"),
                    l.toString());

            age(state.resolve(".last-watcher-beat"), Duration.ofSeconds(700));
            TestKit.Result wedged = status(graces);
            assertEquals(1, wedged.exit());
            l = wedged.lines();
            assertTrue(l.get(0).startsWith("supervision: WEDGED - this home's watcher pid " + pid + " is alive but its beacon is 70"),
                    l.get(0));
            assertTrue(l.get(l.size() - 1).startsWith("next: " + advice("fm-watch-arm.java") + "  # "), l.toString());
        } finally {
            arm.process.destroyForcibly(); // SIGKILL reaches a stopped process
        }
        assertTrue(arm.process.waitFor(30, TimeUnit.SECONDS));

        TestKit.Result down = status();
        assertEquals(1, down.exit());
        List<String> l = down.lines();
        assertTrue(l.get(0).matches("supervision: DOWN - 2 task\\(s\\) in flight and no live watcher \\(the lock names pid "
                + pid + ", which is dead; last beat \\d+s ago\\)"), l.get(0));
        assertEquals("next: " + advice("fm-watch-arm.java") + "  # as the harness-tracked background task, never a shell &",
                l.get(l.size() - 1));
        assertTrue(l.stream().anyMatch(x -> x.startsWith("cycle: ") && x.contains("pid " + pid + " via arm, killed")), l.toString());

        Files.delete(state.resolve("t1.meta"));
        Files.delete(state.resolve("t2.meta"));
        TestKit.Result idle = status();
        assertEquals(0, idle.exit());
        assertTrue(idle.lines().get(0).startsWith("supervision: idle - no task in flight and no live watcher"), idle.stdout());
        assertTrue(idle.lines().stream().noneMatch(x -> x.startsWith("next:")), idle.stdout());
    }

    @Test
    void idleWithoutAStateDirectoryCreatesNone() throws Exception {
        Files.delete(state);
        TestKit.Result r = kit.run(TestKit.command("fm-status.java"), fixture.env(), home, LIMIT);
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.lines().get(0).startsWith("supervision: idle - no state directory yet"), r.stdout());
        assertFalse(Files.exists(state, LinkOption.NOFOLLOW_LINKS), "fm-status created the state directory");
    }

    @Test
    void blockedByALiveHolderThatIsNotProvablyOurs() throws Exception {
        Files.writeString(state.resolve("t1.meta"), "kind=ship\n");
        Path lock = state.resolve(".watch.lock");
        TestKit.Lines holder = new TestKit.Lines(kit.start(TestKit.command("FmLock.java", "try-acquire", lock.toString(),
                "--hold", "600"), Map.of(), home));
        long pid = holder.process.pid();
        assertEquals("acquired pid=" + pid, holder.next(LIMIT));
        TestKit.Result r = status();
        assertEquals(1, r.exit());
        List<String> l = r.lines();
        assertEquals("supervision: BLOCKED - pid " + pid + " holds the watcher lock but is not provably this home's watcher"
                + " (fm-home missing, watcher-path missing); 1 task(s) in flight", l.get(0));
        String next = l.get(l.size() - 1);
        assertTrue(next.startsWith("next: ls -la " + lock + "/ && tr '\\0' ' ' < /proc/" + pid + "/cmdline  # "), next);
        assertTrue(next.contains("never kill it"), next);
        assertTrue(holder.process.isAlive(), "the holder was never signalled");
        assertEquals(pid, FmLock.holderPid(lock).orElse(-1));
    }

    @Test
    void blockedByARegularFileAtTheLockPath() throws Exception {
        Path lock = Files.writeString(state.resolve(".watch.lock"), "not a lock\n");
        TestKit.Result r = status();
        assertEquals(1, r.exit());
        List<String> l = r.lines();
        assertEquals("supervision: BLOCKED - " + lock + " is not a lock (a regular file or other non-directory);"
                + " 0 task(s) in flight", l.get(0));
        assertTrue(l.get(l.size() - 1).startsWith("next: ls -la " + lock + "  # nothing removes it automatically"), l.toString());
        assertEquals("not a lock\n", Files.readString(lock));

        // A lock directory with no pid but a file of no protocol: no arm can ever reclaim it.
        Files.delete(lock);
        Files.createDirectory(lock);
        Files.writeString(lock.resolve("notes"), "mine\n");
        Files.setLastModifiedTime(lock, FileTime.from(Instant.now().minusSeconds(60)));
        r = status();
        assertEquals(1, r.exit());
        assertEquals("supervision: BLOCKED - " + lock + " holds files the lock protocol does not own (notes);"
                + " 0 task(s) in flight", r.lines().get(0));
        assertEquals("mine\n", Files.readString(lock.resolve("notes")));
    }

    @Test
    void aHomeThatCannotBeFoundIsBlockedWithTheFix() throws Exception {
        List<String> cmd = new ArrayList<>(TestKit.command("fm-status.java"));
        cmd.removeIf(a -> a.startsWith("-Dfm.script="));
        Path elsewhere = kit.tempDir("fm-status-cwd");
        TestKit.Result r = kit.run(cmd, Map.of("FM_HOME", elsewhere.toString()), elsewhere, LIMIT);
        assertEquals(1, r.exit(), r.stderr());
        List<String> l = r.lines();
        // Nothing in how it was started names the checkout: say what works, never a circular FM_HOME.
        assertEquals("supervision: BLOCKED - " + FmHome.UNPLACED, l.get(0));
        assertTrue(l.get(l.size() - 1).startsWith("next: <checkout>/fm-status.java  # run the commands by their path"), l.toString());
        assertFalse(r.stdout().contains("export FM_HOME"), r.stdout());
        try (Stream<Path> s = Files.list(elsewhere)) {
            assertEquals(0, s.count(), "nothing created");
        }
    }

    @Test
    void blockedByAStateDirectoryThatIsAFile() throws Exception {
        Path file = Files.writeString(home.resolve("state-file"), "x");
        TestKit.Result r = kit.run(TestKit.command("fm-status.java"), fixture.env("FM_STATE_OVERRIDE", file.toString()), home, LIMIT);
        assertEquals(1, r.exit(), r.stderr());
        assertEquals("supervision: BLOCKED - the state directory " + file + " is unusable (not a directory)", r.lines().get(0));
        assertTrue(r.lines().get(r.lines().size() - 1).startsWith("next: ls -ld " + file + "  # fix it"), r.stdout());
        assertEquals("x", Files.readString(file));
    }

    /** A state directory the user may read but not write: no watcher can lock or beat there. */
    @Test
    void blockedByAStateDirectoryNobodyCanWrite() throws Exception {
        Files.writeString(state.resolve("t1.meta"), "kind=ship\n");
        List<String> cmd = new ArrayList<>(TestKit.command("fm-status.java"));
        if (Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"))) {
            cmd = kit.asNobody(cmd); // root may write anywhere
        }
        for (Path p : List.of(home, state)) Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            Map<String, String> before = snapshot(state);
            TestKit.Result r = kit.run(cmd, fixture.env(), home, LIMIT);
            assertEquals(before, snapshot(state));
            assertEquals(1, r.exit(), r.stderr());
            assertEquals("supervision: BLOCKED - the state directory " + state + " is unusable (not writable, so no watcher"
                    + " can take its lock or beat)", r.lines().get(0), r.stderr());
        } finally {
            for (Path p : List.of(home, state)) Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
        }
    }

    // ------------------------------------------------------------------ queue, json

    @Test
    void queuedRecordsMakeTheExitOneAndTheDrainComesFirst() throws Exception {
        long then = Instant.now().getEpochSecond() - 45;
        Files.writeString(state.resolve(".wake-queue"), then + "\t1\tsignal\ta.status\tsignal: a\n"
                + (then + 5) + "\t2\tstale\tfleet:x\tstale: fleet:x\n" + "short\tline\n" + (then + 9) + "\t3\theartbeat\theartbeat\theartbeat\n");
        TestKit.Result idle = status();
        assertEquals(1, idle.exit(), "a pending record needs action even when idle");
        List<String> l = idle.lines();
        assertTrue(l.get(0).startsWith("supervision: idle - "), l.get(0));
        String queue = l.stream().filter(x -> x.startsWith("queue: ")).findFirst().orElseThrow();
        assertTrue(queue.matches("queue: 3 record\\(s\\) pending, oldest \\d+s"), queue);
        long oldest = Long.parseLong(queue.substring(queue.lastIndexOf(' ') + 1, queue.length() - 1));
        assertTrue(oldest >= 45 && oldest < 45 + LIMIT.toSeconds(), queue);
        assertEquals("next: " + advice("fm-wake-drain.java") + "  # the queue is the lossless record: drain and handle it first",
                l.get(l.size() - 1));

        // Tasks in flight and no watcher: still drain before re-arm, and only one next line.
        Files.writeString(state.resolve("t1.meta"), "kind=ship\n");
        TestKit.Result down = status();
        assertEquals(1, down.exit());
        assertTrue(down.lines().get(0).startsWith("supervision: DOWN - "), down.stdout());
        assertEquals(1, down.lines().stream().filter(x -> x.startsWith("next:")).count());
        assertTrue(down.lines().get(down.lines().size() - 1).startsWith("next: " + advice("fm-wake-drain.java")), down.stdout());
    }

    /** Strict modes: a check the watcher refuses is listed with its fix, and is the next step when nothing else is. */
    @Test
    void refusedChecksAreListedWithTheirFix() throws Exception {
        Path check = Files.writeString(state.resolve("poll.check.sh"), "echo ready\n");
        Files.setPosixFilePermissions(check, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
        TestKit.Result r = status();
        assertEquals(0, r.exit(), r.stdout());
        assertTrue(r.lines().get(0).startsWith("supervision: idle - "), r.stdout());
        String refused = r.lines().stream().filter(x -> x.startsWith("refused: ")).findFirst().orElseThrow(
                () -> new AssertionError("no refused line in " + r.stdout()));
        assertTrue(refused.startsWith("refused: " + check + ": ") && refused.contains("0666")
                && refused.endsWith("; fix: chmod go-w " + check), refused);
        assertEquals("next: chmod go-w " + check + "  # the watcher refuses to run " + check + " until it is fixed",
                r.lines().get(r.lines().size() - 1));
        Map<String, Object> o = Json.object(status("--json").stdout().strip());
        List<?> listed = (List<?>) o.get("refusedChecks");
        assertEquals(1, listed.size(), o.toString());
        assertEquals(check.toString(), ((Map<?, ?>) listed.get(0)).get("check"));

        // With strict modes off the watcher runs it, so there is nothing to list.
        TestKit.Result off = status(fixture.env("FM_CHECK_STRICT", "0"));
        assertTrue(off.lines().stream().noneMatch(x -> x.startsWith("refused: ")), off.stdout());
        assertTrue(off.lines().stream().noneMatch(x -> x.startsWith("next: ")), off.stdout());

        // Fixed: no line, no next step.
        Files.setPosixFilePermissions(check, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        TestKit.Result fixed = status();
        assertTrue(fixed.lines().stream().noneMatch(x -> x.startsWith("refused: ") || x.startsWith("next: ")), fixed.stdout());
    }

    @Test
    void jsonCarriesTheSameFacts() throws Exception {
        Files.writeString(state.resolve("t1.meta"), "window=fleet:w1\n");
        Files.writeString(state.resolve(".blind-fleet_w1"), "2\n");
        Files.writeString(state.resolve(".wake-queue"), (Instant.now().getEpochSecond() - 30) + "\t1\tcheck\tx\tcheck: x: y\n");
        TestKit.Result text = status();
        TestKit.Result json = status("--json");
        assertEquals(text.exit(), json.exit());
        assertEquals(1, json.lines().size(), "one JSON object on one line");
        Map<String, Object> o = Json.object(json.stdout().strip());
        for (String key : List.of("verdict", "exit", "next", "watcher", "tasks", "queue", "cycles", "gaps")) {
            assertTrue(o.containsKey(key), "missing key " + key + " in " + o.keySet());
        }
        assertEquals("DOWN", o.get("verdict"));
        assertEquals(1.0, o.get("exit"));
        assertEquals(text.lines().get(0), "supervision: DOWN - " + o.get("sentence"));
        assertEquals(text.lines().get(text.lines().size() - 1), "next: " + o.get("next"));
        assertEquals(1.0, o.get("tasks"));
        Map<?, ?> queue = (Map<?, ?>) o.get("queue");
        assertEquals(1.0, queue.get("pending"));
        assertTrue((Double) queue.get("oldestSeconds") >= 30, queue.toString());
        Map<?, ?> watcher = (Map<?, ?>) o.get("watcher");
        assertEquals("ABSENT", watcher.get("state"));
        assertNull(watcher.get("pid"));
        assertEquals(List.of(Map.of("window", "fleet:w1", "failures", 2.0)), o.get("blind"));
        assertTrue(text.lines().contains("blind: fleet:w1 (2 failed captures in a row)"), text.stdout());
        assertEquals(List.of(), o.get("cycles"));
    }

    // ------------------------------------------------------------------ the ledger

    @Test
    void aWatcherKilledOutrightShowsAsKilledAndItsGapIsMeasured() throws Exception {
        Files.writeString(state.resolve("t1.meta"), "kind=ship\n");
        TestKit.Lines first = new TestKit.Lines(kit.start(TestKit.command("fm-watch-arm.java"), fixture.env(), home));
        long pid = first.process.pid();
        assertTrue(first.next(LIMIT).startsWith("watcher: started pid=" + pid), first.err.toString());
        first.process.destroyForcibly(); // SIGKILL: no end line, no clean-up
        assertTrue(first.process.waitFor(30, TimeUnit.SECONDS));
        long lastBeat = Files.getLastModifiedTime(state.resolve(".last-watcher-beat")).toMillis();
        TestKit.Result killed = status("--json");
        Map<String, Object> o = Json.object(killed.stdout().strip());
        List<?> cycles = (List<?>) o.get("cycles");
        Map<?, ?> c = (Map<?, ?>) cycles.get(cycles.size() - 1);
        assertEquals("killed", c.get("end"));
        assertEquals((double) pid, c.get("pid"));
        assertEquals(Instant.ofEpochSecond(lastBeat / 1000).toString(), c.get("until"), "its last sign of life is the beacon");

        // The next arm records the beacon it found; the gap runs from there to its start.
        TestKit.Lines second = new TestKit.Lines(kit.start(TestKit.command("fm-watch-arm.java"), fixture.env(), home));
        long pid2 = second.process.pid();
        assertTrue(second.next(LIMIT).startsWith("watcher: started pid=" + pid2), second.err.toString());
        List<String> ledger = Files.readAllLines(state.resolve(Ledger.NAME));
        Ledger.Entry start2 = Ledger.parse(ledger.get(ledger.size() - 1));
        assertEquals(pid2, start2.pid());
        assertEquals(Long.valueOf(lastBeat), start2.prevBeat());
        kill("STOP", pid2);
        try {
            o = Json.object(status("--json").stdout().strip());
        } finally {
            kill("CONT", pid2);
        }
        assertEquals("ok", o.get("verdict"));
        Map<?, ?> gaps = (Map<?, ?>) o.get("gaps");
        assertEquals(1.0, gaps.get("count"));
        assertEquals((double) ((start2.at() - lastBeat) / 1000), gaps.get("totalSeconds"));
        assertNull(gaps.get("currentSeconds"));
        cycles = (List<?>) o.get("cycles");
        assertEquals("killed", ((Map<?, ?>) cycles.get(0)).get("end"));
        assertEquals("running", ((Map<?, ?>) cycles.get(1)).get("end"));
    }

    /** Figures from a ledger written by hand, with times relative to now and real processes' pids. */
    @Test
    void gapsOverTheLast24Hours() throws Exception {
        long t = System.currentTimeMillis();
        long dead = deadPid();
        Process live = kit.sleeper();
        assertTrue(TestKit.waitFor(Duration.ofSeconds(10), () -> FmProc.identity(live.pid()).isPresent()));
        String id = FmProc.identity(live.pid()).orElseThrow();
        List<String> lines = List.of(
                (t - 30 * H) + " start pid=" + dead + " via=arm prev-beat=none id=x",
                (t - 25 * H) + " end pid=" + dead + " how=wake:signal",
                // 2 h unsupervised, 1 h of it inside the window
                (t - 23 * H) + " start pid=" + dead + " via=arm prev-beat=" + (t - 25 * H) + " id=x",
                (t - 20 * H) + " end pid=" + dead + " how=wake:heartbeat",
                // 1 h
                (t - 19 * H) + " start pid=" + dead + " via=watch prev-beat=" + (t - 20 * H) + " id=x",
                // killed with no end; the next holder found its last beat at t-15h
                (t - 14 * H - H / 2) + " start pid=" + live.pid() + " via=arm prev-beat=" + (t - 14 * H - H / 2) + " id=" + id,
                (t - 14 * H - H / 2) + " end pid=" + live.pid() + " how=refused",
                garbage(),
                // 1 h
                (t - 14 * H) + " start pid=" + dead + " via=replace:77 prev-beat=" + (t - 15 * H) + " id=x",
                (t - 2 * H) + " end pid=" + dead + " how=signal:TERM",
                // 30 min, then a cycle still running
                (t - 90 * 60_000L) + " start pid=" + live.pid() + " via=restart prev-beat=" + (t - 2 * H) + " id=" + id);
        Files.writeString(state.resolve(Ledger.NAME), String.join("\n", lines) + "\n");
        TestKit.Result json = status("--json");
        Map<?, ?> gaps = (Map<?, ?>) Json.object(json.stdout().strip()).get("gaps");
        assertEquals(4.0, gaps.get("count"), gaps.toString());
        assertEquals(3600.0, gaps.get("longestSeconds"), gaps.toString());
        // The window's start moved by the time the command took; that much of the first gap is gone.
        double total = (Double) gaps.get("totalSeconds");
        assertTrue(total <= 12600 && total > 12600 - LIMIT.toSeconds(), gaps.toString());
        assertNull(gaps.get("currentSeconds"));

        TestKit.Result text = status();
        List<String> l = text.lines();
        // (this second run's window moved on a little further: the same tolerance, in minutes)
        assertTrue(l.stream().anyMatch(x -> x.matches("gaps: 4 in the last 24h, total 3h[0-3][0-9]m, longest 1h00m")), l.toString());
        assertTrue(l.contains("ledger: 1 unreadable line(s) skipped in " + state.resolve(Ledger.NAME)), l.toString());
        List<String> shown = l.stream().filter(x -> x.startsWith("cycle: ")).toList();
        assertEquals(5, shown.size(), "the last five cycles");
        assertTrue(shown.get(0).endsWith("via arm, ran 3h00m, ended wake:heartbeat"), shown.get(0));
        assertTrue(shown.get(1).endsWith("via watch, killed (no end recorded and its process is gone; last sign of life "
                + Instant.ofEpochSecond((t - 15 * H) / 1000) + ", 4h00m after its start)"), shown.get(1));
        assertTrue(shown.get(2).endsWith("via arm, refused (another watcher held the lock)"), shown.get(2));
        assertTrue(shown.get(3).endsWith("via replace:77, ran 12h00m, ended signal:TERM"), shown.get(3));
        assertTrue(shown.get(4).matches("cycle: \\S+ pid " + live.pid() + " via restart, running for 1h3\\dm"), shown.get(4));
    }

    @Test
    void theGapStillGoingOnIsShown() throws Exception {
        long t = System.currentTimeMillis();
        long dead = deadPid();
        Files.writeString(state.resolve(Ledger.NAME), (t - 3 * H) + " start pid=" + dead + " via=arm prev-beat=none id=x\n"
                + (t - 10 * 60_000L) + " end pid=" + dead + " how=wake:check\n");
        List<String> l = status().lines();
        assertTrue(l.stream().anyMatch(x -> x.matches("gaps: 1 since \\S+ \\(the ledger's first record\\), total 10m\\d\\ds,"
                + " longest 10m\\d\\ds; unsupervised now for 10m\\d\\ds")), l.toString());
    }

    @Test
    void aGarbageOrUnreadableLedgerNeverBreaksTheStatus() throws Exception {
        Path ledger = state.resolve(Ledger.NAME);
        byte[] junk = new byte[3 * Ledger.READ_LIMIT];
        new java.util.Random(7).nextBytes(junk);
        Files.write(ledger, junk);
        TestKit.Result r = status();
        assertEquals(0, r.exit(), r.stdout());
        assertTrue(r.lines().get(0).startsWith("supervision: idle - "), r.stdout());
        assertTrue(r.lines().stream().anyMatch(x -> x.matches("ledger: \\d+ unreadable line\\(s\\) skipped in .*")), r.stdout());
        assertTrue(r.lines().contains("gaps: unknown (no cycle recorded yet)"), r.stdout());

        Files.delete(ledger);
        assertEquals(0, new ProcessBuilder("mkfifo", ledger.toString()).start().waitFor());
        r = status(); // a FIFO would block a reader that opened it
        assertTrue(r.lines().contains("ledger: " + ledger + " is not a regular file; cycles and gaps are unknown"), r.stdout());
    }

    @Test
    void usageAndHelp() throws Exception {
        TestKit.Result bad = kit.run(TestKit.command("fm-status.java", "--bogus"), fixture.env(), home, LIMIT);
        assertEquals(2, bad.exit());
        assertEquals("", bad.stdout());
        assertTrue(bad.stderr().startsWith("fm-status: unknown argument '--bogus'\nUsage: fm-status.java [--json]"), bad.stderr());
        TestKit.Result help = status("--help");
        assertEquals(0, help.exit());
        assertTrue(help.stdout().startsWith("Usage: fm-status.java [--json]"), help.stdout());
    }

    // ------------------------------------------------------------------ helpers

    /** Every entry under {@code dir}: type, size, mtime, and content hash or link target. */
    static Map<String, String> snapshot(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) return out;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                String what;
                if (a.isSymbolicLink()) what = "link " + Files.readSymbolicLink(p);
                else if (a.isDirectory()) what = "dir";
                else if (a.isRegularFile()) what = "file " + a.size() + " " + sha256(p);
                else what = "other";
                out.put(dir.relativize(p).toString(), what + " " + a.lastModifiedTime().to(TimeUnit.NANOSECONDS));
            }
        }
        return out;
    }

    private static String sha256(Path p) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void age(Path p, Duration by) throws IOException {
        Files.setLastModifiedTime(p, FileTime.from(Instant.now().minus(by)));
    }

    private static String garbage() {
        return "\u0000\u0001 start pid=1 and then some";
    }

    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return p.pid();
    }

    private static void kill(String signal, long pid) throws Exception {
        Process k = new ProcessBuilder("kill", "-s", signal, Long.toString(pid)).start();
        assertTrue(k.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, k.exitValue());
    }

    /** Just enough JSON to read fm-status --json back: objects, arrays, strings, numbers (as Double), true, false, null. */
    static final class Json {
        private final String s;
        private int i;

        private Json(String s) { this.s = s; }

        @SuppressWarnings("unchecked")
        static Map<String, Object> object(String text) {
            Json j = new Json(text);
            Object v = j.value();
            j.space();
            assertEquals(text.length(), j.i, "trailing text after the JSON value");
            assertTrue(v instanceof Map, "not an object: " + text);
            return (Map<String, Object>) v;
        }

        private Object value() {
            space();
            char c = s.charAt(i);
            if (c == '{') {
                i++;
                Map<String, Object> m = new LinkedHashMap<>();
                space();
                if (s.charAt(i) == '}') { i++; return m; }
                while (true) {
                    space();
                    String k = string();
                    space();
                    expect(':');
                    assertNull(m.put(k, value()), "duplicate key " + k);
                    space();
                    if (s.charAt(i) == ',') { i++; continue; }
                    expect('}');
                    return m;
                }
            }
            if (c == '[') {
                i++;
                List<Object> l = new ArrayList<>();
                space();
                if (s.charAt(i) == ']') { i++; return l; }
                while (true) {
                    l.add(value());
                    space();
                    if (s.charAt(i) == ',') { i++; continue; }
                    expect(']');
                    return l;
                }
            }
            if (c == '"') return string();
            for (String word : List.of("true", "false", "null")) {
                if (s.startsWith(word, i)) {
                    i += word.length();
                    return word.equals("null") ? null : Boolean.valueOf(word);
                }
            }
            int from = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            assertTrue(i > from, "bad JSON at " + from + ": " + s);
            return Double.valueOf(s.substring(from, i));
        }

        private String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') return b.toString();
                assertTrue(c >= 0x20, "raw control character in a JSON string");
                if (c != '\\') { b.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> { b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; }
                    default -> b.append(e);
                }
            }
        }

        private void expect(char c) {
            assertEquals(c, s.charAt(i), "JSON at " + i);
            i++;
        }

        private void space() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }
    }
}
