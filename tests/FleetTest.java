import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * fm-status --fleet: this home and every secondmate home its data/secondmates.md registers,
 * one verdict line each, the next step of the worst, and its exit. A real watcher supervises
 * one home, another has a task and no watcher, a third is gone, a fourth is no firstmate home,
 * and one registry line cannot be read: each is its own line, and nothing is written anywhere.
 */
class FleetTest {
    private static final Duration LIMIT = Duration.ofSeconds(120);

    @AutoClose private final TestKit kit = new TestKit();
    private final TestKit.Home self = kit.home("fm-fleet-self", TestKit.QUIET);

    private static String entry(String id, String summary, Path home) {
        return "- " + id + " - " + summary + " (home: " + home + "; scope: the " + id + " repos; projects: p1, p2; added 2025-03-01)";
    }

    @Test
    void theFleetAtAGlanceWithOneSupervisedOneDownOneMissing() throws Exception {
        TestKit.Home alpha = new TestKit.Home(kit, kit.tempDir("fm-fleet").resolve("alpha home"));
        alpha.env.putAll(TestKit.QUIET);
        Files.writeString(alpha.state.resolve("a1.meta"), "kind=ship\n");
        TestKit.Lines watcher = alpha.lines("fm-watch-arm.java");
        long pid = watcher.process.pid();
        assertTrue(watcher.next(LIMIT).startsWith("watcher: started pid=" + pid), watcher.err.toString());

        TestKit.Home beta = new TestKit.Home(kit, "fm-fleet-beta");
        Files.writeString(beta.state.resolve("b1.meta"), "kind=ship\n");
        Files.writeString(beta.state.resolve("b2.meta"), "kind=ship\n");
        Path gone = kit.tempDir("fm-fleet-gone").resolve("never-created");
        Path plain = kit.tempDir("fm-fleet-plain");

        Path data = Files.createDirectories(self.home.resolve("data"));
        Path registry = Files.writeString(data.resolve("secondmates.md"), String.join("\n",
                "# Secondmates",
                "",
                entry("alpha", "ships the alpha fleet", alpha.home),
                entry("beta", "ships (beta)", beta.home),
                entry("gamma", "was here", gone),
                "- half a line with no home",
                entry("delta", "just a directory", plain),
                "") + "\n");
        Map<String, String> before = StatusTest.snapshot(beta.state);
        Map<String, String> selfBefore = StatusTest.snapshot(self.home);

        TestKit.Result r = self.run("fm-status.java", "--fleet");
        assertEquals(1, r.exit(), r.stdout() + r.stderr());
        assertEquals("", r.stderr());
        List<String> l = r.lines();
        assertEquals("fleet: this home and 5 registered in " + registry, l.get(0), r.stdout());
        assertTrue(l.get(1).startsWith("self " + self.home + " idle - no task in flight"), l.get(1));
        assertTrue(l.get(2).startsWith("alpha " + ShellWord.of(alpha.home) + " ok - this home's watcher pid " + pid + " is healthy"),
                l.get(2));
        assertTrue(l.get(3).startsWith("beta " + beta.home + " DOWN - 2 task(s) in flight and no live watcher"), l.get(3));
        assertTrue(l.get(4).startsWith("gamma " + gone + " MISSING - "), l.get(4));
        assertTrue(l.get(5).startsWith("? " + registry + ":6 UNREADABLE - "), l.get(5));
        assertTrue(l.get(5).contains("half a line with no home"), l.get(5));
        assertTrue(l.get(6).startsWith("delta " + plain + " NOT-A-HOME - "), l.get(6));
        assertEquals("next: FM_HOME=" + beta.home + " " + TestKit.root().resolve("fm-watch-arm.java")
                + "  # beta: as the harness-tracked background task, never a shell &", l.get(7));
        assertEquals(8, l.size(), r.stdout());

        Map<String, Object> o = StatusTest.Json.object(self.run("fm-status.java", "--fleet", "--json").stdout().strip());
        assertEquals(1.0, o.get("exit"));
        assertEquals("beta", o.get("worst"));
        List<?> homes = (List<?>) o.get("homes");
        assertEquals(6, homes.size(), o.toString());
        Map<?, ?> a = (Map<?, ?>) homes.get(1);
        assertEquals("alpha", a.get("id"));
        assertEquals("ok", a.get("verdict"));
        assertEquals(alpha.home.toString(), a.get("home"));
        assertEquals(1.0, ((Map<?, ?>) a.get("status")).get("tasks"));
        assertEquals("MISSING", ((Map<?, ?>) homes.get(3)).get("verdict"));

        // Read-only: nothing written in this home or the others, the missing one not created.
        assertEquals(before, StatusTest.snapshot(beta.state));
        assertEquals(selfBefore, StatusTest.snapshot(self.home));
        assertFalse(Files.exists(gone, LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(plain.resolve("state")));
        assertTrue(watcher.process.isAlive());
    }

    @Test
    void withoutARegistryTheFleetIsThisHomeAlone() throws Exception {
        TestKit.Result r = self.run("fm-status.java", "--fleet");
        assertEquals(0, r.exit(), r.stdout() + r.stderr());
        List<String> l = r.lines();
        assertEquals("fleet: this home and 0 registered (no " + self.home.resolve("data/secondmates.md") + ")", l.get(0));
        assertTrue(l.get(1).startsWith("self " + self.home + " idle - "), l.get(1));
        assertEquals(2, l.size(), r.stdout());
        TestKit.Result both = self.run("fm-status.java", "--fleet", "--history");
        assertEquals(2, both.exit(), both.stdout());
    }
}
