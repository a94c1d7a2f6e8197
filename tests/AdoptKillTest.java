import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * A kill -9 at every moment of fm-adopt.java on a throwaway firstmate home (AdoptHome): a
 * debugger stops it before each of its changes (adopt's, undo's, those of the paths that keep
 * a differing copy aside, and those around --update's pull) and SIGKILL lands there; every
 * script stays in place, no copy is lost, and a re-run (of adopt or undo) finishes.
 */
class AdoptKillTest extends AdoptHome {
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
        Map<String, String> undone = finishedKeepingTheGuardsCopy("--undo");
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
        Map<String, String> finished = finishedKeepingTheGuardsCopy();
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

    /**
     * The home after fm-adopt {@code args} ran uninterrupted, which must set a differing copy of
     * fm-guard.sh aside: what a re-run after each kill must end in (kept copies' times taken out).
     */
    private Map<String, String> finishedKeepingTheGuardsCopy(String... args) throws IOException {
        TestKit.Result clean = adopt(args);
        assertEquals(0, clean.exit(), clean.stderr());
        Map<String, String> finished = timeless(snapshot(home));
        assertTrue(finished.containsKey("bin/.fm-adopt/fm-guard.sh.kept-T"), finished.toString());
        return finished;
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
            return new Tree(AdoptHome.snapshot(root), files);
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
            assertEquals(snapshot, AdoptHome.snapshot(root));
        }
    }
}
