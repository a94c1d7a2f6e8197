import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Long waits are explained to a person at a terminal, once, on stderr; never on stdout, and never
 * when stderr is not a terminal (agents parse these streams). The terminal is a real
 * pseudo-terminal: each command runs under util-linux `script`, its stdout (or stderr) sent to a
 * file by the shell, so what the terminal shows is exactly the other stream.
 */
class WaitNoticeTest {
    static final Duration LIMIT = Duration.ofSeconds(90);

    @AutoClose private final TestKit kit = new TestKit();
    private final TestKit.Home fixture = kit.home("fm-notice", LivenessTest.KNOBS);

    @BeforeEach
    void setUp() throws IOException {
        fixture.write("t.meta", "window=fleet:t\n");
    }

    /** {@code cmd} as one shell word each, for `script -c`. */
    static String shell(List<String> cmd) {
        return cmd.stream().map(a -> "'" + a.replace("'", "'\\''") + "'").collect(Collectors.joining(" "));
    }

    /**
     * Runs {@code cmd} under a pseudo-terminal; {@code redirect} (a shell redirection such as
     * {@code >file}) takes one stream off it. Returns what the terminal showed, carriage returns dropped.
     */
    private TestKit.Result onTerminal(List<String> cmd, String redirect, Map<String, String> env, Path cwd) throws IOException {
        TestKit.Result r = kit.run(List.of("script", "-qefc", "exec " + shell(cmd) + " " + redirect, "/dev/null"), env, cwd, LIMIT);
        return new TestKit.Result(r.exit(), r.stdout().replace("\r", ""), r.stderr());
    }

    /** A watcher of this home frozen (SIGSTOP) until its beacon is stale: the next arm must wait, then replace it. */
    private Process frozenWatcher() throws Exception {
        TestKit.Lines first = fixture.lines("fm-watch-arm.java");
        assertTrue(first.next(LIMIT).startsWith("watcher: started pid=" + first.process.pid() + " "), first.err());
        assertEquals(0, new ProcessBuilder("kill", "-STOP", Long.toString(first.process.pid())).start().waitFor());
        Path beacon = fixture.state.resolve(".last-watcher-beat");
        assertTrue(TestKit.waitFor(Duration.ofSeconds(20),
                () -> StateFiles.age(beacon).orElse(Duration.ZERO).toMillis() >= 2500));
        return first.process;
    }

    /** The replacing arm ends at its first heartbeat, a few seconds after it started. */
    private Map<String, String> quickWake() {
        return fixture.env("FM_HEARTBEAT", "3");
    }

    /** The arm that replaces a frozen watcher, on a terminal with {@code redirect}; it must exit 0. */
    private TestKit.Result replacingArm(String redirect) throws IOException {
        TestKit.Result shown = onTerminal(TestKit.command("fm-watch-arm.java"), redirect, quickWake(), fixture.home);
        assertEquals(0, shown.exit(), shown.stdout());
        return shown;
    }

    @Test
    void anArmOnATerminalSaysWhatItWaitsForOnStderrOnly() throws Exception {
        Process frozen = frozenWatcher();
        Path out = fixture.home.resolve("arm.out");
        TestKit.Result shown = replacingArm(">'" + out + "'");
        List<String> terminal = shown.stdout().lines().toList();
        assertEquals(List.of(
                "waiting up to 2 s for pid " + frozen.pid() + "'s beacon\u2026",
                "stopping pid " + frozen.pid() + ": TERM, then KILL if it is still running after 5 s\u2026"),
                terminal, "each wait said once, on stderr");
        List<String> stdout = Files.readAllLines(out);
        assertTrue(stdout.size() == 3 && stdout.get(0).startsWith("watcher: replacing wedged pid=" + frozen.pid() + " ")
                && stdout.get(1).startsWith("watcher: started pid=") && stdout.get(2).equals("heartbeat"),
                "stdout carries the status lines only: " + stdout);
    }

    @Test
    void theSignalLingerIsAnnouncedOnATerminal() throws Exception {
        Path out = fixture.home.resolve("arm.out");
        Process arm = kit.start(List.of("script", "-qefc", "exec " + shell(TestKit.command("fm-watch-arm.java"))
                + " >'" + out + "'", "/dev/null"), fixture.env("FM_SIGNAL_GRACE", "2"), fixture.home);
        assertTrue(TestKit.waitFor(LIMIT, () -> {
            try {
                return Files.exists(out) && Files.readString(out).startsWith("watcher: started pid=");
            } catch (IOException e) {
                return false;
            }
        }), "the arm never said started");
        fixture.write("t.status", "done\n");
        TestKit.Result shown = TestKit.finish(arm, LIMIT);
        assertEquals(0, shown.exit(), shown.stdout());
        assertEquals("a status file changed; waiting 2 s (FM_SIGNAL_GRACE) for more before the wake\u2026\n",
                shown.stdout().replace("\r", ""));
        List<String> stdout = Files.readAllLines(out);
        assertTrue(stdout.size() == 2 && stdout.get(1).startsWith("signal: ") && stdout.get(1).endsWith("t.status"),
                "stdout carries the status and reason lines only: " + stdout);
    }

    @Test
    void anArmWhoseStderrIsNotATerminalSaysNothingExtra() throws Exception {
        // stdin and stdout on a terminal, stderr to a file: System.console() would say "a terminal" here.
        Process frozen = frozenWatcher();
        Path err = fixture.home.resolve("arm.err");
        TestKit.Result shown = replacingArm("2>'" + err + "'");
        assertEquals("", Files.readString(err), "stderr is a file: no notes");
        assertTrue(shown.stdout().startsWith("watcher: replacing wedged pid=" + frozen.pid() + " "), shown.stdout());

        // And with every stream a pipe, as agents run it.
        TestKit.Lines first = fixture.lines("fm-watch-arm.java", "--restart");
        assertTrue(first.next(LIMIT).startsWith("watcher: started pid=" + first.process.pid() + " "), first.err());
        TestKit.Result piped = kit.run(TestKit.command("fm-watch-arm.java", "--restart"), quickWake(), fixture.home, LIMIT);
        assertEquals(0, piped.exit(), piped.stderr());
        assertEquals("", piped.stderr());
    }

    @Test
    void theFirstBuildIsAnnouncedOnATerminalOnly() throws Exception {
        Path c = kit.tempDir("fm-notice-checkout");
        Path root = TestKit.root();
        Files.createDirectories(c.resolve("launch"));
        Files.copy(root.resolve("launch/launch.sh"), c.resolve("launch/launch.sh"));
        Files.copy(root.resolve("launch/LaunchCache.java"), c.resolve("launch/LaunchCache.java"));
        executable(Files.writeString(c.resolve("jbang"), "#!/bin/sh\nexec '" + root.resolve("jbang") + "' \"$@\"\n"));
        String firstLine = Files.readAllLines(root.resolve("fm-guard.java")).get(0);
        Path probe = executable(Files.writeString(c.resolve("fm-probe.java"), firstLine
                + "\n//JAVA 17+\nclass FmProbe { public static void main(String[] a) { System.out.println(\"probe 1\"); } }\n"));
        Path out = c.resolve("probe.out");

        TestKit.Result first = onTerminal(List.of(probe.toString()), ">'" + out + "'", Map.of(), c);
        assertEquals(0, first.exit(), first.stdout());
        assertEquals("building fm-probe.java (first run)\u2026\n", first.stdout(), "said once, on the terminal");
        assertEquals("probe 1\n", Files.readString(out));
        assertTrue(Files.isRegularFile(c.resolve(".fm-launch-2/fm-probe.java.sh")), "the build was cached");

        TestKit.Result current = onTerminal(List.of(probe.toString()), ">'" + out + "'", Map.of(), c);
        assertEquals("", current.stdout(), "a current build runs without a word");

        // An edit rebuilds; with stderr a file (stdout still on the terminal) nothing is said.
        Files.writeString(probe, Files.readString(probe).replace("probe 1", "probe 2"));
        Path err = c.resolve("probe.err");
        TestKit.Result edited = onTerminal(List.of(probe.toString()), "2>'" + err + "'", Map.of(), c);
        assertEquals("probe 2\n", edited.stdout());
        assertEquals("", Files.readString(err));
    }

    private static Path executable(Path p) throws IOException {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        return p;
    }
}
