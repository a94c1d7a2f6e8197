import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/**
 * The fixture of the fm-adopt tests (AdoptTest, AdoptUpdateTest, AdoptWatcherTest,
 * AdoptKillTest): a throwaway firstmate home, four bash scripts and a library that record
 * how they were called (its fm-watch.sh a bash watcher of the home as docs/lock.md describes
 * it); how to run fm-adopt and the home's scripts on it, and how to compare it byte for byte
 * and mode for mode. Each test class extends it, so each test starts from a fresh home and a test's
 * body reads as if the home were its own (the tests live in the unnamed package, where a
 * shared static cannot be imported). Its name does not end in Test: tests/run.java runs
 * only the classes that do.
 */
abstract class AdoptHome {
    /** Generous: a shim starts JBang and then the command's own JVM, on a shared machine. */
    static final Duration LIMIT = Duration.ofSeconds(180);
    static final List<String> SCRIPTS = List.of("fm-watch.sh", "fm-watch-arm.sh", "fm-wake-drain.sh", "fm-guard.sh");
    /** Each script with its own mode, so a restored mode cannot be right by accident. */
    static final Map<String, String> MODES = Map.of("fm-watch.sh", "rwxr-xr-x", "fm-watch-arm.sh", "rwxr-x---",
            "fm-wake-drain.sh", "rwx------", "fm-guard.sh", "rwxrwxr-x");

    @AutoClose final TestKit kit = new TestKit();
    /** The throwaway home: {@code bin/} beside {@code state/}, knobs for a quick watcher. */
    TestKit.Home fixture;
    Path home;
    Path bin;
    Path state;

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

    static String fakeTool(String name) {
        return "#!/usr/bin/env bash\n"
                + "# firstmate's bin/" + name + " (a test double): records how it was called.\n"
                + "here=$(cd \"$(dirname \"$0\")\" && pwd -P)\n"
                + "{ printf '%s' '" + name + "'; printf ' [%s]' \"$@\"; printf '\\n'; } >> \"$here/../calls.log\"\n"
                + "echo 'bash " + name + "'\n";
    }

    /** A bash watcher of this home as docs/lock.md describes it: its lock, metadata, ps identity and beacon. */
    static String fakeWatcher() {
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

    TestKit.Result adopt(String... args) throws IOException {
        List<String> a = new ArrayList<>(List.of("--home", home.toString()));
        a.addAll(List.of(args));
        return kit.run(TestKit.command("fm-adopt.java", a.toArray(String[]::new)), Map.of(), null, LIMIT);
    }

    /** A script of the home, run by path the way the home's tools run it (no FM_HOME in the environment). */
    TestKit.Result script(String name, Map<String, String> env, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(bin.resolve(name).toString()));
        cmd.addAll(List.of(args));
        return kit.run(cmd, env, kit.tempDir("fm-elsewhere"), LIMIT);
    }

    long lockPid() {
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

    Map<String, String> homeWithoutState() throws IOException {
        Map<String, String> m = snapshot(home);
        m.keySet().removeIf(k -> k.equals("state") || k.startsWith("state/") || k.equals(".git") || k.startsWith(".git/"));
        return m;
    }

    /** Adopt's last line: how to undo, and that the home's self-update skips it until --update. */
    String adoptedLine() {
        String cmd = "'" + TestKit.root().resolve("fm-adopt.java") + "'";
        String h = "'" + home.toString().replace("'", "'\\''") + "'";
        return "fm-adopt: adopted " + home + "; undo with: " + cmd + " --undo --home " + h
                + "; firstmate's self-update (bin/fm-update.sh) skips this home while adopted, so update it with: "
                + cmd + " --update --home " + h + "\n";
    }

    static String sha(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<String> stderrLines(TestKit.Result r) {
        return r.stderr().isEmpty() ? List.of() : List.of(r.stderr().split("\n"));
    }

    /** The one copy kept aside for {@code script} under a {@code .kept-<UTC time>} name. */
    String keptName(String script) throws IOException {
        List<String> kept = listNames(bin.resolve(".fm-adopt")).stream().filter(n -> KEPT.matcher(n).matches()
                && n.startsWith(script + ".kept-")).toList();
        assertEquals(1, kept.size(), "kept copies of " + script + ": " + kept);
        return kept.get(0);
    }

    static final Pattern KEPT = Pattern.compile(".+\\.kept-\\d{8}T\\d{6}Z(-\\d+)?");

    static List<String> listNames(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Kept copies' names with their time taken out, so runs at different moments compare equal. */
    static Map<String, String> timeless(Map<String, String> m) {
        Map<String, String> c = new TreeMap<>();
        m.forEach((k, v) -> c.put(k.replaceAll("\\.kept-\\d{8}T\\d{6}Z(-\\d+)?$", ".kept-T"), v));
        return c;
    }

    static final Map<String, String> GIT_ENV = Map.of("GIT_AUTHOR_NAME", "fm test", "GIT_AUTHOR_EMAIL",
            "fm@example.invalid", "GIT_COMMITTER_NAME", "fm test", "GIT_COMMITTER_EMAIL", "fm@example.invalid",
            "GIT_CONFIG_NOSYSTEM", "1", "LC_ALL", "C");

    /** git in {@code dir}, which must succeed. */
    TestKit.Result git(Path dir, String... args) throws IOException {
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
    Path gitHome() throws IOException {
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

    /** A clone of the upstream to push from, as firstmate's maintainers do. */
    Path pushUpstream(Path up, String message, String guard, String agents) throws IOException {
        Path dev = kit.tempDir("fm-dev").resolve("dev");
        git(home, "clone", "-q", up.toString(), dev.toString());
        if (guard != null) Files.writeString(dev.resolve("bin/fm-guard.sh"), guard);
        Files.writeString(dev.resolve("AGENTS.md"), agents);
        git(dev, "commit", "-q", "-am", message);
        git(dev, "push", "-q", "origin", "main");
        return dev;
    }

    String head(Path repo) throws IOException {
        return git(repo, "rev-parse", "HEAD").stdout().strip();
    }
}
