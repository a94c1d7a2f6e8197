import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * fm-adopt.java on a throwaway firstmate home (AdoptHome): the adopted scripts are called the
 * way the away-mode daemon and the home's tools call them, with the home's own advice, and
 * fm-status says the home is adopted; undo must give back every byte and mode, and never
 * deletes a kept original that differs from the script in place; a directory that is no home,
 * a linked script or a missing kept original is refused in one line before anything changes.
 * --update, a running watcher and a kill -9 between any two changes are proven by
 * AdoptUpdateTest, AdoptWatcherTest and AdoptKillTest.
 */
class AdoptTest extends AdoptHome {
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
}
