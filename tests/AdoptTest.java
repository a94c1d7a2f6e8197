import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * fm-adopt.java on a throwaway firstmate home: four bash scripts and a library
 * that record how they were called. The adopted scripts are called the way the away-mode
 * daemon and the home's tools call them; undo must give back every byte and mode; a running
 * watcher is refused and never signalled; a kill -9 between any two changes leaves every
 * script in place and a re-run finishes.
 */
class AdoptTest {
    /** Generous: a shim starts JBang and then the command's own JVM, on a shared machine. */
    private static final Duration LIMIT = Duration.ofSeconds(180);
    private static final List<String> SCRIPTS = List.of("fm-watch.sh", "fm-watch-arm.sh", "fm-wake-drain.sh", "fm-guard.sh");
    /** Each script with its own mode, so a restored mode cannot be right by accident. */
    private static final Map<String, String> MODES = Map.of("fm-watch.sh", "rwxr-xr-x", "fm-watch-arm.sh", "rwxr-x---",
            "fm-wake-drain.sh", "rwx------", "fm-guard.sh", "rwxrwxr-x");
    private static final String MARK = "\u25CF";
    // The advice names the home's own scripts by absolute path (quoted: the home's path has a quote
    // and spaces), so that it can be pasted in any directory.
    private String banner_now() {
        return MARK + "  Re-arm it NOW: run " + ShellWord.of(bin.resolve("fm-watch-arm.sh")) + " as the harness-tracked"
                + " background task (never a shell & that gets reaped).";
    }

    private String banner_after_drain() {
        return MARK + "  After draining queued wakes, re-arm the watcher: run " + ShellWord.of(bin.resolve("fm-watch-arm.sh"))
                + " as the harness-tracked background task (never a shell & that gets reaped).";
    }

    private String banner_only() {
        return MARK + "  Only " + ShellWord.of(bin.resolve("fm-watch-arm.sh")) + " reports the true state of the watcher;"
                + " trust its status line, not memory.";
    }

    private String queued() {
        return "WARNING: queued wakes pending - drain them with " + ShellWord.of(bin.resolve("fm-wake-drain.sh"))
                + " before anything else.";
    }

    @AutoClose private final TestKit kit = new TestKit();
    /** The throwaway home: {@code bin/} beside {@code state/}, knobs for a quick watcher. */
    private TestKit.Home fixture;
    private Path home;
    private Path bin;
    private Path state;

    @BeforeAll
    static void build() {
        // Built once up front, so the shims' JBang finds every script in its cache.
        for (String s : List.of("fm-adopt.java", "fm-watch.java", "fm-watch-arm.java", "fm-wake-drain.java", "fm-guard.java")) {
            TestKit.javaCommand(s);
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        // A quote and spaces in the path: the shims must quote it for sh.
        fixture = new TestKit.Home(kit, kit.tempDir("fm adopt's home "));
        // The home's tools call its scripts by path with no FM_HOME: the shims must supply it.
        fixture.env.remove("FM_HOME");
        fixture.env.putAll(TestKit.QUIET);
        home = fixture.home;
        state = fixture.state;
        bin = Files.createDirectories(home.resolve("bin"));
        for (String s : SCRIPTS) {
            Path p = bin.resolve(s);
            Files.writeString(p, s.equals("fm-watch.sh") ? fakeWatcher() : fakeTool(s));
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(MODES.get(s)));
        }
        Files.writeString(bin.resolve("fm-wake-lib.sh"), "# firstmate's sourced library (a test double)\nfm_lib=1\n");
        Files.writeString(bin.resolve("fm-other-tool.sh"), "#!/usr/bin/env bash\n\"$(dirname \"$0\")/fm-guard.sh\"\n");
        Files.setPosixFilePermissions(bin.resolve("fm-other-tool.sh"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(home.resolve("AGENTS.md"), "run bin/fm-watch-arm.sh\n");
    }

    // ------------------------------------------------------------------ the throwaway home

    private static String fakeTool(String name) {
        return "#!/usr/bin/env bash\n"
                + "# firstmate's bin/" + name + " (a test double): records how it was called.\n"
                + "here=$(cd \"$(dirname \"$0\")\" && pwd -P)\n"
                + "{ printf '%s' '" + name + "'; printf ' [%s]' \"$@\"; printf '\\n'; } >> \"$here/../calls.log\"\n"
                + "echo 'bash " + name + "'\n";
    }

    /** A bash watcher of this home as docs/lock.md describes it: its lock, metadata, ps identity and beacon. */
    private static String fakeWatcher() {
        return "#!/usr/bin/env bash\n"
                + "# firstmate's bin/fm-watch.sh (a test double): a bash watcher of this home.\n"
                + "here=$(cd \"$(dirname \"$0\")\" && pwd -P)\n"
                + "root=${here%/bin}\n"
                + "{ printf '%s' 'fm-watch.sh'; printf ' [%s]' \"$@\"; printf '\\n'; } >> \"$root/calls.log\"\n"
                + "state=\"${FM_HOME:-$root}/state\"\n"
                + "lock=\"$state/.watch.lock\"\n"
                + "if [ \"${FAKE_LOCK_FORM:-dir}\" = link ]; then\n"
                + "  holder=\"$lock.owner.$RANDOM$RANDOM\"\n"
                + "  mkdir \"$holder\" || exit 1\n"
                + "  echo $$ > \"$holder/pid\"\n"
                + "  ln -s \"$holder\" \"$lock\" 2>/dev/null || { rm -f \"$holder/pid\"; rmdir \"$holder\"; echo 'watcher: already running'; exit 0; }\n"
                + "else\n"
                + "  mkdir \"$lock\" 2>/dev/null || { echo 'watcher: already running'; exit 0; }\n"
                + "  holder=$lock\n"
                + "  echo $$ > \"$holder/pid\"\n"
                + "fi\n"
                + "printf '%s\\n' \"${FM_HOME:-$root}\" > \"$holder/fm-home\"\n"
                + "printf '%s\\n' \"$here/fm-watch.sh\" > \"$holder/watcher-path\"\n"
                + "ps -p $$ -o lstart= -o command= | sed 's/^ *//' > \"$holder/pid-identity\"\n"
                + "release() {\n"
                + "  rm -f \"$holder/pid\" \"$holder/fm-home\" \"$holder/watcher-path\" \"$holder/pid-identity\"\n"
                + "  [ \"$holder\" = \"$lock\" ] || rm -f \"$lock\"\n"
                + "  rmdir \"$holder\"; exit 143\n"
                + "}\n"
                + "trap release TERM\n"
                + "touch \"$state/.last-watcher-beat\"\n"
                + "echo \"bash watcher pid $$\"\n"
                + "while :; do touch \"$state/.last-watcher-beat\"; sleep 0.2 & wait $!; done\n";
    }

    private TestKit.Result adopt(String... args) throws IOException {
        List<String> a = new ArrayList<>(List.of("--home", home.toString()));
        a.addAll(List.of(args));
        return kit.run(TestKit.command("fm-adopt.java", a.toArray(String[]::new)), Map.of(), null, LIMIT);
    }

    /** A script of the home, run by path the way the home's tools run it (no FM_HOME in the environment). */
    private TestKit.Result script(String name, Map<String, String> env, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(bin.resolve(name).toString()));
        cmd.addAll(List.of(args));
        return kit.run(cmd, env, kit.tempDir("fm-elsewhere"), LIMIT);
    }

    private long lockPid() {
        return FmLock.holderPid(state.resolve(".watch.lock")).orElse(-1);
    }

    /** Every file, directory and link under {@code root}: its mode and content (or target). */
    static Map<String, String> snapshot(Path root) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String rel = root.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    m.put(rel, "link " + Files.readSymbolicLink(p));
                    continue;
                }
                String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
                m.put(rel, Files.isDirectory(p) ? "dir " + mode : "file " + mode + " " + sha(Files.readAllBytes(p)));
            }
        }
        return m;
    }

    private Map<String, String> homeWithoutState() throws IOException {
        Map<String, String> m = snapshot(home);
        m.keySet().removeIf(k -> k.equals("state") || k.startsWith("state/") || k.equals(".git") || k.startsWith(".git/"));
        return m;
    }

    /** Adopt's last line: how to undo, and that the home's self-update skips it until --update. */
    private String adoptedLine() {
        String cmd = "'" + TestKit.root().resolve("fm-adopt.java") + "'";
        String h = "'" + home.toString().replace("'", "'\\''") + "'";
        return "fm-adopt: adopted " + home + "; undo with: " + cmd + " --undo --home " + h
                + "; firstmate's self-update (bin/fm-update.sh) skips this home while adopted, so update it with: "
                + cmd + " --update --home " + h + "\n";
    }

    private static String sha(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String> stderrLines(TestKit.Result r) {
        return r.stderr().isEmpty() ? List.of() : List.of(r.stderr().split("\n"));
    }

    /** The one copy kept aside for {@code script} under a {@code .kept-<UTC time>} name. */
    private String keptName(String script) throws IOException {
        List<String> kept = listNames(bin.resolve(".fm-adopt")).stream().filter(n -> KEPT.matcher(n).matches()
                && n.startsWith(script + ".kept-")).toList();
        assertEquals(1, kept.size(), "kept copies of " + script + ": " + kept);
        return kept.get(0);
    }

    private static final Pattern KEPT = Pattern.compile(".+\\.kept-\\d{8}T\\d{6}Z(-\\d+)?");

    static List<String> listNames(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Kept copies' names with their time taken out, so runs at different moments compare equal. */
    private static Map<String, String> timeless(Map<String, String> m) {
        Map<String, String> c = new TreeMap<>();
        m.forEach((k, v) -> c.put(k.replaceAll("\\.kept-\\d{8}T\\d{6}Z(-\\d+)?$", ".kept-T"), v));
        return c;
    }

    private static final Map<String, String> GIT_ENV = Map.of("GIT_AUTHOR_NAME", "fm test", "GIT_AUTHOR_EMAIL",
            "fm@example.invalid", "GIT_COMMITTER_NAME", "fm test", "GIT_COMMITTER_EMAIL", "fm@example.invalid",
            "GIT_CONFIG_NOSYSTEM", "1", "LC_ALL", "C");

    /** git in {@code dir}, which must succeed. */
    private TestKit.Result git(Path dir, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("git", "-C", dir.toString()));
        cmd.addAll(List.of(args));
        TestKit.Result r = kit.run(cmd, GIT_ENV, null, LIMIT);
        assertEquals(0, r.exit(), "git " + String.join(" ", args) + ": " + r.stdout() + r.stderr());
        return r;
    }

    /**
     * Makes the home what a user's firstmate home is: a clone of an upstream, on a branch that
     * tracks it. Returns the bare upstream.
     */
    private Path gitHome() throws IOException {
        Files.writeString(home.resolve(".gitignore"), "state/\ncalls.log\n");
        git(home, "init", "-q", "-b", "main");
        git(home, "add", "-A");
        git(home, "commit", "-q", "-m", "firstmate");
        Path up = kit.tempDir("fm-upstream").resolve("up.git");
        git(home, "clone", "-q", "--bare", home.toString(), up.toString());
        git(home, "remote", "add", "origin", up.toString());
        git(home, "fetch", "-q", "origin");
        git(home, "branch", "-q", "-u", "origin/main");
        return up;
    }

    // ------------------------------------------------------------------ adopt, and the adopted scripts

    @Test
    void adoptedScriptsRunOurCommandsWithTheHomesOwnAdvice() throws Exception {
        Map<String, String> before = snapshot(home);
        TestKit.Result dry = adopt("--dry-run");
        assertEquals(0, dry.exit(), dry.stderr());
        assertTrue(dry.stdout().contains("would replace bin/fm-guard.sh with a shim running "
                + TestKit.root().resolve("fm-guard.java")), dry.stdout());
        assertEquals(before, snapshot(home), "a dry run changes nothing");

        TestKit.Result r = adopt();
        assertEquals(0, r.exit(), r.stdout() + r.stderr());
        assertEquals("", r.stderr());
        assertTrue(r.stdout().endsWith(adoptedLine()), r.stdout());
        Map<String, String> adopted = snapshot(home);
        for (Map.Entry<String, String> e : before.entrySet()) {
            String name = e.getKey().startsWith("bin/") ? e.getKey().substring(4) : "";
            if (SCRIPTS.contains(name)) {
                assertNotEquals(e.getValue(), adopted.get(e.getKey()), e.getKey() + " is a shim now");
                assertTrue(Files.readString(home.resolve(e.getKey())).startsWith("#!/bin/sh\n# fm-adopt shim:"));
                assertEquals(e.getValue(), adopted.get("bin/.fm-adopt/" + name), "the original, kept byte for byte with its mode");
                assertTrue(adopted.get(e.getKey()).startsWith("file " + MODES.get(name) + " "), "the shim keeps the mode");
            } else {
                assertEquals(e.getValue(), adopted.get(e.getKey()), e.getKey() + " is untouched");
            }
        }

        // Adopting again says so and changes nothing.
        TestKit.Result again = adopt();
        assertEquals(0, again.exit(), again.stderr());
        assertEquals("fm-adopt: " + home + " is already adopted: its scripts run " + TestKit.root() + "; nothing to do\n",
                again.stdout());
        assertEquals(adopted, snapshot(home));

        // The guard, called by path from elsewhere without FM_HOME, as the home's other tools do.
        Files.writeString(state.resolve("t1.meta"), "window=w1\n");
        TestKit.Result g = script("fm-guard.sh", fixture.env());
        assertEquals(0, g.exit(), g.stderr());
        assertEquals("", g.stdout());
        List<String> banner = stderrLines(g);
        assertEquals(6, banner.size(), g.stderr());
        assertEquals(MARK + "  1 task(s) in flight, but no watcher has a fresh beacon (last beat: never, grace 300s).", banner.get(2));
        assertEquals(banner_only(), banner.get(3));
        assertEquals(banner_now(), banner.get(4));

        // Queued wakes: the banner's drain-first form and the warning name the home's drain.
        Files.writeString(state.resolve(".wake-queue"), "1700000000\t1\tsignal\tt1.status\tt1.status\n");
        TestKit.Result q = script("fm-guard.sh", fixture.env());
        List<String> warned = stderrLines(q);
        assertEquals(7, warned.size(), q.stderr());
        assertEquals(banner_after_drain(), warned.get(4));
        assertEquals(queued(), warned.get(6));

        // The drain, run as the warning names it (pasted into sh from another directory), with its
        // output, then the guard's check on stderr (queue now empty).
        String drain = warned.get(6).substring("WARNING: queued wakes pending - drain them with ".length(),
                warned.get(6).length() - " before anything else.".length());
        TestKit.Result d = kit.run(List.of("sh", "-c", drain), fixture.env(), Path.of("/"), LIMIT);
        assertEquals(0, d.exit(), d.stderr());
        assertEquals("1700000000\t1\tsignal\tt1.status\tt1.status\n", d.stdout());
        assertEquals(banner_now(), stderrLines(d).get(4));
        assertFalse(d.stderr().contains("WARNING"), d.stderr());

        // Every argument arrives, as one argument each.
        TestKit.Result a = script("fm-wake-drain.sh", fixture.env(), "a b");
        assertEquals(2, a.exit());
        assertEquals("fm-wake-drain: unexpected argument 'a b'; it takes none (see --help)\n", a.stderr());

        // FM_HOME set by the caller wins over the home the shim names.
        Path other = kit.tempDir("fm-other-home");
        Files.createDirectories(other.resolve("state"));
        for (String t : List.of("x.meta", "y.meta")) Files.writeString(other.resolve("state").resolve(t), "window=w\n");
        TestKit.Result o = script("fm-guard.sh", fixture.env("FM_HOME", other.toString()));
        assertTrue(o.stderr().contains(MARK + "  2 task(s) in flight"), o.stderr());

        // A tool of the home that runs the guard by path gets the same, and no bash original ran.
        TestKit.Result t = script("fm-other-tool.sh", fixture.env());
        assertEquals(banner_now(), stderrLines(t).get(4));
        assertFalse(Files.exists(home.resolve("calls.log")), "a bash original ran");
    }

    /** fm-status says that firstmate's self-update skips an adopted home, and how to update it. */
    @Test
    void fmStatusSaysAnAdoptedHomeMissesSelfUpdatesAndHowToUpdateIt() throws Exception {
        Map<String, String> env = Map.of("FM_HOME", home.toString());
        TestKit.Result plain = kit.run(TestKit.command("fm-status.java"), env, null, LIMIT);
        assertTrue(plain.stdout().lines().noneMatch(l -> l.startsWith("adopted:")), plain.stdout());
        assertEquals(0, adopt().exit());
        TestKit.Result r = kit.run(TestKit.command("fm-status.java"), env, null, LIMIT);
        String update = TestKit.root().resolve("fm-adopt.java") + "' --update --home '";
        assertTrue(r.stdout().lines().anyMatch(l -> l.startsWith("adopted: ") && l.contains("skips it while adopted")
                && l.contains(update)), r.stdout());
        TestKit.Result json = kit.run(TestKit.command("fm-status.java", "--json"), env, null, LIMIT);
        assertTrue(json.stdout().replace(" ", "").contains("\"selfUpdateSkips\":true"), json.stdout());
        assertEquals(0, adopt("--undo").exit());
        TestKit.Result after = kit.run(TestKit.command("fm-status.java"), env, null, LIMIT);
        assertTrue(after.stdout().lines().noneMatch(l -> l.startsWith("adopted:")), after.stdout());
    }

    @Test
    void theWatcherShimIsTheJvmThatTheDaemonStartsReadsAndSignals() throws Exception {
        assertEquals(0, adopt().exit());
        // The daemon's way: `bin/fm-watch.sh &`, its $!, the reason line on the child's stdout.
        String daemon = "cd \"$1\" || exit 1; bin/fm-watch.sh & echo \"child $!\"; wait $!; echo \"exit $?\"";
        TestKit.Lines sh = new TestKit.Lines(kit.start(List.of("bash", "-c", daemon, "daemon", home.toString()), fixture.env(), null));
        String first = sh.next(LIMIT);
        assertTrue(first.matches("child \\d+"), first);
        long child = Long.parseLong(first.substring(6));
        // The pid and identity come with the lock; fm-home, then watcher-path, once it is held.
        assertTrue(TestKit.waitFor(LIMIT, () -> lockPid() == child && Files.exists(state.resolve(".watch.lock/watcher-path"))),
                "the watcher's lock never named $! (" + child + ")");
        assertTrue(ProcessHandle.of(child).flatMap(h -> h.info().command()).orElse("").endsWith("/java"),
                "$! is the JVM itself: " + ProcessHandle.of(child).flatMap(h -> h.info().command()));
        assertEquals(home.toString(), Files.readString(state.resolve(".watch.lock/fm-home")).strip());
        Files.writeString(state.resolve("t1.status"), "done\n");
        assertEquals("signal: " + state.resolve("t1.status"), sh.next(LIMIT));
        assertEquals("exit 0", sh.next(LIMIT));

        // Started directly as a child, its pid signalled with TERM: the JVM exits 143 and lets go.
        Process w = kit.start(List.of(bin.resolve("fm-watch.sh").toString()), fixture.env(), kit.tempDir("fm-elsewhere"));
        assertTrue(TestKit.waitFor(LIMIT, () -> lockPid() == w.pid()), "the lock never named the child");
        // The arm's shim passes its option: attached behind that watcher.
        TestKit.Lines attached = new TestKit.Lines(kit.start(List.of(bin.resolve("fm-watch-arm.sh").toString(), "--attach"),
                fixture.env(), kit.tempDir("fm-elsewhere")));
        String line = attached.next(LIMIT);
        assertTrue(line.matches("watcher: attached pid=" + w.pid() + " \\(beacon \\d+s\\)"), line);
        w.destroy();
        assertTrue(w.waitFor(60, TimeUnit.SECONDS));
        assertEquals(143, w.exitValue());
        assertEquals(0, attached.exit(LIMIT));
        assertFalse(Files.exists(state.resolve(".watch.lock"), LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(home.resolve("calls.log")), "a bash original ran");
    }

    // ------------------------------------------------------------------ undo

    @Test
    void undoRestoresEveryByteAndModeAndRemovesWhatAdoptAdded() throws Exception {
        Map<String, String> before = snapshot(home);
        assertEquals(0, adopt().exit());
        Map<String, String> adopted = snapshot(home);

        TestKit.Result dry = adopt("--undo", "--dry-run");
        assertEquals(0, dry.exit(), dry.stderr());
        assertTrue(dry.stdout().contains("would restore bin/fm-watch.sh from bin/.fm-adopt/fm-watch.sh"), dry.stdout());
        assertEquals(adopted, snapshot(home), "a dry run changes nothing");

        TestKit.Result u = adopt("--undo");
        assertEquals(0, u.exit(), u.stdout() + u.stderr());
        assertEquals("", u.stderr());
        assertTrue(u.stdout().endsWith("fm-adopt: undone: " + home + " runs its bash scripts again\n"), u.stdout());
        assertEquals(before, snapshot(home), "byte for byte, mode for mode, and nothing left behind");

        TestKit.Result again = adopt("--undo");
        assertEquals(0, again.exit());
        assertEquals("fm-adopt: " + home + " is not adopted; nothing to undo\n", again.stdout());

        // The originals run again, with their arguments.
        TestKit.Result g = script("fm-guard.sh", fixture.env(), "x y");
        assertEquals("bash fm-guard.sh\n", g.stdout());
        assertEquals("fm-guard.sh [x y]\n", Files.readString(home.resolve("calls.log")));
    }

    @Test
    void aScriptRestoredByHandIsKeptAndTheOlderDifferingCopyToo() throws Exception {
        Map<String, String> before = snapshot(home);
        assertEquals(0, adopt().exit());
        // `git checkout bin/fm-guard.sh` while adopted: an original again, newer than the kept one.
        Path guard = bin.resolve("fm-guard.sh");
        Files.writeString(guard.resolveSibling(".x"), fakeTool("fm-guard.sh") + "# newer\n");
        Files.setPosixFilePermissions(guard.resolveSibling(".x"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.move(guard.resolveSibling(".x"), guard, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        Map<String, String> expected = new TreeMap<>(before);
        expected.put("bin/fm-guard.sh", snapshot(home).get("bin/fm-guard.sh"));
        // Adopt again keeps the newer original, and the older kept one under a name of its own.
        TestKit.Result r = adopt();
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.stdout().contains("bin/fm-guard.sh now runs"), r.stdout());
        assertEquals(expected.get("bin/fm-guard.sh"), snapshot(home).get("bin/.fm-adopt/fm-guard.sh"));
        String kept = keptName("fm-guard.sh");
        assertEquals(before.get("bin/fm-guard.sh"), snapshot(home).get("bin/.fm-adopt/" + kept), "the older copy, byte for byte");
        assertTrue(r.stdout().contains("fm-adopt: the older kept original of bin/fm-guard.sh differs from the one in place,"
                + " so it was kept as bin/.fm-adopt/" + kept + ": "), r.stdout());
        // Undo gives the newer one back and leaves the directory holding only that kept copy.
        TestKit.Result u = adopt("--undo");
        assertEquals(0, u.exit(), u.stderr());
        assertEquals("", u.stderr());
        assertTrue(u.stdout().contains("fm-adopt: left bin/.fm-adopt in place holding only kept copies (" + kept + ")"),
                u.stdout());
        expected.put("bin/.fm-adopt/" + kept, before.get("bin/fm-guard.sh"));
        Map<String, String> now = snapshot(home);
        assertTrue(now.remove("bin/.fm-adopt").startsWith("dir "));
        assertEquals(expected, now);
        // Undone already: the kept copy is named, never removed.
        TestKit.Result again = adopt("--undo");
        assertEquals(0, again.exit(), again.stderr());
        assertTrue(again.stdout().startsWith("fm-adopt: " + home + " is not adopted; nothing to undo (bin/.fm-adopt holds"
                + " kept copies only: " + kept), again.stdout());
        assertTrue(Files.exists(bin.resolve(".fm-adopt").resolve(kept)));
    }

    @Test
    void undoRemovesAKeptOriginalOnlyWhenTheScriptInPlaceIsByteIdentical() throws Exception {
        Map<String, String> before = snapshot(home);
        assertEquals(0, adopt().exit());
        // fm-guard.sh is its original again, byte for byte; fm-watch.sh is a different script.
        Path guard = bin.resolve("fm-guard.sh");
        Files.write(guard, Files.readAllBytes(bin.resolve(".fm-adopt/fm-guard.sh")));
        Path watch = bin.resolve("fm-watch.sh");
        Files.writeString(watch, "#!/usr/bin/env bash\necho 'put here by someone else'\n");
        Map<String, String> inPlace = snapshot(home);
        TestKit.Result u = adopt("--undo");
        assertEquals(0, u.exit(), u.stderr());
        String kept = keptName("fm-watch.sh");
        assertTrue(u.stdout().contains("fm-adopt: bin/fm-watch.sh in place differs from its kept original, so that original"
                + " was kept as bin/.fm-adopt/" + kept + ": "), u.stdout());
        assertEquals(1, u.stdout().split("bin/.fm-adopt/" + kept, -1).length - 1, "named in one line: " + u.stdout());
        assertFalse(u.stdout().contains("fm-guard.sh in place differs"), u.stdout());
        assertTrue(u.stdout().endsWith("fm-adopt: undone: " + home + " runs its bash scripts again\n"), u.stdout());
        Map<String, String> now = snapshot(home);
        assertEquals(before.get("bin/fm-watch.sh"), now.get("bin/.fm-adopt/" + kept), "the original, kept");
        assertEquals(inPlace.get("bin/fm-watch.sh"), now.get("bin/fm-watch.sh"), "what was in place stays");
        assertEquals(before.get("bin/fm-guard.sh"), now.get("bin/fm-guard.sh"));
        assertEquals(List.of(kept), listNames(bin.resolve(".fm-adopt")), "the identical copy went, the differing one stayed");
    }

    @Test
    void undoNeverDeletesTheOnlyCopyOfAnEditThatGitStashPutHeadsScriptOver() throws Exception {
        // A firstmate clone with an uncommitted edit to one of its scripts.
        gitHome();
        Path guard = bin.resolve("fm-guard.sh");
        String edited = fakeTool("fm-guard.sh") + "# my uncommitted edit\n";
        Files.writeString(guard, edited);
        TestKit.Result a = adopt();
        assertEquals(0, a.exit(), a.stderr());
        assertEquals(edited, Files.readString(bin.resolve(".fm-adopt/fm-guard.sh")), "the edit lives only here now");
        // `git stash` stashes the shims' diffs and puts HEAD's scripts over them.
        git(home, "stash", "-q");
        assertEquals(fakeTool("fm-guard.sh"), Files.readString(guard));
        TestKit.Result u = adopt("--undo");
        assertEquals(0, u.exit(), u.stdout() + u.stderr());
        assertEquals("", u.stderr());
        String kept = keptName("fm-guard.sh");
        assertEquals(edited, Files.readString(bin.resolve(".fm-adopt").resolve(kept)), "the edit survives");
        assertTrue(u.stdout().contains("fm-adopt: bin/fm-guard.sh in place differs from its kept original, so that original"
                + " was kept as bin/.fm-adopt/" + kept + ": "), u.stdout());
        assertEquals(List.of(kept), listNames(bin.resolve(".fm-adopt")));
        assertTrue(u.stdout().contains("fm-adopt: left bin/.fm-adopt in place holding only kept copies (" + kept + ")"),
                u.stdout());
        for (String s : SCRIPTS) assertEquals(s.equals("fm-watch.sh") ? fakeWatcher() : fakeTool(s), Files.readString(bin.resolve(s)));
    }

    // ------------------------------------------------------------------ --update

    /** A clone of the upstream to push from, as firstmate's maintainers do. */
    private Path pushUpstream(Path up, String message, String guard, String agents) throws IOException {
        Path dev = kit.tempDir("fm-dev").resolve("dev");
        git(home, "clone", "-q", up.toString(), dev.toString());
        if (guard != null) Files.writeString(dev.resolve("bin/fm-guard.sh"), guard);
        Files.writeString(dev.resolve("AGENTS.md"), agents);
        git(dev, "commit", "-q", "-am", message);
        git(dev, "push", "-q", "origin", "main");
        return dev;
    }

    private String head(Path repo) throws IOException {
        return git(repo, "rev-parse", "HEAD").stdout().strip();
    }

    @Test
    void updateFastForwardsAnAdoptedHomeFromItsUpstreamAndAdoptsItAgain() throws Exception {
        Path up = gitHome();
        String old = head(home);
        TestKit.Result a = adopt();
        assertEquals(0, a.exit(), a.stderr());
        assertTrue(a.stdout().endsWith(adoptedLine()), a.stdout());
        // What firstmate's self-update sees: a dirty working tree, so it skips this home.
        assertEquals(List.of(" M bin/fm-guard.sh", " M bin/fm-wake-drain.sh", " M bin/fm-watch-arm.sh", " M bin/fm-watch.sh",
                "?? bin/.fm-adopt/"), git(home, "status", "--porcelain").lines().stream().sorted().toList());

        // Upstream fixes the guard and changes another file.
        String fixed = fakeTool("fm-guard.sh") + "# upstream's fix\n";
        pushUpstream(up, "a fix", fixed, "run bin/fm-watch-arm.sh, now updated\n");
        String target = git(up, "rev-parse", "main").stdout().strip();
        assertNotEquals(old, target);

        TestKit.Result u = adopt("--update");
        assertEquals(0, u.exit(), u.stdout() + u.stderr());
        assertEquals("", u.stderr());
        assertEquals(target, head(home), "the home is at upstream's commit");
        assertEquals("run bin/fm-watch-arm.sh, now updated\n", Files.readString(home.resolve("AGENTS.md")));
        assertEquals(fixed, Files.readString(bin.resolve(".fm-adopt/fm-guard.sh")), "the new script is the kept original");
        for (String s : SCRIPTS) {
            assertTrue(Files.readString(bin.resolve(s)).startsWith("#!/bin/sh\n# fm-adopt shim:"), s + " is a shim again");
        }
        assertTrue(u.stdout().contains("fm-adopt: updated " + home + " from " + old.substring(0, 12) + " to "
                + target.substring(0, 12) + " (git pull --ff-only)\n"), u.stdout());
        assertTrue(u.stdout().endsWith(adoptedLine()), u.stdout());
        TestKit.Result again = adopt();
        assertTrue(again.stdout().contains("is already adopted"), again.stdout());
        assertEquals(List.of(" M bin/fm-guard.sh", " M bin/fm-wake-drain.sh", " M bin/fm-watch-arm.sh", " M bin/fm-watch.sh",
                "?? bin/.fm-adopt/"), git(home, "status", "--porcelain").lines().stream().sorted().toList(),
                "nothing but adoption is left changed");
        // Already current: still adopted, said so.
        TestKit.Result current = adopt("--update");
        assertEquals(0, current.exit(), current.stderr());
        assertTrue(current.stdout().contains("fm-adopt: " + home + " is already at its upstream's "
                + target.substring(0, 12) + "\n"), current.stdout());
        assertTrue(current.stdout().endsWith(adoptedLine()), current.stdout());
    }

    @Test
    void updateIsRefusedWhileAWatcherRunsAndAFailedPullLeavesTheHomeAdopted() throws Exception {
        Path up = gitHome();
        assertEquals(0, adopt().exit());
        Path dev = pushUpstream(up, "a fix", fakeTool("fm-guard.sh") + "# upstream's fix\n", "updated\n");
        String local = head(home);

        // A bash watcher of the home (its original script, run directly) is running: refused, not signalled.
        Map<String, String> env = fixture.env("FM_HOME", home.toString());
        TestKit.Lines watcher = new TestKit.Lines(kit.start(List.of(bin.resolve(".fm-adopt/fm-watch.sh").toString()), env, home));
        long pid = watcher.process.pid();
        assertEquals("bash watcher pid " + pid, watcher.next(LIMIT));
        Map<String, String> adopted = homeWithoutState();
        TestKit.Result r = adopt("--update");
        assertEquals(1, r.exit(), r.stdout() + r.stderr());
        assertEquals("", r.stdout());
        assertEquals(1, stderrLines(r).size(), r.stderr());
        assertTrue(r.stderr().startsWith("fm-adopt: refusing: a watcher of " + home + " is running (pid " + pid + ", "), r.stderr());
        assertEquals(adopted, homeWithoutState(), "nothing changed");
        assertEquals(local, head(home));
        assertTrue(watcher.process.isAlive(), "never signalled");
        watcher.process.destroy();
        assertEquals(143, watcher.exit(LIMIT));
        // The test double, run from its kept place, logged its call beside itself.
        Files.delete(bin.resolve(".fm-adopt/calls.log"));

        // The home's branch has a commit upstream lacks, and upstream moved on: no fast-forward.
        Files.writeString(home.resolve("mine.txt"), "a local note\n");
        git(home, "add", "mine.txt");
        git(home, "commit", "-q", "-m", "a local note", "--", "mine.txt");
        String diverged = head(home);
        adopted = homeWithoutState();
        TestKit.Result f = adopt("--update");
        assertEquals(1, f.exit(), f.stdout() + f.stderr());
        assertEquals(1, stderrLines(f).size(), f.stderr());
        assertTrue(f.stderr().startsWith("fm-adopt: update failed: git pull --ff-only in " + home + ": "), f.stderr());
        assertTrue(f.stderr().contains("; " + home + " is adopted again, as before, at " + diverged.substring(0, 12)
                + ": make its branch a fast-forward of its upstream (git -C "), f.stderr());
        assertEquals(adopted, homeWithoutState(), "adopted again, byte for byte");
        assertEquals(diverged, head(home));
        assertNotEquals(head(dev), head(home));
    }

    @Test
    void anUpdateThatCannotAdoptAgainSaysTheHomeIsUnAdoptedAndWhatToRun() throws Exception {
        Path up = gitHome();
        assertEquals(0, adopt().exit());
        // Upstream drops the library the scripts source: the pulled home is no firstmate home to adopt.
        Path dev = kit.tempDir("fm-dev").resolve("dev");
        git(home, "clone", "-q", up.toString(), dev.toString());
        git(dev, "rm", "-q", "bin/fm-wake-lib.sh");
        git(dev, "commit", "-q", "-m", "library moved");
        git(dev, "push", "-q", "origin", "main");
        TestKit.Result u = adopt("--update");
        assertEquals(1, u.exit(), u.stdout() + u.stderr());
        assertEquals(1, stderrLines(u).size(), u.stderr());
        String cmd = "'" + TestKit.root().resolve("fm-adopt.java") + "'";
        assertTrue(u.stderr().startsWith("fm-adopt: updated " + home + " to " + head(dev).substring(0, 12)
                + ", but adopting it again failed (" + home + " is not a firstmate home: missing bin/fm-wake-lib.sh;"), u.stderr());
        assertTrue(u.stderr().endsWith(", so " + home + " is un-adopted (its bash scripts run): fix that, then run " + cmd
                + " --update --home '" + home.toString().replace("'", "'\\''") + "'\n"), u.stderr());
        assertEquals(head(dev), head(home));
        for (String s : SCRIPTS) {
            assertEquals(s.equals("fm-watch.sh") ? fakeWatcher() : fakeTool(s), Files.readString(bin.resolve(s)), s + " is its original");
        }
        assertFalse(Files.exists(bin.resolve(".fm-adopt")));
    }

    // ------------------------------------------------------------------ a running watcher

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
        TestKit.Result ps = kit.run(List.of("ps", "-p", Long.toString(peer.pid()), "-o", "lstart=", "-o", "command="),
                Map.of(), null, LIMIT);
        Path lock = Files.createDirectories(other.resolve("state/.watch.lock"));
        Files.writeString(lock.resolve("pid"), peer.pid() + "\n");
        Files.writeString(lock.resolve("fm-home"), other + "\n");
        Files.writeString(lock.resolve("watcher-path"), bin.resolve("fm-watch.sh") + "\n");
        Files.writeString(lock.resolve("pid-identity"), ps.stdout().stripLeading());
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
        TestKit.Result ps = kit.run(List.of("ps", "-p", Long.toString(gone.pid()), "-o", "lstart=", "-o", "command="),
                Map.of(), null, LIMIT);
        Path lock = Files.createDirectories(state.resolve(".watch.lock"));
        Files.writeString(lock.resolve("pid"), stranger.pid() + "\n");
        Files.writeString(lock.resolve("fm-home"), home + "\n");
        Files.writeString(lock.resolve("watcher-path"), bin.resolve("fm-watch.sh") + "\n");
        Files.writeString(lock.resolve("pid-identity"), ps.stdout().stripLeading());
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
        Files.writeString(lock.resolve("pid-identity"), ps.stdout().stripLeading());
        TestKit.Result r = adopt();
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(stranger.isAlive());
    }

    // ------------------------------------------------------------------ refusals

    @Test
    void aDirectoryThatIsNotAHomeOrHasALinkedScriptIsOneLineAndNothingChanges() throws Exception {
        Files.delete(bin.resolve("fm-wake-lib.sh"));
        Map<String, String> before = snapshot(home);
        TestKit.Result r = adopt();
        assertEquals(1, r.exit());
        assertEquals("fm-adopt: " + home + " is not a firstmate home: missing bin/fm-wake-lib.sh; nothing was changed\n",
                r.stderr());
        assertEquals(before, snapshot(home));
        Files.writeString(bin.resolve("fm-wake-lib.sh"), "fm_lib=1\n");
        Files.move(bin.resolve("fm-guard.sh"), home.resolve("guard-elsewhere.sh"));
        Files.createSymbolicLink(bin.resolve("fm-guard.sh"), home.resolve("guard-elsewhere.sh"));
        before = snapshot(home);
        r = adopt();
        assertEquals(1, r.exit());
        assertEquals(1, stderrLines(r).size(), r.stderr());
        assertTrue(r.stderr().startsWith("fm-adopt: bin/fm-guard.sh is not a regular file"), r.stderr());
        assertEquals(before, snapshot(home));
        // Usage errors exit 2, contradictory modes too.
        TestKit.Result u = kit.run(TestKit.command("fm-adopt.java", "--bogus"), Map.of(), null, LIMIT);
        assertEquals(2, u.exit());
        TestKit.Result both = kit.run(TestKit.command("fm-adopt.java", "--home", home.toString(), "--undo", "--update"),
                Map.of(), null, LIMIT);
        assertEquals(2, both.exit(), both.stderr());
        assertTrue(both.stderr().contains("--undo, --update are mutually exclusive"), both.stderr());
        // --update needs a git checkout: refused before anything changes.
        Files.delete(bin.resolve("fm-guard.sh"));
        Files.move(home.resolve("guard-elsewhere.sh"), bin.resolve("fm-guard.sh"));
        before = snapshot(home);
        TestKit.Result notGit = adopt("--update");
        assertEquals(1, notGit.exit(), notGit.stdout() + notGit.stderr());
        assertEquals(List.of("fm-adopt: cannot --update " + home + ": it is not the top of a git checkout; nothing was changed"),
                stderrLines(notGit));
        assertEquals(before, snapshot(home));
        TestKit.Result none = kit.run(TestKit.command("fm-adopt.java"), Map.of(), null, LIMIT);
        assertEquals(2, none.exit());
        assertEquals("fm-adopt: which home? pass --home <dir> or set FM_HOME (see --help)\n", none.stderr());
    }

    @Test
    void undoWithoutAKeptOriginalRefusesBeforeChangingAnything() throws Exception {
        assertEquals(0, adopt().exit());
        Files.delete(bin.resolve(".fm-adopt/fm-wake-drain.sh"));
        Map<String, String> before = snapshot(home);
        TestKit.Result u = adopt("--undo");
        assertEquals(1, u.exit());
        assertEquals(1, stderrLines(u).size(), u.stderr());
        assertTrue(u.stderr().startsWith("fm-adopt: cannot undo: bin/fm-wake-drain.sh is a shim but its original is not in"
                + " bin/.fm-adopt"), u.stderr());
        assertEquals(before, snapshot(home));
    }

    // ------------------------------------------------------------------ kill -9 at every moment

    @Test
    void aKillBetweenAnyTwoChangesOfAdoptLeavesEveryScriptAndAReRunFinishes() throws Exception {
        Files.writeString(bin.resolve(".fm-adopt.keep"), ""); // a foreign dot-file in bin/ stays as it is
        Tree original = Tree.of(home);
        TestKit.Result clean = adopt();
        assertEquals(0, clean.exit(), clean.stderr());
        Tree adopted = Tree.of(home);
        int moments = 0;
        for (int n = 1; ; n++) {
            original.restore(home);
            if (!killedAtStep(n)) break;
            moments++;
            assertEveryScriptInPlace(original, adopted, "adopt killed before change " + n);
            // Half the moments are finished by adopt, the other half taken back by undo.
            if (n % 2 == 1) {
                TestKit.Result r = adopt();
                assertEquals(0, r.exit(), "re-run after a kill before change " + n + ": " + r.stderr());
                assertEquals(adopted.snapshot, snapshot(home), "re-run after a kill before change " + n);
            } else {
                TestKit.Result r = adopt("--undo");
                assertEquals(0, r.exit(), "undo after a kill before change " + n + ": " + r.stderr());
                assertEquals(original.snapshot, snapshot(home), "undo after a kill before change " + n);
            }
        }
        // mkdir, then per script: link, rename, shim, rename; then the note's write and rename.
        assertEquals(1 + 4 * 4 + 2, moments);
    }

    @Test
    void aKillBetweenAnyTwoChangesOfUndoLeavesEveryScriptAndAReRunFinishes() throws Exception {
        Tree original = Tree.of(home);
        assertEquals(0, adopt().exit());
        Tree adopted = Tree.of(home);
        int moments = 0;
        for (int n = 1; ; n++) {
            adopted.restore(home);
            if (!killedAtStep(n, "--undo")) break;
            moments++;
            assertEveryScriptInPlace(original, adopted, "undo killed before change " + n);
            TestKit.Result r = adopt("--undo");
            assertEquals(0, r.exit(), "re-run after a kill before change " + n + ": " + r.stderr());
            assertEquals(original.snapshot, snapshot(home), "re-run after a kill before change " + n);
        }
        // The note, four renames, the directory.
        assertEquals(1 + 4 + 1, moments);
    }

    @Test
    void aKillBetweenAnyTwoChangesOfAnUndoThatKeepsACopyLosesNoCopyAndAReRunFinishes() throws Exception {
        assertEquals(0, adopt().exit());
        byte[] other = "#!/usr/bin/env bash\necho 'put here by git'\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Files.write(bin.resolve("fm-guard.sh"), other);
        Tree adopted = Tree.of(home);
        TestKit.Result clean = adopt("--undo");
        assertEquals(0, clean.exit(), clean.stderr());
        Map<String, String> undone = timeless(snapshot(home));
        assertTrue(undone.containsKey("bin/.fm-adopt/fm-guard.sh.kept-T"), undone.toString());
        int moments = 0;
        for (int n = 1; ; n++) {
            adopted.restore(home);
            if (!killedAtStep(n, "--undo")) break;
            moments++;
            assertNoCopyLost("undo killed before change " + n, other, adopted.files.get("bin/.fm-adopt/fm-guard.sh"));
            TestKit.Result r = adopt("--undo");
            assertEquals(0, r.exit(), "re-run after a kill before change " + n + ": " + r.stderr());
            assertEquals(undone, timeless(snapshot(home)), "re-run after a kill before change " + n);
        }
        // The note, three renames, the copy set aside (the directory stays, holding it).
        assertEquals(1 + 3 + 1, moments);
    }

    @Test
    void aKillBetweenAnyTwoChangesOfAnAdoptThatKeepsTheOlderCopyLosesNoCopyAndAReRunFinishes() throws Exception {
        assertEquals(0, adopt().exit());
        byte[] older = Files.readAllBytes(bin.resolve(".fm-adopt/fm-guard.sh"));
        byte[] newer = (fakeTool("fm-guard.sh") + "# newer\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Files.write(bin.resolve("fm-guard.sh"), newer);
        Tree start = Tree.of(home);
        TestKit.Result clean = adopt();
        assertEquals(0, clean.exit(), clean.stderr());
        Map<String, String> finished = timeless(snapshot(home));
        assertTrue(finished.containsKey("bin/.fm-adopt/fm-guard.sh.kept-T"), finished.toString());
        int moments = 0;
        for (int n = 1; ; n++) {
            start.restore(home);
            if (!killedAtStep(n)) break;
            moments++;
            assertNoCopyLost("adopt killed before change " + n, older, newer);
            TestKit.Result r = adopt();
            assertEquals(0, r.exit(), "re-run after a kill before change " + n + ": " + r.stderr());
            assertEquals(finished, timeless(snapshot(home)), "re-run after a kill before change " + n);
        }
        // Link, the older copy set aside, rename, the shim's write and rename (the note is already right).
        assertEquals(5, moments);
    }

    @Test
    void aKillAroundTheUpdatesPullLeavesTheHomeAdoptedOrUnAdoptedAndAReRunFinishes() throws Exception {
        Path up = gitHome();
        assertEquals(0, adopt().exit());
        byte[] older = Files.readAllBytes(bin.resolve(".fm-adopt/fm-guard.sh"));
        String fixed = fakeTool("fm-guard.sh") + "# upstream's fix\n";
        pushUpstream(up, "a fix", fixed, "updated\n");
        String target = git(up, "rev-parse", "main").stdout().strip();
        Tree adopted = Tree.of(home);
        // Undo's changes are the note, four renames and the directory; then the pull; then adopt's mkdir.
        for (int n : new int[] {6, 7, 8}) {
            adopted.restore(home);
            assertTrue(killedAtStep(n, "--update"), "--update made fewer than " + n + " changes");
            String when = "--update killed before change " + n;
            // After the pull the older script is upstream's history; the new one must be on disk.
            assertNoCopyLost(when, n <= 7 ? older : fixed.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            assertArrayEquals(n <= 7 ? adopted.files.get(".git/refs/heads/main") : (target + "\n").getBytes(),
                    Files.readAllBytes(home.resolve(".git/refs/heads/main")), when + ": the pull ran or not, whole");
            TestKit.Result r = adopt("--update");
            assertEquals(0, r.exit(), when + ", then re-run: " + r.stdout() + r.stderr());
            assertEquals(target, head(home), when);
            assertEquals(fixed, Files.readString(bin.resolve(".fm-adopt/fm-guard.sh")), when);
            assertTrue(adopt().stdout().contains("is already adopted"), when);
        }
    }

    /** Every script is there, every shim has its original kept, and each of {@code copies} is a file under bin/. */
    private void assertNoCopyLost(String when, byte[]... copies) throws IOException {
        Map<String, String> now = snapshot(home);
        for (String s : SCRIPTS) {
            assertTrue(Files.isRegularFile(bin.resolve(s)), when + ": bin/" + s + " is missing");
            if (Files.readString(bin.resolve(s)).startsWith("#!/bin/sh\n# fm-adopt shim:")) {
                assertTrue(Files.isRegularFile(bin.resolve(".fm-adopt").resolve(s)), when + ": the shim's original is not kept");
            }
        }
        for (byte[] c : copies) {
            String h = sha(c);
            assertTrue(now.entrySet().stream().anyMatch(e -> e.getKey().startsWith("bin/") && e.getValue().endsWith(" " + h)),
                    when + ": a copy is lost: " + now);
        }
    }

    /** Each script is there, and is its original (mode included) or a shim whose original is kept. */
    private void assertEveryScriptInPlace(Tree original, Tree adopted, String when) throws IOException {
        Map<String, String> now = snapshot(home);
        for (String s : SCRIPTS) {
            String key = "bin/" + s;
            String v = now.get(key);
            assertNotNull(v, when + ": " + key + " is missing");
            if (v.equals(original.snapshot.get(key))) continue;
            assertEquals(adopted.snapshot.get(key), v, when + ": " + key + " is neither its original nor the shim");
            assertEquals(original.snapshot.get(key), now.get("bin/.fm-adopt/" + s), when + ": the shim's original is not kept");
        }
    }

    /**
     * Runs fm-adopt under a debugger, stops it on entering its {@code n}th change and kills it
     * with SIGKILL there. False when the run ended before reaching it (it made fewer changes).
     */
    private boolean killedAtStep(int n, String... more) throws Exception {
        List<String> args = new ArrayList<>(List.of("--home", home.toString()));
        args.addAll(Arrays.asList(more));
        try (Debuggee d = Debuggee.start(kit, TestKit.command("fm-adopt.java", args.toArray(String[]::new)), Map.of())) {
            d.stopAt("Adopt", "step", n);
            d.go();
            if (!d.awaitStopOrExit()) {
                assertEquals(0, d.exit(), "the uninterrupted run failed: " + d.output() + d.err());
                return false;
            }
            // The stopped thread stays suspended: the kill lands before this change.
            d.process.destroyForcibly();
            assertEquals(137, d.exit());
            return true;
        }
    }

    /** A whole home's files with their bytes and modes, to put back between rounds. */
    record Tree(Map<String, String> snapshot, Map<String, byte[]> files) {
        static Tree of(Path root) throws IOException {
            Map<String, byte[]> files = new TreeMap<>();
            try (Stream<Path> s = Files.walk(root)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) files.put(root.relativize(p).toString(), Files.readAllBytes(p));
                }
            }
            return new Tree(AdoptTest.snapshot(root), files);
        }

        void restore(Path root) throws IOException {
            try (Stream<Path> s = Files.walk(root)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    if (!p.equals(root)) Files.delete(p);
                }
            }
            for (Map.Entry<String, String> e : snapshot.entrySet()) {
                if (e.getKey().isEmpty()) continue;
                Path p = root.resolve(e.getKey());
                String[] v = e.getValue().split(" ");
                if (v[0].equals("dir")) Files.createDirectories(p);
                else Files.write(p, files.get(e.getKey()));
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(v[1]));
            }
            assertEquals(snapshot, AdoptTest.snapshot(root));
        }
    }
}
