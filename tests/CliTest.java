import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * The command-line surface every command shares: --help, --version, usage errors, and a home
 * that is not there, which every command refuses instead of creating it or calling it idle.
 */
class CliTest {
    static final Duration LIMIT = Duration.ofSeconds(60);
    /** Every command a user runs, with the name --version prints. */
    static final Map<String, String> COMMANDS = Map.of(
            "fm-watch.java", "fm-watch",
            "fm-watch-arm.java", "fm-watch-arm",
            "fm-guard.java", "fm-guard",
            "fm-wake-drain.java", "fm-wake-drain",
            "fm-status.java", "fm-status",
            "fm-adopt.java", "fm-adopt",
            "FmLock.java", "FmLock");

    @AutoClose private final TestKit kit = new TestKit();

    private TestKit.Result run(String script, Map<String, String> env, String... args) throws IOException {
        return kit.run(TestKit.command(script, args), env, kit.tempDir("fm-cli-cwd"), LIMIT);
    }

    /** An existing home, so that nothing here depends on a home being found. */
    private Map<String, String> homeEnv() throws IOException {
        return new TestKit.Home(kit, "fm-cli").env;
    }

    @Test
    void everyCommandHasOneHelpOneVersionAndRefusesUnknownOptions() throws Exception {
        Map<String, String> env = homeEnv();
        List<String> versions = new ArrayList<>();
        for (Map.Entry<String, String> c : COMMANDS.entrySet()) {
            String script = c.getKey();
            for (String flag : List.of("--help", "-h")) {
                TestKit.Result help = run(script, env, flag);
                assertEquals(0, help.exit(), script + " " + flag + ": " + help.stderr());
                List<String> lines = help.lines();
                assertTrue(lines.size() >= 2 && lines.get(0).startsWith("Usage: " + script + " "),
                        script + " " + flag + " must start with its usage line:\n" + help.stdout());
                assertFalse(lines.get(1).isBlank() || lines.get(1).startsWith(" "),
                        script + ": the second line says what it does:\n" + help.stdout());
                assertTrue(help.stdout().contains("FM_HOME"), script + ": help names FM_HOME:\n" + help.stdout());
                assertEquals("", help.stderr(), script);
            }
            TestKit.Result version = run(script, env, "--version");
            assertEquals(0, version.exit(), script + ": " + version.stderr());
            assertTrue(version.stdout().matches(c.getValue() + " \\S+\n"), script + ": " + version.stdout());
            versions.add(version.stdout().substring(c.getValue().length() + 1));

            TestKit.Result bad = run(script, env, "--bogus");
            assertEquals("", bad.stdout(), script + ": a usage error prints nothing on stdout");
            assertTrue(bad.stderr().contains("--bogus"), script + " names the option: " + bad.stderr());
            assertFalse(bad.stderr().contains("Exception"), script + ": " + bad.stderr());
            // The guard runs before every step of a harness: it says so, and still exits 0.
            assertEquals(script.equals("fm-guard.java") ? 0 : 2, bad.exit(), script + ": " + bad.stderr());
        }
        assertEquals(1, versions.stream().distinct().count(), "one version for all: " + versions);
    }

    @Test
    void attachAndRestartTogetherAreAUsageError() throws Exception {
        TestKit.Home h = new TestKit.Home(kit, "fm-cli-both").set("FM_HEARTBEAT", "1"); // an arm that starts ends soon
        TestKit.Result r = run("fm-watch-arm.java", h.env, "--attach", "--restart");
        assertEquals(2, r.exit(), r.stderr());
        assertEquals("", r.stdout(), "no status line: nothing was looked at");
        assertTrue(r.stderr().startsWith("fm-watch-arm: --attach and --restart") && r.stderr().contains("Usage: "), r.stderr());
        assertFalse(Files.exists(h.state.resolve(".watch.lock"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void aHomeThatDoesNotExistIsRefusedByEveryCommandAndNeverCreated() throws Exception {
        Path parent = kit.tempDir("fm-cli-typo");
        Path nope = parent.resolve("nope");
        Map<String, String> env = new HashMap<>(homeEnv());
        env.put("FM_HOME", nope.toString());
        env.put("FM_ARM_CONFIRM_TIMEOUT", "2");

        TestKit.Result status = run("fm-status.java", env);
        assertEquals(1, status.exit(), status.stdout());
        assertTrue(status.lines().get(0).startsWith("supervision: BLOCKED - the home " + nope + " (FM_HOME) does not exist; "),
                status.stdout());
        assertTrue(status.lines().get(status.lines().size() - 1).startsWith("next: ls -la " + parent + "  # "), status.stdout());
        TestKit.Result json = run("fm-status.java", env, "--json");
        assertEquals(1, json.exit());
        assertTrue(json.stdout().contains("\"verdict\":\"BLOCKED\"") || json.stdout().contains("\"verdict\": \"BLOCKED\""),
                json.stdout());

        for (String script : List.of("fm-wake-drain.java", "fm-watch.java", "fm-watch-arm.java", "fm-guard.java")) {
            TestKit.Result r = run(script, env);
            String line = BadInputTest.oneLine(r.stderr());
            assertTrue(line.contains(nope + " (FM_HOME) does not exist"), script + ": " + line);
            assertEquals(script.equals("fm-guard.java") ? 0 : 1, r.exit(), script + ": " + r.stderr());
            assertEquals(script.equals("fm-watch-arm.java") ? "watcher: FAILED - no live watcher with a fresh beacon\n" : "",
                    r.stdout(), script);
        }
        TestKit.Result adopt = run("fm-adopt.java", env, "--home", nope.toString());
        assertEquals(1, adopt.exit(), adopt.stderr());
        assertTrue(BadInputTest.oneLine(adopt.stderr()).contains(nope + " (--home) does not exist"), adopt.stderr());
        assertFalse(Files.exists(nope, LinkOption.NOFOLLOW_LINKS), "a command created the mistyped home");

        // The bash tools' name for the home is checked the same way.
        Map<String, String> root = new HashMap<>(env);
        root.remove("FM_HOME");
        root.put("FM_ROOT_OVERRIDE", nope.toString());
        TestKit.Result drain = run("fm-wake-drain.java", root);
        assertEquals(1, drain.exit());
        assertTrue(drain.stderr().contains(nope + " (FM_ROOT_OVERRIDE) does not exist"), drain.stderr());

        // A file where the home should be is not a home either.
        Path file = Files.writeString(parent.resolve("a-file"), "x\n");
        env.put("FM_HOME", file.toString());
        TestKit.Result notDir = run("fm-status.java", env);
        assertEquals(1, notDir.exit());
        assertTrue(notDir.lines().get(0).contains(file + " (FM_HOME) is not a directory"), notDir.stdout());
        assertFalse(Files.exists(nope, LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void aStateOverrideInAMissingDirectoryIsRefusedButAMissingStateIsCreated() throws Exception {
        Path home = kit.tempDir("fm-cli-home");
        Map<String, String> env = new HashMap<>(homeEnv());
        env.put("FM_HOME", home.toString());
        Path typo = home.resolve("no-such-dir/state");
        env.put("FM_STATE_OVERRIDE", typo.toString());
        TestKit.Result drain = run("fm-wake-drain.java", env);
        assertEquals(1, drain.exit(), drain.stderr());
        assertTrue(BadInputTest.oneLine(drain.stderr()).contains(typo.getParent() + " (FM_STATE_OVERRIDE) does not exist"),
                drain.stderr());
        assertFalse(Files.exists(typo.getParent()));

        // An existing home without state/ (a fresh one): the drain creates it, as the bash tools do.
        env.remove("FM_STATE_OVERRIDE");
        TestKit.Result fresh = run("fm-wake-drain.java", env);
        assertEquals(0, fresh.exit(), fresh.stderr());
        assertTrue(Files.isDirectory(home.resolve("state")));
        TestKit.Result idle = run("fm-status.java", env);
        assertEquals(0, idle.exit(), idle.stdout());
        assertTrue(idle.stdout().startsWith("supervision: idle"), idle.stdout());
    }

    @Test
    void theArmSaysWhenItsWatcherHasNoTaskToSupervise() throws Exception {
        TestKit.Home h = new TestKit.Home(kit, "fm-cli-empty").set("FM_POLL", "0.2", "FM_HEARTBEAT", "3600",
                "FM_CHECK_INTERVAL", "3600");
        TestKit.Lines empty = h.lines("fm-watch-arm.java");
        assertEquals("watcher: started pid=" + empty.process.pid() + " (beacon fresh; no task in flight)", empty.next(LIMIT),
                empty.err());
        empty.process.destroy();
        assertEquals(143, empty.exit(LIMIT));

        h.write("t.meta", "window=fleet:t\n");
        TestKit.Lines busy = h.lines("fm-watch-arm.java");
        assertEquals("watcher: started pid=" + busy.process.pid() + " (beacon fresh)", busy.next(LIMIT), busy.err());
    }

    @Test
    void theTestRunnerRefusesARegexThatMatchesNoClassAndListsThem() throws Exception {
        Path root = TestKit.root();
        TestKit.Result none = kit.run(List.of(root.resolve("jbang").toString(), "tests/run.java", "NoSuchClassAnywhere"),
                Map.of(), root, Duration.ofMinutes(3));
        assertEquals(2, none.exit(), none.stdout() + none.stderr());
        assertTrue(none.stderr().contains("no test class matches NoSuchClassAnywhere"), none.stderr());
        assertFalse(none.stdout().contains("passed"), none.stdout());
        TestKit.Result list = kit.run(List.of(root.resolve("jbang").toString(), "tests/run.java", "--list"),
                Map.of(), root, Duration.ofMinutes(3));
        assertEquals(0, list.exit(), list.stderr());
        assertTrue(list.lines().contains("CliTest") && list.lines().contains("ArmTest"), list.stdout());
        assertFalse(list.stdout().contains("passed"), list.stdout());
    }
}
