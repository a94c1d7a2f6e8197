import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The {@code //SOURCES} graph is the code's own map (AGENTS.md section 1): each product file
 * (the commands at the root, FmLock.java, lib/ and launch/) declares exactly the files whose
 * types it names, no more and no fewer, and the declared graph has no cycle. A file that
 * compiles only because another one pulled its dependency in, or a stale line, fails here.
 */
class SourcesTest {
    private static final Pattern SOURCES = Pattern.compile("(?m)^//SOURCES (.+)$");
    private static final Pattern COMMENT = Pattern.compile("(?s)/\\*.*?\\*/|//[^\\n]*");
    private static final Pattern LITERAL = Pattern.compile("\"\"\"(?s:.*?)\"\"\"|\"(?:[^\"\\\\\\n]|\\\\.)*\"|'(?:[^'\\\\\\n]|\\\\.)'");
    private static final Pattern TYPE = Pattern.compile("(?m)^(?:final |abstract |public )*(?:class|record|interface|enum) ([A-Z][A-Za-z0-9]*)");

    /** One product file: its path from the root, the top-level type it defines, its text. */
    record Source(String path, String type, String code, List<String> declared) {}

    @Test
    void everyFileDeclaresExactlyWhatItUses() throws IOException {
        Map<String, Source> files = product(TestKit.root());
        assertTrue(files.size() > 20, "found too few product files to check: " + files.keySet());
        assertEquals(List.of(), mismatches(files));
    }

    @Test
    void theDeclaredGraphHasNoCycle() throws IOException {
        assertEquals(List.of(), cycles(product(TestKit.root())));
    }

    /** The checks can fail: a dropped declaration and an added cycle are both reported. */
    @Test
    void aDroppedLineAndAnAddedCycleAreCaught() throws IOException {
        Map<String, Source> files = product(TestKit.root());
        Source checks = files.get("lib/Checks.java");
        assertTrue(checks.declared().contains("lib/WakeQueue.java"), checks.declared().toString());
        Map<String, Source> dropped = new LinkedHashMap<>(files);
        List<String> less = new ArrayList<>(checks.declared());
        less.remove("lib/WakeQueue.java");
        dropped.put(checks.path(), new Source(checks.path(), checks.type(), checks.code(), less));
        assertFalse(mismatches(dropped).isEmpty(), "a dropped //SOURCES entry went unnoticed");

        Source knobs = files.get("lib/Knobs.java");
        Map<String, Source> cyclic = new LinkedHashMap<>(files);
        List<String> more = new ArrayList<>(knobs.declared());
        more.add("lib/Checks.java");
        cyclic.put(knobs.path(), new Source(knobs.path(), knobs.type(), knobs.code() + " Checks x;", more));
        assertFalse(cycles(cyclic).isEmpty(), "a cycle Knobs -> Checks -> ... -> Knobs went unnoticed");
    }

    // ------------------------------------------------------------------ the checker

    static Map<String, Source> product(Path root) throws IOException {
        List<Path> paths = new ArrayList<>();
        try (Stream<Path> s = Files.list(root)) {
            s.filter(p -> p.getFileName().toString().endsWith(".java")).forEach(paths::add);
        }
        for (String dir : List.of("lib", "launch")) {
            if (!Files.isDirectory(root.resolve(dir))) continue;
            try (Stream<Path> s = Files.list(root.resolve(dir))) {
                s.filter(p -> p.getFileName().toString().endsWith(".java")).forEach(paths::add);
            }
        }
        Map<String, Source> out = new TreeMap<>();
        for (Path p : paths) {
            String text = Files.readString(p);
            String rel = root.relativize(p).toString();
            String code = LITERAL.matcher(COMMENT.matcher(text).replaceAll(" ")).replaceAll("\"\"");
            Matcher t = TYPE.matcher(code);
            String type = t.find() ? t.group(1) : null;
            List<String> declared = new ArrayList<>();
            Matcher m = SOURCES.matcher(text);
            while (m.find()) {
                for (String each : m.group(1).trim().split("\\s+")) {
                    declared.add(root.relativize(p.getParent().resolve(each).normalize()).toString());
                }
            }
            out.put(rel, new Source(rel, type, code, declared));
        }
        return out;
    }

    /** "file: uses X but does not declare it" and "file: declares X but names none of its types". */
    static List<String> mismatches(Map<String, Source> files) {
        Map<String, String> fileOfType = new HashMap<>();
        for (Source s : files.values()) {
            // The commands' classes are not meant to be named by others; only lib/, launch/ and FmLock are.
            if (s.type() != null && (s.path().contains("/") || s.path().equals("FmLock.java"))) fileOfType.put(s.type(), s.path());
        }
        List<String> out = new ArrayList<>();
        for (Source s : files.values()) {
            Set<String> used = new TreeSet<>();
            for (Map.Entry<String, String> e : fileOfType.entrySet()) {
                if (e.getValue().equals(s.path())) continue;
                if (Pattern.compile("\\b" + e.getKey() + "\\b").matcher(s.code()).find()) used.add(e.getValue());
            }
            Set<String> declared = new TreeSet<>(s.declared());
            for (String u : used) if (!declared.contains(u)) out.add(s.path() + ": uses " + u + " but does not declare it");
            for (String d : declared) {
                if (!files.containsKey(d)) out.add(s.path() + ": declares " + d + ", which does not exist");
                else if (!used.contains(d)) out.add(s.path() + ": declares " + d + " but names none of its types");
            }
        }
        return out;
    }

    /** Each cycle of the declared graph, as "a -> b -> a" (one per strongly connected set). */
    static List<String> cycles(Map<String, Source> files) {
        List<String> out = new ArrayList<>();
        Map<String, Integer> state = new HashMap<>(); // 1 on the path, 2 done
        List<String> path = new ArrayList<>();
        for (String start : files.keySet()) visit(start, files, state, path, out);
        return out;
    }

    private static void visit(String at, Map<String, Source> files, Map<String, Integer> state, List<String> path, List<String> out) {
        Integer s = state.get(at);
        if (s != null && s == 2) return;
        if (s != null && s == 1) {
            List<String> loop = new ArrayList<>(path.subList(path.indexOf(at), path.size()));
            loop.add(at);
            out.add(String.join(" -> ", loop));
            return;
        }
        state.put(at, 1);
        path.add(at);
        Source src = files.get(at);
        if (src != null) for (String next : src.declared()) visit(next, files, state, path, out);
        path.remove(path.size() - 1);
        state.put(at, 2);
    }
}
