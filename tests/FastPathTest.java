import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Direct execution's fast path (launch/launch.sh, launch/LaunchCache.java): one JVM when the build
 * is current, never stale, safe when many start at once, the pid kept, JBang's own JVM options, and
 * never a cache that anyone but its user could have written.
 *
 * Most tests use a checkout of their own in a temporary directory: the launcher, the real first
 * line, and a probe command whose output shows which code and options ran. Its ./jbang logs each
 * call and then runs the real one, so "no JBang" is a fact read from the log, not a timing. All
 * builds go to a private JBANG_CACHE_DIR (so `jbang cache clear` clears only ours). The rest run
 * the real commands of this checkout. One file despite its length: each case needs the same
 * scratch checkout and its logging ./jbang, which would otherwise be a fixture of its own.
 */
class FastPathTest {
    private static final Duration LIMIT = Duration.ofMinutes(5);
    /** Where launch/launch.sh keeps the caches; the first format's directory is never trusted. */
    private static final String CACHE_DIR = ".fm-launch-2";
    private static final String LEGACY_DIR = ".fm-launch";
    private static final TestKit SHARED = new TestKit();
    private static Path jbangCache;
    /** A probe checkout built once; each test copies it (mtimes kept) and so starts with the helper's jar. */
    private static Path template;
    @AutoClose private final TestKit kit = new TestKit();

    @BeforeAll
    static void buildTemplate() throws IOException {
        jbangCache = SHARED.tempDir("fm-fast-jbang");
        template = SHARED.tempDir("fm-fast-template");
        write(template);
        TestKit.Result r = SHARED.run(List.of(template.resolve("fm-probe.java").toString()), env(), template, LIMIT);
        assertEquals("main=1 a=1 b=1 opt=1\n", r.stdout(), r.stderr());
        assertTrue(Files.isRegularFile(template.resolve(CACHE_DIR + "/LaunchCache.jar")), "the helper compiled itself");
        Files.deleteIfExists(template.resolve("jbang.log"));
    }

    @AfterAll
    static void dropTemplate() {
        SHARED.close();
    }

    @Test
    void aCurrentBuildRunsWithoutJBangAndEveryKindOfEditRunsTheNewCodeNext() throws Exception {
        Path c = checkout();
        assertEquals("main=1 a=1 b=1 opt=1", probe(c).stdout().strip());
        List<String> first = calls(c);
        assertTrue(first.stream().anyMatch(l -> l.startsWith("build ")), "the copy's first run builds: " + first);
        assertEquals("main=1 a=1 b=1 opt=1", probe(c).stdout().strip());
        assertEquals(List.of(), calls(c), "a current build runs without JBang");

        // Each edit lands right after a run, within a second of the cache being written.
        edit(c.resolve("fm-probe.java"), "main=1", "main=2");
        assertEquals("main=2 a=1 b=1 opt=1", probe(c).stdout().strip(), "an edit of the command itself");
        edit(c.resolve("lib/ProbeB.java"), "\"1\"", "\"2\"");
        assertEquals("main=2 a=1 b=2 opt=1", probe(c).stdout().strip(), "an edit of a file pulled in through //SOURCES of //SOURCES");
        edit(c.resolve("fm-probe.java"), "-Dprobe.opt=1", "-Dprobe.opt=2");
        assertEquals("main=2 a=1 b=2 opt=2", probe(c).stdout().strip(), "an edit of //JAVA_OPTIONS");
        assertFalse(calls(c).isEmpty());
        assertEquals("main=2 a=1 b=2 opt=2", probe(c).stdout().strip());
        assertEquals(List.of(), calls(c), "current again: no JBang");

        // The launcher is an input too, and the helper's compiled jar never outlives its source.
        assertTrue(Files.isRegularFile(c.resolve(CACHE_DIR + "/LaunchCache.jar")));
        edit(c.resolve("launch/LaunchCache.java"), "# Launch cache of ", "# Launch cache (helper edited) of ");
        assertEquals("main=2 a=1 b=2 opt=2", probe(c).stdout().strip());
        assertTrue(Files.readString(c.resolve(CACHE_DIR + "/fm-probe.java.sh")).startsWith("# Launch cache (helper edited) of "),
                "the edited helper wrote the cache");
    }

    @Test
    void anEditJustAfterJBangReadTheSourcesIsSeenByTheNextRun() throws Exception {
        Path c = checkout();
        edit(c.resolve("lib/ProbeB.java"), "\"1\"", "\"during-1\"");
        // The worst moment: JBang has read every source (its info names the jar of this content),
        // and the cache is not written yet. Our ./jbang makes the edit right then, once.
        Files.writeString(c.resolve("staged"), Files.readString(c.resolve("lib/ProbeB.java")).replace("during-1", "during-2"));
        Files.writeString(c.resolve("after-info.sh"), "cat staged > lib/ProbeB.java\n");
        TestKit.Result first = probe(c);
        assertTrue(first.stdout().equals("main=1 a=1 b=during-1 opt=1\n") || first.stdout().equals("main=1 a=1 b=during-2 opt=1\n"),
                first.stdout());
        assertFalse(Files.exists(c.resolve("after-info.sh")), "the edit was made while the helper ran");
        assertEquals("main=1 a=1 b=during-2 opt=1", probe(c).stdout().strip(), "the edit is not lost");
    }

    @Test
    void aClearedJBangCacheOrADamagedLaunchCacheOnlyCostsARebuild() throws Exception {
        Path c = checkout();
        assertEquals("main=1 a=1 b=1 opt=1", probe(c).stdout().strip());
        TestKit.Result clear = kit.run(List.of(c.resolve("jbang").toString(), "cache", "clear"), env(), c, LIMIT);
        assertEquals(0, clear.exit(), clear.stderr());
        assertTrue(jars().isEmpty(), "jbang cache clear removed the jars: " + jars());
        calls(c);
        TestKit.Result r = probe(c);
        assertEquals("main=1 a=1 b=1 opt=1\n", r.stdout());
        assertEquals("", r.stderr());
        assertTrue(calls(c).stream().anyMatch(l -> l.startsWith("build ")), "rebuilt");

        // A cache cut short: inside a function (the shell cannot parse it), or between two (it can).
        Path cache = c.resolve(CACHE_DIR + "/fm-probe.java.sh");
        String whole = Files.readString(cache);
        for (String cut : List.of(whole.substring(0, whole.indexOf("exec")), whole.substring(0, whole.indexOf("fm_run")))) {
            Files.writeString(cache, cut);
            r = probe(c);
            assertEquals("main=1 a=1 b=1 opt=1\n", r.stdout(), "a damaged cache is rebuilt, not run");
            assertEquals("", r.stderr(), "and nothing about it is shown");
            assertEquals(whole, Files.readString(cache));
        }
    }

    @Test
    void fortyRunsStartedTogetherRightAfterAnEditAllRunTheNewCode() throws Exception {
        Path c = checkout();
        assertEquals("main=1 a=1 b=1 opt=1", probe(c).stdout().strip());
        edit(c.resolve("lib/ProbeB.java"), "\"1\"", "\"forty\"");
        List<Process> runs = new ArrayList<>();
        for (int i = 0; i < 40; i++) runs.add(kit.start(List.of(c.resolve("fm-probe.java").toString(), "run" + i), env(), c));
        for (int i = 0; i < 40; i++) {
            TestKit.Result r = TestKit.finish(runs.get(i), Duration.ofMinutes(10));
            assertEquals(0, r.exit(), "run " + i + ": " + r.stderr());
            assertEquals("main=1 a=1 b=forty opt=1 args=run" + i + "\n", r.stdout(), "run " + i);
            assertEquals("", r.stderr(), "run " + i);
        }
        assertRunsWithoutJBang(c, "main=1 a=1 b=forty opt=1", "one of them left a current cache behind");
    }

    @Test
    void aBackgroundedDirectRunIsTheJvmItself() throws Exception {
        Path c = checkout();
        for (String path : List.of("slow (a build first)", "fast")) {
            TestKit.Result r = kit.run(List.of("bash", "-c", "\"$0\" facts & echo \"bang=$!\"; wait $!",
                    c.resolve("fm-probe.java").toString()), env(), c, LIMIT);
            assertEquals(0, r.exit(), path + ": " + r.stderr());
            Map<String, String> facts = facts(r.stdout());
            assertEquals(facts.get("bang"), facts.get("pid"), path + ": $! is the JVM's pid: " + r.stdout());
            assertTrue(facts.get("command").endsWith("/bin/java"), path + ": " + r.stdout());
            assertEquals(path.equals("fast"), calls(c).isEmpty(), path);
        }

        // The same with a real command that stays: its lock names $!, and /proc shows java.
        Path lock = kit.tempDir("fm-fast-lock").resolve("held");
        TestKit.Lines held = new TestKit.Lines(kit.start(List.of("bash", "-c", "\"$0\" try-acquire \"$1\" --hold 120 & echo $!; wait $!",
                TestKit.root().resolve("FmLock.java").toString(), lock.toString()), Map.of(), lock.getParent()));
        long bang = Long.parseLong(held.next(LIMIT));
        assertEquals("acquired pid=" + bang, held.next(LIMIT));
        assertTrue(cmdline(bang).get(0).endsWith("/bin/java"), cmdline(bang).toString());
        kill(bang);
        assertEquals(143, held.exit(Duration.ofSeconds(30)), held.err.toString());
    }

    @Test
    void symlinksOtherDirectoriesAndABareNameRunTheCheckoutsBuild() throws Exception {
        Path c = checkout();
        Path real = c.resolve("fm-probe.java").toRealPath();
        probe(c);
        calls(c);
        Path elsewhere = kit.tempDir("fm-fast-elsewhere");
        Path link = Files.createSymbolicLink(elsewhere.resolve("probe"), real);
        Path linkedCheckout = Files.createSymbolicLink(elsewhere.resolve("checkout"), c);
        List<List<String>> ways = List.of(
                List.of(real.toString(), "facts"),
                List.of(link.toString(), "facts"),
                List.of(linkedCheckout.resolve("fm-probe.java").toString(), "facts"));
        for (List<String> way : ways) {
            TestKit.Result r = kit.run(way, env(), elsewhere, LIMIT);
            assertEquals(0, r.exit(), way + ": " + r.stderr());
            assertEquals(real.toString(), facts(r.stdout()).get("script"), way + ": " + r.stdout());
        }
        TestKit.Result bare = kit.run(List.of("sh", "fm-probe.java", "facts"), env(), c, LIMIT); // $0 without a slash
        assertEquals(0, bare.exit(), bare.stderr());
        assertEquals(real.toString(), facts(bare.stdout()).get("script"), bare.stdout());
        assertEquals(List.of(), calls(c), "every way ran the cached build, without JBang");

        // A real command through a symlink, from elsewhere.
        Path lockLink = Files.createSymbolicLink(elsewhere.resolve("fmlock"), TestKit.root().resolve("FmLock.java"));
        TestKit.Result id = kit.run(List.of(lockLink.toString(), "identity", Long.toString(ProcessHandle.current().pid())),
                Map.of(), elsewhere, LIMIT);
        assertEquals(0, id.exit(), id.stderr());
        assertTrue(id.stdout().startsWith(FmProc.IDENTITY_FORMAT + " pid=" + ProcessHandle.current().pid() + " boot="), id.stdout());
    }

    @Test
    void armsStartedEveryWayRecordOneWatcherPathAndRunJBangsOwnCommand() throws Exception {
        Path root = TestKit.root();
        Path elsewhere = kit.tempDir("fm-fast-arm-cwd");
        Path link = Files.createSymbolicLink(elsewhere.resolve("arm"), root.resolve("fm-watch-arm.java"));
        Map<String, List<String>> ways = new java.util.LinkedHashMap<>();
        ways.put("jbang", List.of(root.resolve("jbang").toString(), "fm-watch-arm.java"));
        ways.put("./", List.of("./fm-watch-arm.java"));
        ways.put("symlink", List.of(link.toString()));
        ways.put("path", List.of(root.resolve("fm-watch-arm.java").toString()));
        Map<String, List<String>> cmdlines = new HashMap<>();
        for (Map.Entry<String, List<String>> way : ways.entrySet()) {
            TestKit.Home home = new TestKit.Home(kit, "fm-fast-arm")
                    .set("FM_POLL", "30", "FM_HEARTBEAT", "3600", "FM_CHECK_INTERVAL", "3600");
            Path cwd = way.getKey().equals("./") || way.getKey().equals("jbang") ? root : elsewhere;
            TestKit.Lines arm = new TestKit.Lines(kit.start(way.getValue(), home.env, cwd));
            String line = arm.next(LIMIT);
            assertTrue(line.matches("watcher: started pid=" + arm.process.pid() + " \\(beacon fresh(; no task in flight)?\\)"),
                    way.getKey() + ": " + line + " " + arm.err);
            assertEquals(root.resolve("fm-watch.java").toRealPath().toString(),
                    Files.readString(home.state.resolve(".watch.lock/watcher-path")).strip(), way.getKey());
            cmdlines.put(way.getKey(), cmdline(arm.process.pid()));
            kill(arm.process.pid());
            assertEquals(143, arm.exit(Duration.ofSeconds(30)), way.getKey() + ": " + arm.err);
        }
        String script = "-Dfm.script=" + root.resolve("fm-watch-arm.java").toRealPath();
        List<String> direct = cmdlines.get("./");
        assertTrue(direct.contains(script), direct.toString());
        assertEquals(direct, cmdlines.get("symlink"));
        assertEquals(direct, cmdlines.get("path"));
        // ./jbang passes where the script is too, so both name the checkout the same way.
        assertEquals(cmdlines.get("jbang"), direct, "the fast path runs what ./jbang runs");
    }

    @Test
    void anotherJdkIsUsedFromTheNextRun() throws Exception {
        Path c = checkout();
        Path jdk = Path.of(System.getProperty("java.home")).toRealPath();
        assertEquals(jdk.toString(), facts(probe(c, "facts").stdout()).get("home"));
        Path other = otherJdk(jdk);
        Map<String, String> env = new HashMap<>(env());
        env.put("JAVA_HOME", other.toString());
        calls(c);
        TestKit.Result r = kit.run(List.of(c.resolve("fm-probe.java").toString(), "facts"), env, c, LIMIT);
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(other.toString(), facts(r.stdout()).get("home"), r.stdout());
        assertFalse(calls(c).isEmpty(), "JBang chose again");
        r = kit.run(List.of(c.resolve("fm-probe.java").toString(), "facts"), env, c, LIMIT);
        assertEquals(other.toString(), facts(r.stdout()).get("home"), r.stdout());
        assertEquals(List.of(), calls(c), "and the new choice is cached");
        assertEquals(jdk.toString(), facts(probe(c, "facts").stdout()).get("home"), "back to the first JDK");
    }

    // ------------------------------------------------------------------ trust: the cache is code

    @Test
    void aCacheAnotherUserOwnsOrCouldSwapIsNeverRun() throws Exception {
        for (String breach : List.of("cache owned by nobody", "cache a symbolic link", "directory owned by nobody")) {
            Path c = checkout();
            assertEquals("main=1 a=1 b=1 opt=1", probe(c).stdout().strip(), breach);
            Path dir = c.resolve(CACHE_DIR);
            Path cache = dir.resolve("fm-probe.java.sh");
            Path marker = plant(cache);
            assertEquals("main=1 a=1 b=1 opt=1", probe(c).stdout().strip(), breach);
            assertTrue(Files.exists(marker), breach + ": the planted cache is current, so it would run if trusted");
            Files.delete(marker);
            Path offender;
            switch (breach) {
                case "cache owned by nobody" -> offender = nobody(cache);
                case "directory owned by nobody" -> offender = nobody(dir);
                default -> {
                    Path elsewhere = kit.tempDir("fm-fast-plant").resolve("cache.sh");
                    Files.move(cache, elsewhere);
                    offender = Files.createSymbolicLink(cache, elsewhere);
                }
            }
            TestKit.Result r = kit.run(List.of(c.resolve("fm-probe.java").toString()), debug(), c, LIMIT);
            assertEquals(0, r.exit(), breach + ": " + r.stderr());
            assertEquals("main=1 a=1 b=1 opt=1\n", r.stdout(), breach);
            assertFalse(Files.exists(marker), breach + ": the planted cache ran");
            assertTrue(r.stderr().contains(offender.toString()), breach + ": FM_DEBUG=1 says why: " + r.stderr());
            assertEquals("main=1 a=1 b=1 opt=1", probe(c).stdout().strip(), breach);
            assertFalse(Files.exists(marker), breach + ": the planted cache ran later");
        }
    }

    @Test
    void aCacheLeftWritableByEveryoneBeforeTrustWasCheckedIsNeverRun() throws Exception {
        // What the first cache format left after a run under umask 000: all of it writable by everyone,
        // so anyone could have rewritten it. The current cache directory is another, made private.
        Path c = checkout();
        assertEquals("main=1 a=1 b=1 opt=1", probe(c).stdout().strip());
        Path legacy = Files.createDirectories(c.resolve(LEGACY_DIR));
        Path cache = legacy.resolve("fm-probe.java.sh");
        if (!Files.exists(cache)) {
            Files.writeString(cache, Files.readString(c.resolve(CACHE_DIR).resolve("fm-probe.java.sh")).replace("fm_format=2", "fm_format=1"));
        }
        Path marker = plant(cache);
        Files.setPosixFilePermissions(legacy, PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.setPosixFilePermissions(cache, PosixFilePermissions.fromString("rw-rw-rw-"));
        assertEquals("main=1 a=1 b=1 opt=1", probe(c).stdout().strip());
        assertFalse(Files.exists(marker), "a cache others could write ran");
    }

    @Test
    void aLoosenedCacheDirectoryIsMadePrivateAgainAndEmptiedBeforeTheNextBuild() throws Exception {
        Path c = checkout();
        assertEquals("main=1 a=1 b=1 opt=1", probe(c).stdout().strip());
        Path dir = c.resolve(CACHE_DIR);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path planted = nobody(Files.writeString(dir.resolve("fm-other.java.sh"), "echo planted\n"));
        edit(c.resolve("lib/ProbeB.java"), "\"1\"", "\"2\"");
        TestKit.Result r = kit.run(List.of(c.resolve("fm-probe.java").toString()), debug(), c, LIMIT);
        assertEquals("main=1 a=1 b=2 opt=1\n", r.stdout(), r.stderr());
        assertTrue(r.stderr().contains(dir.toString()), "FM_DEBUG=1 says what was repaired: " + r.stderr());
        assertFalse(Files.exists(planted), "what someone else left in it is gone");
        assertPrivate(dir);
        assertRunsWithoutJBang(c, "main=1 a=1 b=2 opt=1", "and the rebuilt cache is used");
    }

    @Test
    void underUmask000TheCacheIsStillWritableByNoOneElse() throws Exception {
        Path c = checkout();
        try (Stream<Path> s = Files.walk(c.resolve(CACHE_DIR))) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
        }
        TestKit.Result r = kit.run(List.of("sh", "-c", "umask 000 && exec \"$0\"", c.resolve("fm-probe.java").toString()), env(), c, LIMIT);
        assertEquals("main=1 a=1 b=1 opt=1\n", r.stdout(), r.stderr());
        assertTrue(Files.isRegularFile(c.resolve(CACHE_DIR).resolve("fm-probe.java.sh")));
        assertTrue(Files.isRegularFile(c.resolve(CACHE_DIR).resolve("LaunchCache.jar")));
        assertPrivate(c.resolve(CACHE_DIR));
    }

    @Test
    void eachInputOnceAndEachCommandRunsWithItsOwnOptionsOnly() throws Exception {
        Path c = checkout();
        probe(c);
        List<String> inputs = new ArrayList<>();
        for (String l : Files.readAllLines(c.resolve(CACHE_DIR).resolve("fm-probe.java.sh"))) {
            if (l.strip().startsWith("fm_in ")) inputs.add(l.strip().replaceAll(" &&$", ""));
        }
        assertEquals(new HashSet<>(inputs).size(), inputs.size(), "an input listed twice: " + inputs);
        assertTrue(inputs.stream().noneMatch(l -> l.contains("/../")), "inputs by their plain path: " + inputs);
        assertTrue(inputs.contains("fm_in '" + c.resolve("lib/ProbeB.java").toRealPath() + "'"), inputs.toString());

        // A file that is sourced must not carry //JAVA_OPTIONS: JBang adds them to every command that sources it.
        Path root = TestKit.root();
        try (Stream<Path> s = Files.list(root)) {
            for (Path script : s.filter(p -> p.getFileName().toString().endsWith(".java")).sorted().toList()) {
                List<String> own = new ArrayList<>();
                for (String l : Files.readAllLines(script)) {
                    if (l.startsWith("//JAVA_OPTIONS ")) own.addAll(List.of(l.substring(15).strip().split("\\s+")));
                }
                String name = script.getFileName().toString();
                assertEquals(own, TestKit.info(name).options(), name + " runs with its own //JAVA_OPTIONS, once");
            }
        }
    }

    /** Rewrites a current cache in place so that running it leaves a marker, as another account could. */
    private static Path plant(Path cache) throws IOException {
        Path marker = cache.getParent().resolveSibling("planted-cache-ran");
        String text = Files.readString(cache);
        assertTrue(text.contains("fm_run() {\n  exec"), text);
        Files.writeString(cache, text.replace("fm_run() {\n  exec", "fm_run() {\n  : > '" + marker + "'; exec"));
        return marker;
    }

    private static Path nobody(Path p) throws IOException {
        Files.setAttribute(p, "unix:uid", 65534, java.nio.file.LinkOption.NOFOLLOW_LINKS);
        return p;
    }

    /** The directory and everything in it: this user's, and writable by no one else. */
    private static void assertPrivate(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                int mode = (Integer) Files.getAttribute(p, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
                assertEquals(0, mode & 0022, p + " is mode " + Integer.toOctalString(mode));
                assertEquals(Files.getAttribute(dir.getParent(), "unix:uid"), Files.getAttribute(p, "unix:uid",
                        java.nio.file.LinkOption.NOFOLLOW_LINKS), p + "'s owner");
            }
        }
    }

    private static Map<String, String> debug() {
        return Map.of("JBANG_CACHE_DIR", jbangCache.toString(), "FM_DEBUG", "1");
    }

    // ------------------------------------------------------------------ the probe checkout

    private static final String PROBE = """
            //JAVA 17+
            //SOURCES lib/ProbeA.java lib/ProbeC.java
            //JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dprobe.opt=1

            /** FastPathTest's command: which code and options ran, and (with "facts") where. */
            class FmProbe {
                public static void main(String[] args) {
                    if (args.length == 1 && args[0].equals("facts")) {
                        ProcessHandle self = ProcessHandle.current();
                        System.out.println("pid=" + self.pid());
                        System.out.println("command=" + self.info().command().orElse("?"));
                        System.out.println("home=" + System.getProperty("java.home"));
                        System.out.println("script=" + System.getProperty("fm.script"));
                        return;
                    }
                    System.out.println("main=1 a=" + ProbeA.a() + " b=" + ProbeB.b() + " opt=" + System.getProperty("probe.opt")
                            + (args.length > 0 ? " args=" + String.join(",", args) : ""));
                }
            }
            """;

    /** A checkout with the launcher, the real first line, the probe, and a ./jbang that logs. */
    private static void write(Path c) throws IOException {
        Path root = TestKit.root();
        Files.createDirectories(c.resolve("lib"));
        Files.createDirectories(c.resolve("launch"));
        Files.copy(root.resolve("launch/launch.sh"), c.resolve("launch/launch.sh"));
        Files.copy(root.resolve("launch/LaunchCache.java"), c.resolve("launch/LaunchCache.java"));
        // Logs each call, then runs the real ./jbang; after an `info` it runs after-info.sh once, if present.
        executable(Files.writeString(c.resolve("jbang"), String.join("\n",
                "#!/bin/sh",
                "here=${0%/*}",
                "printf '%s\\n' \"$*\" >> \"$here/jbang.log\"",
                "[ \"$1\" = info ] || exec '" + root.resolve("jbang") + "' \"$@\"",
                "'" + root.resolve("jbang") + "' \"$@\"",
                "rc=$?",
                "if [ -f \"$here/after-info.sh\" ]; then (cd \"$here\" && sh after-info.sh && rm after-info.sh); fi",
                "exit $rc", "")));
        String firstLine = Files.readAllLines(root.resolve("fm-guard.java")).get(0);
        executable(Files.writeString(c.resolve("fm-probe.java"), firstLine + "\n" + PROBE));
        Files.writeString(c.resolve("lib/ProbeA.java"), "//SOURCES ProbeB.java\nfinal class ProbeA { static String a() { return \"1\"; } }\n");
        // ProbeB again, by another path: the cache still lists it once.
        Files.writeString(c.resolve("lib/ProbeC.java"), "//SOURCES ../lib/ProbeB.java\nfinal class ProbeC {}\n");
        Files.writeString(c.resolve("lib/ProbeB.java"), "final class ProbeB { static String b() { return \"1\"; } }\n");
    }

    /** A copy of the template, mtimes kept: its launch cache names the template, so it is not trusted here. */
    private Path checkout() throws IOException {
        Path c = kit.tempDir("fm-fast");
        try (Stream<Path> s = Files.walk(template)) {
            for (Path from : s.toList()) {
                Path to = c.resolve(template.relativize(from).toString());
                if (Files.isDirectory(from)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(from, to, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        return c;
    }

    private static void executable(Path p) throws IOException {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private static Map<String, String> env() {
        return Map.of("JBANG_CACHE_DIR", jbangCache.toString());
    }

    private TestKit.Result probe(Path c, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(c.resolve("fm-probe.java").toString()));
        cmd.addAll(List.of(args));
        TestKit.Result r = kit.run(cmd, env(), c, LIMIT);
        assertEquals(0, r.exit(), r.stderr());
        return r;
    }

    /** A run of the probe now prints {@code facts} and calls JBang not at all: its cache is current. */
    private void assertRunsWithoutJBang(Path c, String facts, String why) throws Exception {
        calls(c);
        assertEquals(facts, probe(c).stdout().strip());
        assertEquals(List.of(), calls(c), why);
    }

    /** The JBang calls logged since the last look (the log is emptied). */
    private static List<String> calls(Path c) throws IOException {
        Path log = c.resolve("jbang.log");
        if (!Files.exists(log)) return List.of();
        List<String> lines = Files.readAllLines(log);
        Files.delete(log);
        return lines;
    }

    private static void edit(Path file, String from, String to) throws IOException {
        String text = Files.readString(file);
        assertTrue(text.contains(from), file + " has no " + from);
        Files.writeString(file, text.replace(from, to));
    }

    /** The names under the private JBang cache's jars directory. */
    private static Set<String> jars() {
        Set<String> names = new HashSet<>();
        try (Stream<Path> s = Files.list(jbangCache.resolve("jars"))) {
            s.forEach(p -> names.add(p.getFileName().toString()));
        } catch (IOException e) {
            // none yet
        }
        return names;
    }

    private static Map<String, String> facts(String stdout) {
        Map<String, String> m = new HashMap<>();
        for (String l : stdout.split("\n")) {
            int eq = l.indexOf('=');
            if (eq > 0) m.put(l.substring(0, eq), l.substring(eq + 1));
        }
        return m;
    }

    private static List<String> cmdline(long pid) throws IOException {
        String raw = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")),
                java.nio.charset.StandardCharsets.UTF_8);
        return List.of(raw.split("\0"));
    }

    private static void kill(long pid) {
        assertTrue(ProcessHandle.of(pid).map(ProcessHandle::destroy).orElse(false), "TERM to " + pid);
    }

    /**
     * A second JDK home that is a different file to the shell ([ -ef ]) and to the JVM (java.home):
     * its own copies of bin/java, lib/libjli.so and lib/server/libjvm.so (which fix java.home),
     * everything else linked to the real one.
     */
    private Path otherJdk(Path jdk) throws IOException {
        Path other = kit.tempDir("fm-fast-jdk").resolve("jdk");
        for (String dir : List.of("", "bin", "lib", "lib/server")) {
            Path from = jdk.resolve(dir);
            Path to = Files.createDirectories(other.resolve(dir));
            try (Stream<Path> s = Files.list(from)) {
                for (Path e : s.toList()) {
                    String rel = dir.isEmpty() ? e.getFileName().toString() : dir + "/" + e.getFileName();
                    if (Set.of("bin", "lib", "lib/server").contains(rel)) continue;
                    if (Set.of("bin/java", "lib/libjli.so", "lib/server/libjvm.so").contains(rel)) {
                        Files.copy(e, to.resolve(e.getFileName()), java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
                    } else {
                        Files.createSymbolicLink(to.resolve(e.getFileName()), e);
                    }
                }
            }
        }
        assertFalse(Files.isSameFile(other.resolve("bin/java"), jdk.resolve("bin/java")));
        return other;
    }
}
