import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.Charset;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The slow path of direct execution: builds a command with JBang and writes its launch cache,
 * the file launch.sh (beside this file) sources to exec the command's JVM without JBang's
 * launcher JVM.
 *
 * Run by launch.sh only, in the JDK's single-file source mode, {@code java
 * launch/LaunchCache.java <script> <java> <launch dir>}, or from the jar it compiles of itself
 * (compileSelf), so it needs no build by JBang and stays out of JBang's cache; it therefore
 * sources nothing and keeps its own copies of small helpers (quoting, a JSON reader).
 * That standalone rule is also why it is one file of more than 450 lines.
 * {@code <java>} is the java ./jbang runs JBang with now (JBang's choice of JDK follows it);
 * {@code <launch dir>} is where launch.sh and this file are (both are inputs of every cache).
 * Exits 0 when a current cache is in place, 1 (with one line on stderr, which launch.sh shows
 * only with FM_DEBUG=1) when not; launch.sh then runs the script through ./jbang, which reports
 * any build error itself. Prints nothing on stdout.
 *
 * Builds of one checkout are serialized by a kernel lock on .fm-launch-2/build.lock (released
 * when the process dies, however it dies): JBang's cache fails concurrent builds of one script
 * ("Error creating/updating jar"), and forty commands started together after an edit must all
 * run. Whoever waited while another process rewrote the cache just returns; launch.sh checks it.
 *
 * Trust (launch.sh sources what we write, as this user): the directory is created rwxr-xr-x and
 * every file rw-r--r--, explicitly, so a umask can only take bits away. On every run, before
 * anything else, the directory must be this user's (else we refuse: the fix is to remove it); one
 * that has group or other write (loosened by hand since) is made private again, and then, under
 * the lock, emptied: anything another user put in it while it was open is gone before we build.
 * Any other entry that is not a regular file of this user's without group or other write (a link,
 * a file root chowned away) is removed too, so launch.sh never finds one to use.
 */
final class LaunchCache {
    /** Bump when the cache's shape changes; launch.sh ignores a cache of another format. */
    static final int FORMAT = 2;
    /**
     * The caches' directory in the checkout, as launch.sh names it. Not the first format's
     * .fm-launch/, which a run under umask 000 left writable by everyone: nothing in it can be
     * proven unchanged, so a new name starts from a directory only this code ever created.
     */
    static final String DIR = ".fm-launch-2";
    private static final int GROUP_OR_OTHER_WRITE = 0022;
    private static final java.nio.file.attribute.FileAttribute<?> PRIVATE_DIR =
            java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    private static final java.nio.file.attribute.FileAttribute<?> PRIVATE_FILE =
            java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    /** The kernel stamps files with a coarse clock (a few ms behind); this covers it. */
    static final long CLOCK_SLACK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    static final long SECOND = TimeUnit.SECONDS.toNanos(1);
    static final int ATTEMPTS = 5;
    static final long BUILD_LIMIT_SECONDS = 600; // a first build may fetch dependencies
    static final long INFO_LIMIT_SECONDS = 300;
    /** The cache names files as the JVM does; the shell must see the same bytes. */
    static final Charset NAMES = Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));

    private LaunchCache() {}

    public static void main(String[] args) {
        try {
            if (args.length != 3) throw new Failure("usage: java launch/LaunchCache.java <script> <java> <launch dir>");
            System.exit(run(Path.of(args[0]), Path.of(args[1]), Path.of(args[2])) ? 0 : 1);
        } catch (Failure e) {
            System.err.println("launch cache: " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            System.err.println("launch cache: " + e);
        } catch (InterruptedException e) {
            System.err.println("launch cache: interrupted");
        }
        System.exit(1);
    }

    /** A reason not to cache, for the one stderr line. */
    static final class Failure extends Exception {
        Failure(String message) { super(message); }
    }

    private static boolean run(Path scriptArg, Path javaArg, Path launchArg) throws IOException, InterruptedException, Failure {
        Path script = scriptArg.toRealPath();
        Path checkout = script.getParent();
        Path launch = launchArg.toRealPath();
        // Real path: a switched alternatives link or JAVA_HOME then points at another file.
        Path ruleJava = javaArg.toRealPath();
        int me = myUid();
        Path dir = checkout.resolve(DIR);
        boolean wasOpen = makePrivate(dir, me);
        Path cache = dir.resolve(script.getFileName() + ".sh");
        Object seen = fileKey(cache);
        Path lockFile = dir.resolve("build.lock");
        // Never through a link: the clock below writes to this file.
        if (!trusted(lockFile, me)) Files.deleteIfExists(lockFile);
        try (FileChannel lock = FileChannel.open(lockFile, java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                java.nio.file.LinkOption.NOFOLLOW_LINKS), PRIVATE_FILE)) {
            lock.lock();
            // Another helper rewrote the cache while we waited (forty first runs after one edit):
            // its build is as new as ours would be; launch.sh judges it with its own checks.
            Object now = fileKey(cache);
            if (!wasOpen && now != null && !now.equals(seen) && trusted(cache, me)) return true;
            removeUntrusted(dir, lockFile, me, wasOpen);
            FsClock clock = new FsClock(lock, lockFile);
            // A run right after an edit would find that source too new below and build twice; the
            // likely inputs (what //SOURCES reaches) are cheap to look at first. Only a shortcut:
            // JBang's own list, checked in attempt(), is what decides.
            long likely = mtimeNanos(script);
            for (Path p : sourcesGraph(script)) {
                try {
                    likely = Math.max(likely, mtimeNanos(p));
                } catch (IOException e) {
                    // a name JBang resolves otherwise (or not at all): attempt() sees what it lists
                }
            }
            if (secondAfter(likely) - clock.now() < 5 * SECOND) clock.waitPast(secondAfter(likely));
            for (int i = 1; i <= ATTEMPTS; i++) {
                if (attempt(script, launch, ruleJava, cache, clock)) return true;
            }
            throw new Failure("the sources of " + script + " kept changing during " + ATTEMPTS + " builds");
        }
    }

    /**
     * One build; writes the cache and returns true when no input changed since just before it.
     * The cache's mtime is one nanosecond before the whole second `mark`, which is at least the
     * clock slack before JBang began reading the sources. A source edited after that (while JBang
     * builds, or between its reading and our writing) is therefore newer than the cache, even to
     * a shell whose -nt compares whole seconds. That needs every input older than `mark`; one
     * edited within about a second of the build makes us wait for the clock to pass it and
     * return false, to build again.
     */
    private static boolean attempt(Path script, Path launch, Path ruleJava, Path cache, FsClock clock)
            throws IOException, InterruptedException, Failure {
        Path checkout = script.getParent();
        long mark = Math.floorDiv(clock.now() - CLOCK_SLACK_NANOS, SECOND) * SECOND;
        Info info = resolve(checkout, script);
        // JBang names a file once per way it was reached (lib/Knobs.java, lib/../lib/Knobs.java): once each.
        java.util.Set<Path> unique = new java.util.LinkedHashSet<>();
        for (Path p : info.sources) unique.add(p.toAbsolutePath().normalize());
        unique.add(launch.resolve("launch.sh"));
        unique.add(launch.resolve("LaunchCache.java"));
        unique.add(checkout.resolve("jbang"));
        List<Path> inputs = new ArrayList<>(unique);
        long newest = Long.MIN_VALUE;
        for (Path p : inputs) newest = Math.max(newest, mtimeNanos(p));
        if (newest >= mark) {
            clock.waitPast(secondAfter(newest));
            return false;
        }
        write(cache, text(script, ruleJava, info, inputs).getBytes(NAMES), mark - 1);
        try {
            compileSelf(launch.resolve("LaunchCache.java"), cache.getParent(), mark);
        } catch (IOException | Failure e) {
            System.err.println("launch cache: " + e.getMessage() + " (the helper stays in source mode)");
        }
        return true;
    }

    /** The first moment whose `mark` (see attempt) lies past {@code nanos}. */
    private static long secondAfter(long nanos) {
        return Math.floorDiv(nanos, SECOND) * SECOND + SECOND + CLOCK_SLACK_NANOS;
    }

    // ------------------------------------------------------------------ JBang

    /**
     * What one launch needs, from `jbang info tools`: the one reader of that output (the tests
     * build their JVM commands with it too).
     */
    record Info(Path java, List<String> options, String mainClass, List<Path> classPath, List<Path> sources) {
        /** Reads the JSON that `jbang info tools <script>` prints. */
        static Info parse(String json) throws Failure {
            Map<?, ?> o = (Map<?, ?>) new Json(json).value();
            List<Path> classPath = new ArrayList<>();
            classPath.add(Path.of(string(o, "applicationJar")));
            for (String d : strings(o, "resolvedDependencies")) classPath.add(Path.of(d));
            List<Path> sources = new ArrayList<>();
            Object list = o.get("sources");
            if (!(list instanceof List<?> l) || l.isEmpty()) throw new Failure("jbang info tools lists no sources");
            for (Object s : l) sources.add(Path.of(string((Map<?, ?>) s, "backingResource")));
            return new Info(Path.of(string(o, "availableJdkPath"), "bin", "java"), strings(o, "runtimeOptions"),
                    string(o, "mainClass"), classPath, sources);
        }

        /** The JVM command JBang would exec for {@code script}, plus where the script is (-Dfm.script). */
        List<String> command(Path script) {
            List<String> cmd = new ArrayList<>();
            cmd.add(java.toString());
            cmd.addAll(options);
            cmd.add("-Dfm.script=" + script); // where JBang puts -D options: after the script's own
            cmd.add("-classpath");
            List<String> cp = new ArrayList<>();
            for (Path p : classPath) cp.add(p.toString());
            cmd.add(String.join(File.pathSeparator, cp));
            cmd.add(mainClass);
            return cmd;
        }
    }

    /**
     * Builds (JBang does nothing when the jar for these sources exists: its directory is named
     * after a hash of all of them) and returns the facts of `jbang info tools`, which knows the
     * main class only once the jar is built.
     */
    private static Info resolve(Path checkout, Path script) throws IOException, InterruptedException, Failure {
        String jbang = checkout.resolve("jbang").toString();
        jbang(List.of(jbang, "build", script.toString()), checkout, BUILD_LIMIT_SECONDS);
        Info info = info(jbang, checkout, script);
        for (Path p : info.classPath) {
            if (!Files.isRegularFile(p)) throw new Failure("jbang build left no " + p);
        }
        return info;
    }

    private static Info info(String jbang, Path checkout, Path script) throws IOException, InterruptedException, Failure {
        return Info.parse(jbang(List.of(jbang, "info", "tools", script.toString()), checkout, INFO_LIMIT_SECONDS));
    }

    /** Runs ./jbang and returns its stdout; its stderr is shown only when it fails (FM_DEBUG=1). */
    private static String jbang(List<String> cmd, Path cwd, long limitSeconds)
            throws IOException, InterruptedException, Failure {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile());
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        // Files, not pipes: a JBang that hangs with its output open cannot stall us past the limit.
        Path out = Files.createTempFile("fm-launch-jbang", ".out");
        Path err = Files.createTempFile("fm-launch-jbang", ".err");
        try {
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(limitSeconds, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new Failure(String.join(" ", cmd) + " did not finish within " + limitSeconds + " s");
            }
            if (p.exitValue() != 0) {
                throw new Failure(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): "
                        + Files.readString(err).strip().replace('\n', ' '));
            }
            return new String(Files.readAllBytes(out), Charset.defaultCharset());
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private static String string(Map<?, ?> o, String key) throws Failure {
        if (!(o.get(key) instanceof String s) || s.isEmpty()) throw new Failure("jbang info tools gives no " + key);
        return s;
    }

    private static List<String> strings(Map<?, ?> o, String key) throws Failure {
        List<String> out = new ArrayList<>();
        Object v = o.get(key);
        if (v == null) return out;
        if (!(v instanceof List<?> l)) throw new Failure("jbang info tools: " + key + " is not a list");
        for (Object s : l) out.add((String) s);
        return out;
    }

    // ------------------------------------------------------------------ the cache file

    /** The shell text: which inputs make it stale, and the exact command JBang would exec. */
    static String text(Path script, Path ruleJava, Info info, List<Path> inputs) {
        StringBuilder s = new StringBuilder();
        s.append("# Launch cache of ").append(script).append(", written by launch/LaunchCache.java for launch/launch.sh.\n");
        s.append("# Do not edit: any change to an input below makes the next run rebuild and rewrite it.\n");
        s.append("fm_fresh() {\n");
        s.append("  fm_self ").append(quote(script.toString())).append(" &&\n");
        s.append("  fm_jdk ").append(quote(ruleJava.toString()));
        for (Path p : inputs) s.append(" &&\n  fm_in ").append(quote(p.toString()));
        for (Path p : info.classPath) s.append(" &&\n  fm_jar ").append(quote(p.toString()));
        s.append("\n}\n");
        s.append("fm_run() {\n  exec");
        for (String c : info.command(script)) s.append(' ').append(quote(c));
        s.append(" \"$@\"\n}\n");
        // Last, so a cache cut short anywhere (a crash of the disk, not of us: we rename) is ignored.
        s.append("fm_format=").append(FORMAT).append('\n');
        return s.toString();
    }

    /**
     * Single quotes keep every byte (spaces, $, newlines); a quote itself is closed, escaped, reopened.
     * A copy of lib/ShellWord.java's rule, since this file is compiled alone and sources nothing.
     */
    static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /**
     * Written to a temporary file, flushed, stamped, then renamed over the target: a reader sees
     * the old file or the new one, never part of one (a torn cache would be sourced by the shell).
     */
    private static void write(Path target, byte[] content, long mtimeNanos) throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp." + ProcessHandle.current().pid());
        try (FileChannel ch = FileChannel.open(tmp, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                PRIVATE_FILE)) {
            ByteBuffer b = ByteBuffer.wrap(content);
            while (b.hasRemaining()) ch.write(b);
            ch.force(true);
        }
        Files.setLastModifiedTime(tmp, FileTime.from(mtimeNanos, TimeUnit.NANOSECONDS));
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * Compiles this very file into .fm-launch-2/LaunchCache.jar when that is missing or older than
     * the source: source mode costs about 2 CPU-s of javac on every slow path (forty at once after
     * an edit: forty of them), the jar a plain JVM start. launch.sh runs the jar while it is not
     * older than the source; it carries the same back-dated mtime as the caches, so an edit of
     * this file during the compile sends the next slow path back to source mode. A running helper
     * keeps the jar it opened, so replacing it by rename disturbs no one.
     */
    private static void compileSelf(Path source, Path dir, long mark) throws IOException, Failure {
        Path jar = dir.resolve("LaunchCache.jar");
        long sourceTime = mtimeNanos(source);
        if (Files.isRegularFile(jar) && mtimeNanos(jar) >= sourceTime) return;
        if (sourceTime >= mark) return; // edited just now: too new to stamp safely; next time
        javax.tools.JavaCompiler javac = javax.tools.ToolProvider.getSystemJavaCompiler();
        if (javac == null) throw new Failure("this java has no compiler (a JRE?); JBang needs a JDK too");
        Path classes = Files.createTempDirectory(dir, "classes.tmp.");
        try {
            java.io.StringWriter diagnostics = new java.io.StringWriter();
            boolean ok = javac.getTask(diagnostics, null, null,
                    List.of("--release", "17", "-nowarn", "-d", classes.toString()), null,
                    javac.getStandardFileManager(null, null, null).getJavaFileObjects(source.toFile())).call();
            if (!ok) throw new Failure("cannot compile " + source + ": " + diagnostics.toString().strip());
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            try (java.util.jar.JarOutputStream out = new java.util.jar.JarOutputStream(bytes);
                    DirectoryStream<Path> files = Files.newDirectoryStream(classes, "*.class")) {
                for (Path f : files) {
                    out.putNextEntry(new java.util.jar.JarEntry(f.getFileName().toString()));
                    out.write(Files.readAllBytes(f));
                    out.closeEntry();
                }
            }
            write(jar, bytes.toByteArray(), mark - 1);
        } finally {
            try (DirectoryStream<Path> files = Files.newDirectoryStream(classes)) {
                for (Path f : files) Files.deleteIfExists(f);
            }
            Files.deleteIfExists(classes);
        }
    }

    // ------------------------------------------------------------------ trust

    /**
     * Creates the cache directory, or checks the one there: a directory (not a link) of this
     * user's. Takes group and other write off one that has them and returns true: then it was
     * open to others, and the caller empties it under the lock. Refuses one of another user:
     * we cannot make it private, and launch.sh never uses it either.
     */
    private static boolean makePrivate(Path dir, int me) throws IOException, Failure {
        try {
            Files.createDirectory(dir, PRIVATE_DIR);
            return false;
        } catch (java.nio.file.FileAlreadyExistsException e) {
            // ours from an earlier run, or not: look
        }
        Map<String, Object> a = Files.readAttributes(dir, "unix:uid,mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
        int mode = (Integer) a.get("mode");
        if ((mode & 0170000) != 0040000 || (Integer) a.get("uid") != me) {
            throw new Failure(dir + " is not a directory of yours (owner uid " + a.get("uid") + "); remove it");
        }
        if ((mode & GROUP_OR_OTHER_WRITE) == 0) return false;
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        System.err.println("launch cache: " + dir + " was writable by others (mode " + Integer.toOctalString(mode & 07777)
                + "): made it private and emptied it before building");
        return true;
    }

    /**
     * Under the lock (no writer then): removes what helpers killed mid-write left, anything that
     * is not a regular file of this user's without group or other write, and, when the directory
     * was open to others ({@code all}), everything but the lock: none of it can be proven ours.
     */
    private static void removeUntrusted(Path dir, Path lockFile, int me, boolean all) throws IOException {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                if (p.equals(lockFile)) continue;
                if (!all && !p.getFileName().toString().contains(".tmp.") && trusted(p, me)) continue;
                if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    try (DirectoryStream<Path> inner = Files.newDirectoryStream(p)) {
                        for (Path f : inner) Files.deleteIfExists(f);
                    }
                }
                Files.deleteIfExists(p);
            }
        }
    }

    /** A regular file (not a link) of this user's that no one else may write: what launch.sh may use. */
    static boolean trusted(Path p, int me) throws IOException {
        try {
            Map<String, Object> a = Files.readAttributes(p, "unix:uid,mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
            int mode = (Integer) a.get("mode");
            return (mode & 0170000) == 0100000 && (Integer) a.get("uid") == me && (mode & GROUP_OR_OTHER_WRITE) == 0;
        } catch (java.nio.file.NoSuchFileException e) {
            return false;
        }
    }

    /**
     * The uid this process creates files as, which is what launch.sh's [ -O ] compares with: the
     * owner of a file made for the purpose. One temporary file per build, and no copy of the
     * /proc reading lib/CheckTrust.java does (this file compiles alone).
     */
    private static int myUid() throws IOException {
        Path probe = Files.createTempFile("fm-launch-uid", null);
        try {
            return (Integer) Files.getAttribute(probe, "unix:uid");
        } finally {
            Files.deleteIfExists(probe);
        }
    }

    // ------------------------------------------------------------------ //SOURCES

    /**
     * The files the script's //SOURCES lines reach, followed through each file's own lines
     * (relative to that file; a glob names files of its directory). A guess for the shortcut in
     * run() only, so it never fails: JBang's own list (Info.sources) is what the cache checks.
     */
    static java.util.Set<Path> sourcesGraph(Path script) {
        java.util.Set<Path> seen = new java.util.LinkedHashSet<>();
        java.util.Deque<Path> todo = new java.util.ArrayDeque<>(List.of(script));
        while (!todo.isEmpty()) {
            Path f = todo.pop().toAbsolutePath().normalize();
            if (!seen.add(f)) continue;
            List<String> lines;
            try {
                // Directives are ASCII; Latin-1 reads any byte, so no file is unreadable for its text.
                lines = Files.readAllLines(f, java.nio.charset.StandardCharsets.ISO_8859_1);
            } catch (IOException | RuntimeException e) {
                continue;
            }
            for (String l : lines) {
                if (!l.startsWith("//SOURCES ")) continue;
                for (String ref : l.substring("//SOURCES ".length()).trim().split("\\s+")) {
                    if (ref.isEmpty() || ref.contains("://")) continue;
                    Path p = f.resolveSibling(ref);
                    if (ref.indexOf('*') < 0 && ref.indexOf('?') < 0) {
                        todo.add(p);
                        continue;
                    }
                    try (DirectoryStream<Path> d = Files.newDirectoryStream(p.getParent(), p.getFileName().toString())) {
                        for (Path g : d) todo.add(g);
                    } catch (IOException | RuntimeException e) {
                        // a glob over a directory that is not there: JBang will say so
                    }
                }
            }
        }
        return seen;
    }

    // ------------------------------------------------------------------ file-system time

    private static Object fileKey(Path p) throws IOException {
        try {
            return Objects.requireNonNull(Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class)
                    .fileKey(), "file key");
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        }
    }

    private static long mtimeNanos(Path p) throws IOException {
        return Files.getLastModifiedTime(p).to(TimeUnit.NANOSECONDS);
    }

    /**
     * The file system's clock: the mtime a write stamps, which is the clock every edit of a source
     * is stamped with too (the system clock can run a few ms ahead of it). We write to the lock
     * file we hold, which nobody reads.
     */
    record FsClock(FileChannel lock, Path lockFile) {
        long now() throws IOException {
            lock.write(ByteBuffer.wrap(new byte[] {'\n'}), 0);
            return mtimeNanos(lockFile);
        }

        /** Sleeps until the clock reaches {@code nanos}; gives up on a time far ahead. */
        void waitPast(long nanos) throws IOException, InterruptedException, Failure {
            long now = now();
            if (nanos - now > 5 * SECOND) throw new Failure("a source's mtime is in the future; touch it");
            while (now < nanos) {
                Thread.sleep(Math.max(1, TimeUnit.NANOSECONDS.toMillis(nanos - now) + 1));
                now = now();
            }
        }
    }

    // ------------------------------------------------------------------ JSON

    /** Just enough JSON for `jbang info tools`: objects, arrays, strings, and the other literals. */
    static final class Json {
        private final String s;
        private int i;

        Json(String s) { this.s = s; }

        Object value() throws Failure {
            Object v = parse();
            skip();
            if (i != s.length()) throw new Failure("jbang info tools: trailing text at " + i);
            return v;
        }

        private Object parse() throws Failure {
            skip();
            if (i >= s.length()) throw new Failure("jbang info tools: JSON ends early");
            char c = s.charAt(i);
            if (c == '{') {
                i++;
                Map<String, Object> m = new LinkedHashMap<>();
                skip();
                if (peek('}')) return m;
                do {
                    skip();
                    String k = str();
                    skip();
                    expect(':');
                    m.put(k, parse());
                    skip();
                } while (peek(','));
                expect('}');
                return m;
            }
            if (c == '[') {
                i++;
                List<Object> l = new ArrayList<>();
                skip();
                if (peek(']')) return l;
                do {
                    l.add(parse());
                    skip();
                } while (peek(','));
                expect(']');
                return l;
            }
            if (c == '"') return str();
            int from = i;
            while (i < s.length() && ",}] \t\r\n".indexOf(s.charAt(i)) < 0) i++;
            String word = s.substring(from, i);
            if (word.equals("null")) return null;
            if (word.equals("true") || word.equals("false")) return Boolean.valueOf(word);
            if (word.isEmpty()) throw new Failure("jbang info tools: unexpected '" + c + "' at " + from);
            return word; // a number: nothing here reads one
        }

        private String str() throws Failure {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                if (i >= s.length()) throw new Failure("jbang info tools: unterminated string");
                char c = s.charAt(i++);
                if (c == '"') return b.toString();
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                if (i >= s.length()) throw new Failure("jbang info tools: unterminated string");
                char e = s.charAt(i++);
                switch (e) {
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        if (i + 4 > s.length()) throw new Failure("jbang info tools: bad \\u escape");
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                    }
                    default -> b.append(e); // \" \\ \/
                }
            }
        }

        private void skip() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }

        private boolean peek(char c) {
            if (i < s.length() && s.charAt(i) == c) {
                i++;
                return true;
            }
            return false;
        }

        private void expect(char c) throws Failure {
            if (!peek(c)) throw new Failure("jbang info tools: expected '" + c + "' at " + i);
        }
    }
}
