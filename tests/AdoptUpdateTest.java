import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * fm-adopt.java --update on a throwaway firstmate home that is a clone tracking an upstream
 * (AdoptHome): it fast-forwards the adopted home and adopts it again; while a watcher of the
 * home runs it is refused and the watcher never signalled; a failed pull leaves the home
 * adopted as before; a pull after which adopting fails says the home is un-adopted and what
 * to run. A kill around the pull is AdoptKillTest's.
 */
class AdoptUpdateTest extends AdoptHome {
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
}
