import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * The pane phase (docs/watcher.md "Panes"), run through tests/helpers/panes-poll.java so that PATH and
 * TMUX_TMPDIR reach tmux exactly as they would reach a watcher's. Real tmux servers (each on
 * a private socket directory) for staleness and busy footers; tests/helpers/fake-tmux/tmux for
 * animation, failures, hangs and the exact arguments. One file despite its length: every case
 * drives the same phase through the same poller, and the stand-in's rules read beside them.
 */
class PanesTest {
    private static final Path ROOT = TestKit.root();
    private static final Path FAKE_TMUX = ROOT.resolve("tests/helpers/fake-tmux");
    private static final String SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin";
    private static final String NONE = "none";

    @AutoClose private final TestKit kit = new TestKit();

    // ------------------------------------------------------------------ real tmux

    @Test
    void staticPaneGoesStaleOnceAndAgainOnlyAfterItChanges() throws Exception {
        Path state = newState();
        try (Tmux tmux = new Tmux(kit.tempDir("fm-tmux"))) {
            tmux.startSession("idle", "printf 'idle\\n'; sleep 300", "idle");
            tmux.newWindow("odd $(name) x", "printf 'odd\\n'; sleep 300", "odd");
            meta(state, "a", "window=fleet:idle\n");
            meta(state, "b", "window=fleet:odd $(name) x\n");
            Map<String, String> env = tmux.env(state);

            // idle repeats twice by poll 3; odd was not captured in poll 3 (the first wake ends a poll).
            assertEquals(List.of(NONE, NONE, "stale: fleet:idle", "stale: fleet:odd $(name) x", NONE, NONE),
                    outcomes(polls(env, 6)));
            assertEquals(Panes.md5("idle") + "\n", read(state.resolve(".stale-fleet_idle")));
            assertEquals(md5Hex("idle"), read(state.resolve(".hash-fleet_idle")).strip(), "MD5 of the capture minus trailing newlines");
            // A later watcher does not report the same stale state again.
            assertEquals(List.of(NONE, NONE), outcomes(polls(env, 2)));

            tmux.run("respawn-pane", "-k", "-t", "fleet:idle", "printf 'idle again\\n'; sleep 300");
            tmux.waitForText("fleet:idle", "idle again");
            assertEquals(List.of(NONE, NONE, "stale: fleet:idle"), outcomes(polls(env, 3)));
            assertEquals(md5Hex("idle again") + "\n", read(state.resolve(".stale-fleet_idle")));
        }
    }

    @Test
    void busyFooterInTheLastSixNonBlankLinesSuppressesStale() throws Exception {
        Path state = newState();
        try (Tmux tmux = new Tmux(kit.tempDir("fm-tmux"))) {
            tmux.startSession("busy", "printf 'thinking\\n\\n  ESC to interrupt\\n'; sleep 300", "interrupt");
            tmux.newWindow("gap", "printf 'a\\nb\\nc\\nd\\nWorking...\\n\\n\\n\\n\\n\\n\\n\\n\\nz\\n'; sleep 300", "z");
            tmux.newWindow("old", "printf 'esc to interrupt\\nl1\\nl2\\nl3\\nl4\\nl5\\nl6\\n'; sleep 300", "l6");
            meta(state, "a", "window=fleet:busy\n");
            meta(state, "b", "window=fleet:gap\n");
            meta(state, "c", "window=fleet:old\n");
            Map<String, String> env = tmux.env(state);

            // Only the pane whose footer scrolled above the last six non-blank lines is stale.
            assertEquals(List.of(NONE, NONE, "stale: fleet:old", NONE, NONE), outcomes(polls(env, 5)));
            assertEquals("4\n", read(state.resolve(".count-fleet_busy")), "busy panes still count repeats");

            // The same panes with a busy pattern that matches nothing: both go stale.
            env.put("FM_BUSY_REGEX", "zz-never-zz");
            assertEquals(List.of("stale: fleet:busy", "stale: fleet:gap", NONE), outcomes(polls(env, 3)));
        }
    }

    @Test
    void secondmateWindowsAreNeverJudged() throws Exception {
        Path state = newState();
        try (Tmux tmux = new Tmux(kit.tempDir("fm-tmux"))) {
            tmux.startSession("mate", "printf 'mate idle\\n'; sleep 300", "mate idle");
            meta(state, "m", "kind=secondmate\nwindow=fleet:mate\n");
            Map<String, String> env = tmux.env(state);

            assertEquals(List.of(NONE, NONE, NONE, NONE), outcomes(polls(env, 4)));
            assertFalse(Files.exists(state.resolve(".hash-fleet_mate")), "a secondmate pane is not even captured");

            meta(state, "m", "kind=ship\nwindow=fleet:mate\n");
            assertEquals(List.of(NONE, NONE, "stale: fleet:mate"), outcomes(polls(env, 3)));
        }
    }

    // ------------------------------------------------------------------ fake tmux

    @Test
    void paneHashIsMd5OfTheCaptureWithoutTrailingNewlines() throws Exception {
        String content = "top line\n\n  middle \u00e9\u2713\n\n\n\n";
        Fake fake = fake(List.of("frame f"), Map.of("f", content));
        Path state = newState();
        meta(state, "a", "window=fleet:h\n");
        assertEquals(List.of(NONE), outcomes(polls(fake.env(state), 1)));
        String expected = md5Hex("top line\n\n  middle \u00e9\u2713");
        assertNotEquals(md5Hex(content), expected);
        assertEquals(expected + "\n", read(state.resolve(".hash-fleet_h")));
        assertEquals(expected + "\n", read(state.resolve(".frames-fleet_h")));
        assertEquals("0\n", read(state.resolve(".count-fleet_h")));
    }

    @Test
    void animationBetweenRecentFramesIsNotProgress() throws Exception {
        Map<String, String> frames = Map.of("a", "spinner |\nesc to cancel\n", "b", "spinner /\nesc to cancel\n",
                "c", "spinner -\nesc to cancel\n");
        // Two alternating frames, default memory (4): the repeat counts from the third poll.
        Path state = newState();
        meta(state, "a", "window=fleet:anim\n");
        assertEquals(List.of(NONE, NONE, NONE, "stale: fleet:anim", NONE, NONE),
                outcomes(polls(fake(List.of("frame a", "frame b"), frames).env(state), 6)));

        // FM_PANE_CYCLE_MEMORY=1 compares captures byte for byte: the alternation is progress.
        Path plain = newState();
        meta(plain, "a", "window=fleet:anim\n");
        Map<String, String> env = fake(List.of("frame a", "frame b"), frames).env(plain);
        env.put("FM_PANE_CYCLE_MEMORY", "1");
        assertEquals(List.of(NONE, NONE, NONE, NONE, NONE, NONE, NONE, NONE), outcomes(polls(env, 8)));
        assertEquals("0\n", read(plain.resolve(".count-fleet_anim")));

        // A three-frame cycle is animation with a memory of 3 and progress with a memory of 2.
        Path three = newState();
        meta(three, "a", "window=fleet:anim\n");
        env = fake(List.of("frame a", "frame b", "frame c"), frames).env(three);
        env.put("FM_PANE_CYCLE_MEMORY", "3");
        assertEquals(List.of(NONE, NONE, NONE, NONE, "stale: fleet:anim", NONE), outcomes(polls(env, 6)));
        Path two = newState();
        meta(two, "a", "window=fleet:anim\n");
        env = fake(List.of("frame a", "frame b", "frame c"), frames).env(two);
        env.put("FM_PANE_CYCLE_MEMORY", "2");
        assertEquals(List.of(NONE, NONE, NONE, NONE, NONE, NONE, NONE), outcomes(polls(env, 7)));
        assertEquals(2, read(two.resolve(".frames-fleet_anim")).split("\n").length, "memory is bounded");
    }

    @Test
    void blindCapturesAlarmOncePerUnbrokenRun() throws Exception {
        Fake fake = fake(List.of("fail", "fail", "fail", "fail", "fail", "frame x", "fail", "fail", "fail"),
                Map.of("x", "some output\n"));
        Path state = newState();
        meta(state, "a", "window=fleet:blind\n");
        String alarm = "stale: fleet:blind (pane unreadable - 3 consecutive capture failures; supervision cannot see this window)";
        assertEquals(List.of(NONE, NONE, alarm, NONE, NONE, NONE, NONE, NONE, alarm), outcomes(polls(fake.env(state), 9)));
        assertEquals("3\n", read(state.resolve(".blind-fleet_blind")));

        // The knob sets the run length.
        Path one = newState();
        meta(one, "a", "window=fleet:blind\n");
        Map<String, String> env = fake(List.of("fail"), Map.of()).env(one);
        env.put("FM_BLIND_CAPTURE_POLLS", "1");
        assertEquals(List.of(alarm.replace(" 3 ", " 1 "), NONE), outcomes(polls(env, 2)));
    }

    @Test
    void wakesAreReportedAgainUntilTheirMarkerIsCommitted() throws Exception {
        Path state = newState();
        meta(state, "a", "window=fleet:w\n");
        Map<String, String> env = fake(List.of("fail"), Map.of()).env(state);
        String alarm = "stale: fleet:w (pane unreadable - 3 consecutive capture failures; supervision cannot see this window)";
        // A watcher that dies between the queue append and the marker write loses nothing.
        assertEquals(List.of(NONE, NONE, alarm, alarm), outcomes(polls(env, 4, "--no-commit")));
        assertEquals(List.of(alarm, NONE, NONE), outcomes(polls(env, 3)));

        Path stale = newState();
        meta(stale, "a", "window=fleet:w\n");
        env = fake(List.of("frame x"), Map.of("x", "x\n")).env(stale);
        assertEquals(List.of(NONE, NONE, "stale: fleet:w", "stale: fleet:w"), outcomes(polls(env, 4, "--no-commit")));
        assertFalse(Files.exists(stale.resolve(".stale-fleet_w")));
        assertEquals(List.of("stale: fleet:w", NONE), outcomes(polls(env, 2)));
    }

    @Test
    void missingTmuxIsABlindCaptureNotACrash() throws Exception {
        Path state = newState();
        meta(state, "a", "window=fleet:w\n");
        Map<String, String> env = new HashMap<>(Map.of("FM_HOME", state.getParent().toString(),
                "PATH", kit.tempDir("fm-empty-path").toString()));
        assertEquals(List.of(NONE, NONE,
                "stale: fleet:w (pane unreadable - 3 consecutive capture failures; supervision cannot see this window)"),
                outcomes(polls(env, 3)));
    }

    @Test
    void hungTmuxIsBoundedAndKeepsTheBeaconFresh() throws Exception {
        Fake fake = fake(List.of("hang"), Map.of());
        Path state = newState();
        for (int i = 0; i < 10; i++) meta(state, "w" + i, "window=fleet:w" + i + "\n");
        Map<String, String> env = fake.env(state);
        env.put("FM_BEACON_MAX_AGE", "2");
        List<Poll> polls = polls(env, 1);
        Poll poll = polls.get(0);
        assertEquals(NONE, poll.outcome());
        long took = poll.end() - poll.start();
        assertTrue(took >= Panes.CAPTURE_LIMIT.toMillis() - 100, "the capture was given its limit: " + took + " ms");
        assertTrue(took < 30_000, "ten hung captures must not take ten limits (50 s): " + took + " ms");
        for (int i = 0; i < 10; i++) assertEquals("1\n", read(state.resolve(".blind-fleet_w" + i)), "window w" + i);
        List<Long> times = new ArrayList<>();
        times.add(poll.start());
        times.addAll(poll.beats());
        times.add(poll.end());
        long maxGap = 0;
        for (int i = 1; i < times.size(); i++) maxGap = Math.max(maxGap, times.get(i) - times.get(i - 1));
        assertTrue(maxGap <= 3000, "beacon gap " + maxGap + " ms with FM_BEACON_MAX_AGE=2; beats " + poll.beats());
        for (String pid : Files.readAllLines(fake.dir().resolve("hung-pids"))) {
            long p = Long.parseLong(pid.strip());
            assertTrue(TestKit.waitFor(Duration.ofSeconds(10), () -> !FmProc.alive(p)), "hung tmux " + p + " was killed");
        }
    }

    @Test
    void windowsComeFromShipMetasInNameOrderEachOnceAsOneArgument() throws Exception {
        Fake fake = fake(List.of("frame x"), Map.of("x", "x\n"));
        Path state = newState();
        String odd = "fleet:odd $(touch \"$FAKE_TMUX_DIR/pwned\") x; y";
        meta(state, "z", "window=fleet:last\n");
        meta(state, "m", "window=fleet:middle\n");
        meta(state, "e", "window=" + odd + "\r\n");
        meta(state, "d", "window=fleet:mate\nkind=secondmate\n");
        meta(state, "c", "name=no window here\n");
        meta(state, "b", "window=fleet:dup\n");
        meta(state, "a", "kind=ship\nwindow=fleet:dup\n");
        meta(state, "0", "window=\n");
        meta(state, ".hidden", "window=fleet:hidden\n");
        Files.writeString(state.resolve("g.meta.bak"), "window=fleet:bak\n");
        Files.createDirectory(state.resolve("f.meta"));
        assertEquals(List.of(NONE), outcomes(polls(fake.env(state), 1)));
        List<String> expected = new ArrayList<>();
        for (String w : List.of("fleet:dup", odd, "fleet:middle", "fleet:last")) {
            expected.addAll(List.of("capture-pane", "-p", "-t", w, "-S", "-40", "--"));
        }
        assertEquals(expected, Files.readAllLines(fake.dir().resolve("calls")));
        assertFalse(Files.exists(fake.dir().resolve("pwned")), "the window name went through a shell");
    }

    @Test
    void garbageMarkersReadAsAbsent() throws Exception {
        Fake fake = fake(List.of("frame x"), Map.of("x", "x\n"));
        Path state = newState();
        meta(state, "a", "window=fleet:g\n");
        Files.write(state.resolve("b.meta"), new byte[] {0, 1, (byte) 0xff, '\n', 'w', '=', (byte) 0xc3});
        Files.writeString(state.resolve("c.meta"), "window=fleet:huge\n" + "#".repeat(200_000));
        meta(state, "d", "window=fleet:h\n");
        Files.writeString(state.resolve(".hash-fleet_h"), md5Hex("x") + "\n");
        Files.writeString(state.resolve(".count-fleet_h"), "99999999999999999999\n");
        Files.writeString(state.resolve(".hash-fleet_g"), "not-a-hash\n");
        Files.writeString(state.resolve(".count-fleet_g"), "99999999999999999999\n");
        Files.write(state.resolve(".frames-fleet_g"), new byte[] {0, 0, 'g', '\n', (byte) 0xfe, '\n'});
        Files.writeString(state.resolve(".stale-fleet_g"), md5Hex("x").toUpperCase());
        Files.writeString(state.resolve(".blind-fleet_g"), "-7");
        List<Poll> polls = polls(fake.env(state), 3);
        // h's hash is valid and its count garbage (0): it repeats from the first poll.
        assertEquals(List.of(NONE, "stale: fleet:h", "stale: fleet:g"), outcomes(polls));
        assertTrue(Files.exists(state.resolve(".hash-fleet_huge")), "a long meta is still read from its start");
        assertEquals(md5Hex("x") + "\n", read(state.resolve(".hash-fleet_g")));
        assertEquals(md5Hex("x") + "\n", read(state.resolve(".frames-fleet_g")));
        assertEquals("2\n", read(state.resolve(".count-fleet_g")));
        assertFalse(Files.exists(state.resolve(".blind-fleet_g")), "a good capture resets the blind count");
    }

    @Test
    void markersLeftByTheBashWatcherCarryOver() throws Exception {
        Fake fake = fake(List.of("frame x"), Map.of("x", "x\n\n"));
        Path state = newState();
        meta(state, "a", "window=fleet:old\n");
        Files.writeString(state.resolve(".hash-fleet_old"), md5Hex("x") + "\n");
        Files.writeString(state.resolve(".count-fleet_old"), "5\n");
        assertEquals(List.of("stale: fleet:old", NONE), outcomes(polls(fake.env(state), 2)));
        assertEquals("7\n", read(state.resolve(".count-fleet_old")));
    }

    // ------------------------------------------------------------------ through fm-watch.java

    @Test
    void watcherQueuesAndPrintsAStalePaneOnceAcrossWatchers() throws Exception {
        Path state = newState();
        try (Tmux tmux = new Tmux(kit.tempDir("fm-tmux"))) {
            tmux.startSession("idle", "printf 'idle\\n'; sleep 300", "idle");
            meta(state, "a", "window=fleet:idle\n");
            Map<String, String> env = watcherEnv(tmux.env(state));

            TestKit.Result first = kit.run(TestKit.command("fm-watch.java"), env, null, Duration.ofSeconds(60));
            assertEquals(0, first.exit(), first.stderr());
            assertEquals("stale: fleet:idle\n", first.stdout());
            assertEquals(List.of("stale\tfleet:idle\tstale: fleet:idle"), queueRecords(state));
            assertEquals(md5Hex("idle") + "\n", read(state.resolve(".stale-fleet_idle")));

            // The next watcher keeps polling the same unchanged pane without reporting it again.
            Process second = kit.start(TestKit.command("fm-watch.java"), env, null);
            StringBuilder out = new StringBuilder();
            TestKit.pump(second.getInputStream(), out);
            assertTrue(TestKit.waitFor(Duration.ofSeconds(60), () -> countOf(state, "fleet_idle") >= 6),
                    "the second watcher kept polling");
            assertTrue(second.isAlive(), "the second watcher exited");
            synchronized (out) {
                assertEquals("", out.toString());
            }
            assertEquals(1, queueRecords(state).size());
        }
    }

    @Test
    void watcherReportsAnUnreadablePaneWithTheQueueRecord() throws Exception {
        Path state = newState();
        meta(state, "a", "window=fleet:gone\n");
        Map<String, String> env = watcherEnv(fake(List.of("fail"), Map.of()).env(state));
        env.put("FM_BLIND_CAPTURE_POLLS", "2");
        TestKit.Result r = kit.run(TestKit.command("fm-watch.java"), env, null, Duration.ofSeconds(60));
        String line = "stale: fleet:gone (pane unreadable - 2 consecutive capture failures; supervision cannot see this window)";
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(line + "\n", r.stdout());
        assertEquals(List.of("stale\tfleet:gone\t" + line), queueRecords(state));
        assertEquals("2\n", read(state.resolve(".blind-fleet_gone")));
    }

    @Test
    void watcherBeaconStaysFreshWhileTmuxHangs() throws Exception {
        Path state = newState();
        for (int i = 0; i < 10; i++) meta(state, "w" + i, "window=fleet:w" + i + "\n");
        Map<String, String> env = watcherEnv(fake(List.of("hang"), Map.of()).env(state));
        env.put("FM_BEACON_MAX_AGE", "2");
        env.put("FM_BLIND_CAPTURE_POLLS", "2");
        Process watcher = kit.start(TestKit.command("fm-watch.java"), env, null);
        StringBuilder out = new StringBuilder();
        StringBuilder err = new StringBuilder();
        TestKit.pump(watcher.getInputStream(), out);
        TestKit.pump(watcher.getErrorStream(), err);
        Path beacon = state.resolve(".last-watcher-beat");
        long worst = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (watcher.isAlive() && System.nanoTime() < deadline) {
            var age = StateFiles.age(beacon);
            if (age.isPresent()) worst = Math.max(worst, age.get().toMillis());
            Thread.sleep(50);
        }
        assertFalse(watcher.isAlive(), "the watcher is still inside hung captures after 60 s");
        assertEquals(0, watcher.waitFor(), err.toString());
        assertTrue(worst <= 3000, "beacon reached " + worst + " ms with FM_BEACON_MAX_AGE=2");
        // Poll 1: w0 hangs until the limit, w1..w9 count as blind too; poll 2: w0 reaches 2.
        TestKit.waitFor(Duration.ofSeconds(5), () -> out.toString().endsWith("\n"));
        synchronized (out) {
            assertEquals("stale: fleet:w0 (pane unreadable - 2 consecutive capture failures; supervision cannot see this window)\n",
                    out.toString());
        }
        for (int i = 1; i < 10; i++) assertEquals("1\n", read(state.resolve(".blind-fleet_w" + i)), "window w" + i);
    }

    // ------------------------------------------------------------------ helpers

    record Poll(String outcome, long start, long end, List<Long> beats) {}

    /** A watcher that polls quickly and never wakes for the heartbeat during a test. */
    private static Map<String, String> watcherEnv(Map<String, String> env) {
        env.put("FM_POLL", "0.2");
        env.put("FM_HEARTBEAT", "100000");
        env.put("FM_HEARTBEAT_MAX", "100000");
        return env;
    }

    /** The queue's records without their epoch and sequence fields. */
    private static List<String> queueRecords(Path state) throws IOException {
        return Files.readAllLines(state.resolve(".wake-queue")).stream()
                .map(l -> l.split("\t", 3)[2]).toList();
    }

    private static long countOf(Path state, String key) {
        try {
            return Long.parseLong(Files.readString(state.resolve(".count-" + key)).strip());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    /** Runs {@code n} polls in one driver process and parses its report. */
    private List<Poll> polls(Map<String, String> env, int n, String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of(Integer.toString(n)));
        args.addAll(List.of(extra));
        TestKit.Result r = kit.run(TestKit.command("tests/helpers/panes-poll.java", args.toArray(String[]::new)), env, null,
                Duration.ofSeconds(120));
        assertEquals(0, r.exit(), "driver failed:\n" + r.stdout() + r.stderr());
        assertFalse(r.stderr().contains("Exception"), r.stderr());
        List<Poll> out = new ArrayList<>();
        String outcome = null;
        long start = -1;
        List<Long> beats = new ArrayList<>();
        for (String line : r.lines()) {
            String[] f = line.split(" ");
            if (line.startsWith("poll ") && f[2].equals("start")) {
                start = Long.parseLong(f[3]);
                beats = new ArrayList<>();
                outcome = null;
            } else if (line.startsWith("poll ") && f[2].equals("end")) {
                out.add(new Poll(outcome, start, Long.parseLong(f[3]), beats));
            } else if (line.startsWith("beat ")) {
                beats.add(Long.parseLong(f[1]));
            } else if (line.startsWith("wake ")) {
                outcome = line.substring(5);
            } else if (line.equals(NONE)) {
                outcome = NONE;
            } else {
                fail("unexpected driver line: " + line);
            }
        }
        assertEquals(n, out.size(), r.stdout());
        return out;
    }

    private static List<String> outcomes(List<Poll> polls) {
        return polls.stream().map(Poll::outcome).toList();
    }

    /** A fresh home's state directory; each case's environment names its home by the state's parent. */
    private Path newState() throws IOException {
        return new TestKit.Home(kit, "fm-panes").state;
    }

    private static void meta(Path state, String id, String content) throws IOException {
        Files.writeString(state.resolve(id + ".meta"), content);
    }

    private static String read(Path p) throws IOException {
        return Files.readString(p);
    }

    /** An independent MD5, so the test does not trust Panes.md5. */
    private static String md5Hex(String s) throws Exception {
        byte[] d = java.security.MessageDigest.getInstance("MD5").digest(s.getBytes(StandardCharsets.UTF_8));
        StringBuilder sb = new StringBuilder();
        for (byte b : d) sb.append(String.format("%02x", b));
        return sb.toString();
    }

    record Fake(Path dir) {
        /** Environment for the driver: the fake tmux first on PATH. */
        Map<String, String> env(Path state) {
            return new HashMap<>(Map.of("FM_HOME", state.getParent().toString(), "FAKE_TMUX_DIR", dir.toString(),
                    "PATH", FAKE_TMUX + ":" + SYSTEM_PATH));
        }
    }

    private Fake fake(List<String> steps, Map<String, String> frames) throws IOException {
        Path dir = kit.tempDir("fm-fake-tmux");
        Files.writeString(dir.resolve("steps"), String.join("\n", steps) + "\n");
        for (Map.Entry<String, String> f : frames.entrySet()) Files.writeString(dir.resolve(f.getKey()), f.getValue());
        return new Fake(dir);
    }

    /** A real tmux server whose default socket lives in a private TMUX_TMPDIR; killed on close. */
    private static final class Tmux implements AutoCloseable {
        private final Path dir;

        Tmux(Path dir) { this.dir = dir; }

        Map<String, String> env(Path state) {
            // An empty TMUX counts as unset, so the driver's tmux finds the server by TMUX_TMPDIR alone.
            return new HashMap<>(Map.of("FM_HOME", state.getParent().toString(), "TMUX_TMPDIR", dir.toString(),
                    "TMUX", ""));
        }

        void startSession(String window, String command, String shows) throws IOException {
            run("-f", "/dev/null", "new-session", "-d", "-s", "fleet", "-n", window, "-x", "120", "-y", "40", command);
            waitForText("fleet:" + window, shows);
        }

        void newWindow(String window, String command, String shows) throws IOException {
            run("new-window", "-d", "-t", "fleet:", "-n", window, command);
            waitForText("fleet:" + window, shows);
        }

        void waitForText(String target, String text) {
            assertTrue(TestKit.waitFor(Duration.ofSeconds(20), () -> capture(target).contains(text)),
                    target + " never showed " + text + "; it shows:\n" + capture(target));
        }

        private String capture(String target) {
            try {
                return run("capture-pane", "-p", "-t", target).stdout();
            } catch (IOException | AssertionError e) {
                return "";
            }
        }

        TestKit.Result run(String... args) throws IOException {
            List<String> cmd = new ArrayList<>(List.of("tmux"));
            cmd.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().remove("TMUX");
            pb.environment().put("TMUX_TMPDIR", dir.toString());
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            TestKit.Result r = TestKit.finish(pb.start(), Duration.ofSeconds(20));
            assertEquals(0, r.exit(), "tmux " + String.join(" ", args) + ": " + r.stderr());
            return r;
        }

        @Override
        public void close() {
            try {
                run("kill-server");
            } catch (IOException | AssertionError e) {
                // already gone: every pane command ends by itself within minutes anyway
            }
        }
    }
}
