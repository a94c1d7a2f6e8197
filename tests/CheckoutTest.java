import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A command knows its checkout from itself, however it was started, with FM_HOME naming a home
 * elsewhere: by its path, by a symlink on PATH, by this checkout's ./jbang with the script's
 * path (run implicit or explicit), by the catalog alias from a directory inside the checkout,
 * and by `jbang app install` (with this checkout's ./jbang as the `jbang` on PATH). Each is
 * checked through fm-status's next line, which names the checkout's arm by its path.
 */
class CheckoutTest {
    private static final Duration LIMIT = Duration.ofSeconds(180);

    @AutoClose private final TestKit kit = new TestKit();
    private TestKit.Home fixture;
    private Path root;
    private String armAdvice;

    @BeforeEach
    void setUp() throws Exception {
        fixture = new TestKit.Home(kit, "fm-checkout");
        root = TestKit.root();
        Files.writeString(fixture.state.resolve("t1.meta"), "kind=ship\n");
        armAdvice = "next: FM_HOME=" + ShellWord.of(fixture.home) + " " + ShellWord.of(root.resolve("fm-watch-arm.java")) + "  # ";
    }

    private void assertPlaced(TestKit.Result r, String how) {
        List<String> l = r.lines();
        assertFalse(l.isEmpty(), how + ": no output; stderr: " + r.stderr());
        assertTrue(l.get(0).startsWith("supervision: DOWN - 1 task(s) in flight"), how + ": " + r.stdout() + r.stderr());
        assertTrue(l.get(l.size() - 1).startsWith(armAdvice), how + ": " + l.get(l.size() - 1));
    }

    private TestKit.Result run(List<String> cmd, Path cwd, String... kv) throws Exception {
        return kit.run(cmd, fixture.env(kv), cwd, LIMIT);
    }

    @Test
    void byItsPathAndBySymlinkOnPath() throws Exception {
        assertPlaced(run(List.of(root.resolve("fm-status.java").toString()), Path.of("/")), "by path");
        Path bin = Files.createDirectory(kit.tempDir("fm-path").resolve("bin"));
        Files.createSymbolicLink(bin.resolve("fm-status"), root.resolve("fm-status.java"));
        assertPlaced(run(List.of("sh", "-c", "fm-status"), Path.of("/"), "PATH", bin + ":" + System.getenv("PATH")),
                "by a symlink on PATH");
    }

    @Test
    void byThisCheckoutsJbangWithTheScriptsPath() throws Exception {
        String jbang = root.resolve("jbang").toString();
        String script = root.resolve("fm-status.java").toString();
        assertPlaced(run(List.of(jbang, script), Path.of("/")), "./jbang <abs path>");
        assertPlaced(run(List.of(jbang, "run", script), Path.of("/")), "./jbang run <abs path>");
        assertPlaced(run(List.of(jbang, "--quiet", script), Path.of("/")), "./jbang --quiet <abs path>");
        // From the checkout itself, by a relative path.
        assertPlaced(run(List.of(jbang, "fm-status.java"), root), "./jbang fm-status.java");
    }

    /**
     * The real `jbang app install`, with this checkout's ./jbang as the `jbang` on PATH. It writes
     * its launcher, and the PATH line it adds to shell start files, under a scratch HOME and
     * JBANG_DIR; the build cache and the JBang jar are the user's, so nothing is fetched again.
     */
    @Test
    void byJbangAppInstall() throws Exception {
        Path scratch = kit.tempDir("fm-app");
        Path bin = Files.createDirectory(scratch.resolve("bin"));
        Files.createSymbolicLink(bin.resolve("jbang"), root.resolve("jbang"));
        Path jbangDir = scratch.resolve("jbang-dir");
        String home = System.getProperty("user.home");
        String cache = System.getenv().getOrDefault("JBANG_CACHE_DIR", home + "/.jbang/cache");
        String repo = System.getenv().getOrDefault("MAVEN_REPO_LOCAL", home + "/.m2/repository");
        String path = jbangDir.resolve("bin") + ":" + bin + ":" + System.getenv("PATH");
        String[] env = {"HOME", scratch.toString(), "JBANG_DIR", jbangDir.toString(), "JBANG_CACHE_DIR", cache,
                "MAVEN_REPO_LOCAL", repo, "PATH", path};

        TestKit.Result install = run(List.of(bin.resolve("jbang").toString(), "app", "install", "--name", "fm-status",
                root.resolve("fm-status.java").toString()), Path.of("/"), env);
        assertEquals(0, install.exit(), install.stderr());
        assertTrue(Files.isExecutable(jbangDir.resolve("bin/fm-status")), install.stderr());
        assertPlaced(run(List.of("sh", "-c", "fm-status"), Path.of("/"), env), "by jbang app install");
    }

    @Test
    void byTheCatalogAliasFromInsideTheCheckout() throws Exception {
        assertPlaced(run(List.of(root.resolve("jbang").toString(), "fm-status"), root), "alias in the checkout");
        assertPlaced(run(List.of(root.resolve("jbang").toString(), "fm-status"), root.resolve("lib")), "alias in lib/");
    }

    /** Nothing names the checkout (JBang's own start, elsewhere): one line on what works, no circular FM_HOME. */
    @Test
    void startedWithNoWayToTellSaysWhatWorks() throws Exception {
        List<String> cmd = new ArrayList<>(TestKit.command("fm-guard.java"));
        cmd.removeIf(a -> a.startsWith("-Dfm.script="));
        TestKit.Result g = kit.run(cmd, fixture.env(), Path.of("/"), LIMIT);
        assertEquals(0, g.exit());
        assertEquals("fm-guard: " + FmHome.UNPLACED + " (watcher state unknown)\n", g.stderr());
        assertFalse(g.stderr().contains("FM_HOME"), g.stderr());
    }
}
