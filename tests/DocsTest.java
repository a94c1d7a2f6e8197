import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps the documents true to the repository: every document a source cites exists, with the
 * heading it names; nothing points outside the repository or at a tracker; and README's quick
 * start does what it promises when pasted as written.
 */
class DocsTest {
    private static final Path ROOT = TestKit.root();

    /**
     * A reference: a relative path ending in {@code .md} (not part of a longer word or path),
     * then optionally a {@code #anchor}, then optionally (after a closing parenthesis, as in a
     * Markdown link) a quoted heading, as in {@code docs/lock.md "Acquire, once"}.
     */
    private static final Pattern REFERENCE = Pattern.compile(
            "(?<![A-Za-z0-9_./<>-])((?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_-]+\\.md)(?![A-Za-z0-9_])"
                    + "(?:#([A-Za-z0-9_-]+))?(?:\\)?[ \\t]+\"([^\"\\n]+)\")?");

    /** Files of a firstmate home that commands read (the secondmate registry): not documents of ours. */
    private static final Set<String> HOME_FILES = Set.of("data/secondmates.md", "secondmates.md");

    /** Pointers a reader of a clone cannot follow: the old design notes, a tracker's numbers. */
    private static final List<Pattern> OUTSIDE = List.of(
            Pattern.compile(Pattern.quote("shared" + "/spec")),
            Pattern.compile("\\bissues?" + "\\s+#?[0-9]", Pattern.CASE_INSENSITIVE));

    // ------------------------------------------------------------------ references

    @Test
    void everyDocumentReferenceNamesAFileAndAHeadingThatExist() throws IOException {
        List<String> broken = new ArrayList<>();
        int seen = 0;
        for (Path file : files("java", "sh", "md")) {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            for (int i = 0; i < lines.size(); i++) {
                Matcher m = REFERENCE.matcher(lines.get(i));
                while (m.find()) {
                    if (HOME_FILES.contains(m.group(1))) continue;
                    seen++;
                    String problem = problem(file, m.group(1), m.group(2), m.group(3));
                    if (problem != null) broken.add(ROOT.relativize(file) + ":" + (i + 1) + ": " + m.group() + ": " + problem);
                }
            }
        }
        assertTrue(seen > 50, "the reference pattern found only " + seen + " references; is it still matching?");
        if (!broken.isEmpty()) fail(broken.size() + " reference(s) resolve to nothing:\n" + String.join("\n", broken));
    }

    @Test
    void theCitedHeadingsOfTheDesignExist() throws IOException {
        // The checker's own ground truth: headings the code cites today, so a checker that
        // accepted anything would fail here.
        assertEquals(null, problem(ROOT.resolve("README.md"), "docs/lock.md", null, "Acquire, once"));
        assertEquals(null, problem(ROOT.resolve("lib/Panes.java"), "docs/watcher.md", null, "Panes"));
        assertTrue(problem(ROOT.resolve("README.md"), "docs/lock.md", null, "No such heading") != null);
        assertTrue(problem(ROOT.resolve("README.md"), "docs/no-such-file" + ".md", null, null) != null);
        assertTrue(problem(ROOT.resolve("README.md"), "../outside" + ".md", null, null) != null);
    }

    @Test
    void nothingPointsOutsideTheRepositoryOrAtATracker() throws IOException {
        List<String> found = new ArrayList<>();
        for (Path file : files("java", "md")) {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            for (int i = 0; i < lines.size(); i++) {
                for (Pattern p : OUTSIDE) {
                    Matcher m = p.matcher(lines.get(i));
                    if (m.find()) found.add(ROOT.relativize(file) + ":" + (i + 1) + ": " + lines.get(i).strip());
                }
            }
        }
        if (!found.isEmpty()) {
            fail(found.size() + " line(s) point outside the repository or at a tracker (say it in words; history goes"
                    + " in commit messages):\n" + String.join("\n", found));
        }
    }

    /**
     * Null when {@code target} (as written in {@code from}) names a file in the repository with
     * the anchor and heading given, else what is wrong. A bare name is also looked up in docs/
     * and at the root, as code cites {@code docs/lock.md "Liveness"} for {@code docs/lock.md}.
     */
    static String problem(Path from, String target, String anchor, String heading) throws IOException {
        Set<Path> candidates = new LinkedHashSet<>();
        candidates.add(from.getParent().resolve(target).normalize());
        candidates.add(ROOT.resolve(target).normalize());
        if (!target.contains("/")) candidates.add(ROOT.resolve("docs").resolve(target).normalize());
        Path doc = null;
        for (Path c : candidates) {
            if (c.startsWith(ROOT) && Files.isRegularFile(c)) {
                doc = c;
                break;
            }
        }
        if (doc == null) return "no such file in the repository";
        List<String> headings = headings(doc);
        if (heading != null && !headings.contains(heading)) {
            return "no heading \"" + heading + "\" in " + ROOT.relativize(doc) + " (it has: " + String.join("; ", headings) + ")";
        }
        if (anchor != null && !anchors(headings).contains(anchor)) {
            return "no heading with the anchor #" + anchor + " in " + ROOT.relativize(doc);
        }
        return null;
    }

    /** The Markdown headings of a file (ATX form), outside fenced code; none for other files. */
    static List<String> headings(Path doc) throws IOException {
        List<String> out = new ArrayList<>();
        if (!doc.getFileName().toString().endsWith(".md")) return out;
        boolean fenced = false;
        for (String line : Files.readAllLines(doc, StandardCharsets.UTF_8)) {
            if (line.startsWith("```")) fenced = !fenced;
            if (fenced) continue;
            Matcher m = Pattern.compile("^#{1,6}[ \\t]+(.*?)[ \\t#]*$").matcher(line);
            if (m.matches()) out.add(m.group(1));
        }
        return out;
    }

    /** The anchors a Markdown renderer gives those headings (lower case, punctuation dropped, spaces as dashes). */
    static Set<String> anchors(List<String> headings) {
        Set<String> out = new HashSet<>();
        for (String h : headings) {
            String slug = h.toLowerCase(Locale.ROOT).replaceAll("[^\\p{L}\\p{N} _-]", "").replace(' ', '-');
            String s = slug;
            for (int n = 1; !out.add(s); n++) s = slug + "-" + n;
        }
        return out;
    }

    /** The repository's files with these extensions, leaving out git's, builds and caches. */
    static List<Path> files(String... exts) throws IOException {
        try (Stream<Path> s = Files.walk(ROOT)) {
            return s.filter(Files::isRegularFile)
                    .filter(p -> {
                        Path rel = ROOT.relativize(p);
                        String first = rel.getName(0).toString();
                        if (first.equals(".git") || first.equals(".fm-launch") || first.equals(".fm-launch-2") || first.equals("target") || first.equals("state")) {
                            return false;
                        }
                        String name = p.getFileName().toString();
                        for (String e : exts) if (name.endsWith("." + e)) return true;
                        return false;
                    })
                    .sorted()
                    .toList();
        }
    }

    // ------------------------------------------------------------------ the quick start

    /** The line of the quick start that fetches the repository, which the test cannot run as is. */
    private static final Pattern CLONE = Pattern.compile("^git clone \\S+ firstmate-java$");

    /**
     * README's quick start, pasted as written into bash: the fenced bash blocks under its "Quick
     * start" heading, run with {@code bash -e} in a scratch directory. One substitution: the
     * {@code git clone … firstmate-java} line becomes a symbolic link named firstmate-java to
     * the checkout under test (a clone would test the last commit, and needs the network). HOME
     * is a scratch directory, and TMUX_TMPDIR another, so the tmux commands reach a private
     * server and never the user's; JBang and Maven keep the user's caches, so nothing is fetched.
     */
    @Test
    void theQuickStartEndsInAWakeAndSupervisionOk() throws Exception {
        String script = quickStart();
        Path scratch = Files.createTempDirectory("fm-quickstart").toRealPath();
        Path home = Files.createDirectories(scratch.resolve("home"));
        Path tmux = Files.createDirectories(scratch.resolve("tmux"));
        Path file = Files.writeString(scratch.resolve("quick-start.sh"), script);

        ProcessBuilder pb = new ProcessBuilder("bash", "-e", file.toString()).directory(scratch.toFile());
        Map<String, String> env = pb.environment();
        String userHome = System.getProperty("user.home");
        env.keySet().removeIf(k -> k.startsWith("FM_") || k.startsWith("TMUX"));
        env.putIfAbsent("MAVEN_REPO_LOCAL", userHome + "/.m2/repository");
        env.putIfAbsent("JBANG_REPO", userHome + "/.m2/repository");
        env.putIfAbsent("JBANG_DIR", userHome + "/.jbang");
        env.put("HOME", home.toString());
        env.put("TMUX_TMPDIR", tmux.toString());
        env.put("LANG", "C.UTF-8");
        env.put("LC_ALL", "C.UTF-8");
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));

        Process p = pb.start();
        StringBuilder out = new StringBuilder();
        StringBuilder err = new StringBuilder();
        Thread to = TestKit.pump(p.getInputStream(), out);
        Thread te = TestKit.pump(p.getErrorStream(), err);
        // Everything the paste starts (the background arms in particular), remembered while it
        // runs: a handle stays tied to its process, so the clean-up can never hit a reused pid.
        Set<ProcessHandle> started = new HashSet<>();
        boolean finished = false;
        try {
            long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos(); // a hang bound: the first builds are slow
            while (!(finished = p.waitFor(200, TimeUnit.MILLISECONDS)) && System.nanoTime() < deadline) {
                p.descendants().forEach(started::add);
            }
            to.join(5000);
            te.join(5000);
            String stdout;
            synchronized (out) {
                stdout = out.toString();
            }
            String report = "\n--- quick start ---\n" + script + "\n--- stdout ---\n" + stdout + "\n--- stderr ---\n" + err;
            assertTrue(finished, "the quick start did not finish within 5 minutes" + report);
            assertEquals(0, p.exitValue(), "the quick start failed" + report);

            List<String> lines = List.of(stdout.split("\n"));
            int armed = indexOf(lines, "watcher: started pid=[0-9]+ \\(beacon fresh\\)", 0);
            assertTrue(armed >= 0, "no `watcher: started` line" + report);
            String statusFile = home.resolve("fm-demo/state/task1.status").toString();
            int wake = indexOf(lines, Pattern.quote("signal: " + statusFile), armed + 1);
            assertTrue(wake >= 0, "no wake's reason line for " + statusFile + " after the arm's" + report);
            int drained = indexOf(lines, "[0-9]+\t[0-9]+\tsignal\ttask1\\.status\t" + Pattern.quote("signal: " + statusFile), wake + 1);
            assertTrue(drained >= 0, "the drain did not print the wake's record" + report);
            int ok = indexOf(lines, "supervision: ok - this home's watcher pid [0-9]+ is healthy .*", drained + 1);
            assertTrue(ok >= 0, "no `supervision: ok` after the drain" + report);
            assertEquals(-1, indexOf(lines, "supervision: .*", ok + 1), "a later verdict" + report);
        } finally {
            if (!finished) {
                p.descendants().forEach(started::add);
                p.destroyForcibly();
            }
            for (ProcessHandle h : started) h.destroyForcibly();
            ProcessBuilder kill = new ProcessBuilder("tmux", "kill-server").redirectErrorStream(true);
            kill.environment().keySet().removeIf(k -> k.startsWith("TMUX"));
            kill.environment().put("TMUX_TMPDIR", tmux.toString());
            Process k = kill.start();
            k.getInputStream().readAllBytes();
            k.waitFor(10, TimeUnit.SECONDS);
            TestKit.deleteTree(scratch);
        }
    }

    /** The quick start's bash blocks, with the clone line replaced by a link to this checkout. */
    static String quickStart() throws IOException {
        List<String> readme = Files.readAllLines(ROOT.resolve("README.md"), StandardCharsets.UTF_8);
        StringBuilder script = new StringBuilder();
        boolean inSection = false;
        boolean inBlock = false;
        int clones = 0;
        for (String line : readme) {
            if (!inBlock && line.startsWith("#")) {
                inSection = line.matches("^##[ \\t]+Quick start[ \\t]*$");
                continue;
            }
            if (!inSection) continue;
            if (!inBlock && line.matches("^```(bash|sh)[ \\t]*$")) {
                inBlock = true;
            } else if (inBlock && line.startsWith("```")) {
                inBlock = false;
            } else if (inBlock) {
                if (CLONE.matcher(line).matches()) {
                    clones++;
                    line = "ln -s '" + ROOT.toString().replace("'", "'\\''") + "' firstmate-java  # the checkout under test, for: " + line;
                }
                script.append(line).append('\n');
            }
        }
        assertTrue(script.length() > 0, "README.md has no ```bash block under a \"## Quick start\" heading");
        assertEquals(1, clones, "the quick start must clone with one line `git clone <url> firstmate-java`, which the test replaces");
        return script.toString();
    }

    private static int indexOf(List<String> lines, String regex, int from) {
        Pattern p = Pattern.compile(regex);
        for (int i = Math.max(0, from); i < lines.size(); i++) if (p.matcher(lines.get(i)).matches()) return i;
        return -1;
    }
}
