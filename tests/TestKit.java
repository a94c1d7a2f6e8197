//SOURCES ../launch/LaunchCache.java

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * Shared test plumbing: where the checkout is, the exact JVM command JBang runs for a
 * script, processes that are always cleaned up, temporary homes, and waiting on conditions
 * (never on fixed sleeps). One file despite its length: every test class reads it first, and
 * the process bookkeeping and the home fixture share the kit's list of what to clean up.
 */
final class TestKit implements AutoCloseable {
    private static final Map<String, LaunchCache.Info> INFOS = new HashMap<>();
    private final List<Process> started = new ArrayList<>();
    private final List<Path> temps = new ArrayList<>();

    /** The checkout: the nearest directory upwards from the working directory holding FmLock.java. */
    static Path root() {
        Path p = Path.of("").toAbsolutePath();
        for (Path q = p; q != null; q = q.getParent()) {
            if (Files.isRegularFile(q.resolve("FmLock.java")) && Files.isRegularFile(q.resolve("jbang"))) return q;
        }
        throw new IllegalStateException("run the tests from the checkout (no FmLock.java above " + p + ")");
    }

    /**
     * The command line JBang would exec for {@code script} (built once, then reused): the JDK,
     * the script's //JAVA_OPTIONS, -Dfm.script, the class path and the main class. Running it
     * directly is what `./script` ends up running, minus JBang's own start-up.
     */
    static List<String> javaCommand(String script) {
        return info(script).command(root().resolve(script));
    }

    /** What `jbang info tools` says of {@code script} once it is built, read by the launch cache's own reader. */
    static synchronized LaunchCache.Info info(String script) {
        return INFOS.computeIfAbsent(script, s -> {
            Path root = root();
            Result build = runQuietly(List.of(root.resolve("jbang").toString(), "build", s), root, Duration.ofMinutes(5));
            if (build.exit != 0) throw new IllegalStateException("jbang build " + s + " failed:\n" + build.stderr);
            Result info = runQuietly(List.of(root.resolve("jbang").toString(), "info", "tools", s), root, Duration.ofMinutes(2));
            if (info.exit != 0) throw new IllegalStateException("jbang info tools " + s + " failed:\n" + info.stderr);
            try {
                return LaunchCache.Info.parse(info.stdout);
            } catch (LaunchCache.Failure e) {
                throw new IllegalStateException("jbang info tools " + s + ": " + e.getMessage());
            }
        });
    }

    /**
     * {@code command} (a {@link #command}) run as nobody, for root tests that need a user whom
     * permissions bind. Nobody may not be able to enter this checkout at all (CI clones it under
     * a private temporary directory), so the class path, the script and the checkout's marker
     * (fm-watch.java) are copied where nobody can read them, and fm.script names the copy.
     */
    List<String> asNobody(List<String> command) throws IOException {
        List<String> cmd = new ArrayList<>(command);
        java.nio.file.attribute.FileAttribute<?> open = java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path copies = tempDir("fm-nobody");
        Files.setPosixFilePermissions(copies, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        int cp = cmd.indexOf("-classpath") + 1;
        List<String> readable = new ArrayList<>();
        for (String entry : cmd.get(cp).split(java.io.File.pathSeparator)) {
            readable.add(readableCopy(Path.of(entry), copies.resolve(readable.size() + "-" + Path.of(entry).getFileName())).toString());
        }
        cmd.set(cp, String.join(java.io.File.pathSeparator, readable));
        Path checkout = Files.createDirectory(copies.resolve("checkout"), open);
        readableCopy(root().resolve("fm-watch.java"), checkout.resolve("fm-watch.java"));
        for (int i = 0; i < cmd.size(); i++) {
            if (!cmd.get(i).startsWith("-Dfm.script=")) continue;
            Path script = Path.of(cmd.get(i).substring("-Dfm.script=".length()));
            Path copy = checkout.resolve(script.getFileName());
            if (!Files.exists(copy)) readableCopy(script, copy);
            cmd.set(i, "-Dfm.script=" + copy);
        }
        cmd.addAll(0, Files.isExecutable(Path.of("/usr/bin/setpriv"))
                ? List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
                : List.of("runuser", "-u", "nobody", "--"));
        return cmd;
    }

    private static Path readableCopy(Path from, Path to) throws IOException {
        Files.copy(from, to);
        Files.setPosixFilePermissions(to, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        return to;
    }

    /** {@link #javaCommand} plus arguments. */
    static List<String> command(String script, String... args) {
        List<String> c = new ArrayList<>(javaCommand(script));
        c.addAll(List.of(args));
        return c;
    }

    // ------------------------------------------------------------------ processes

    record Result(int exit, String stdout, String stderr) {
        List<String> lines() { return stdout.isEmpty() ? List.of() : List.of(stdout.split("\n")); }
    }

    /** Starts a tracked process; {@link #close} kills whatever is still running. */
    Process start(List<String> cmd, Map<String, String> env, Path cwd) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (cwd != null) pb.directory(cwd.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("FM_"));
        if (env != null) pb.environment().putAll(env);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p = pb.start();
        synchronized (started) {
            started.add(p);
        }
        return p;
    }

    /** Runs to completion (killed after {@code limit}) and returns exit, stdout and stderr. */
    Result run(List<String> cmd, Map<String, String> env, Path cwd, Duration limit) throws IOException {
        Process p = start(cmd, env, cwd);
        return finish(p, limit);
    }

    static Result finish(Process p, Duration limit) {
        StringBuilder out = new StringBuilder();
        StringBuilder err = new StringBuilder();
        Thread to = pump(p.getInputStream(), out);
        Thread te = pump(p.getErrorStream(), err);
        try {
            if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                to.join(2000);
                te.join(2000);
                throw new AssertionError("did not finish within " + limit + ": " + p.info().commandLine().orElse("?")
                        + "\nstdout so far:\n" + out + "\nstderr so far:\n" + err);
            }
            to.join(5000);
            te.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        synchronized (out) {
            synchronized (err) {
                return new Result(p.exitValue(), out.toString(), err.toString());
            }
        }
    }

    static Thread pump(InputStream in, StringBuilder sink) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[8192];
            try (in) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    synchronized (sink) {
                        sink.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                    }
                }
            } catch (IOException ignored) {
                // process gone
            }
        }, "test-pump");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static Result runQuietly(List<String> cmd, Path cwd, Duration limit) {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile());
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            return finish(pb.start(), limit);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A running process whose stdout is read line by line as it comes (and stderr kept). */
    static final class Lines {
        final Process process;
        final StringBuilder err = new StringBuilder();
        /** Every line {@link #next} has handed out so far, plus what {@link #all} collected. */
        final List<String> seen = java.util.Collections.synchronizedList(new ArrayList<>());
        /** Counted down once stdout reached its end: every line has been queued. */
        final java.util.concurrent.CountDownLatch eof = new java.util.concurrent.CountDownLatch(1);
        private final java.util.concurrent.BlockingQueue<String> lines = new java.util.concurrent.LinkedBlockingQueue<>();

        Lines(Process p) { this(p, line -> {}); }

        /**
         * Also hands every line to {@code onLine} on the reader thread the moment it arrives,
         * before {@link #next} can take it: for tests that act on a line as soon as it exists.
         */
        Lines(Process p, java.util.function.Consumer<String> onLine) {
            process = p;
            Thread t = new Thread(() -> {
                try (java.io.BufferedReader r = new java.io.BufferedReader(
                        new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    String l;
                    while ((l = r.readLine()) != null) {
                        onLine.accept(l);
                        lines.add(l);
                    }
                } catch (IOException ignored) {
                    // process gone
                } finally {
                    eof.countDown();
                }
            }, "test-lines");
            t.setDaemon(true);
            t.start();
            pump(p.getErrorStream(), err);
        }

        /** The next stdout line; fails the test when none comes within {@code limit}. */
        String next(Duration limit) throws InterruptedException {
            String l = lines.poll(limit.toMillis(), TimeUnit.MILLISECONDS);
            if (l == null) throw new AssertionError("no line within " + limit + "; stderr: " + err());
            seen.add(l);
            return l;
        }

        /** The first line {@link #next} handed out, or null before that. */
        String first() {
            synchronized (seen) {
                return seen.isEmpty() ? null : seen.get(0);
            }
        }

        /** The exit status; fails the test when the process is still running after {@code limit}. */
        int exit(Duration limit) throws InterruptedException {
            if (!process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("still running after " + limit + "; stderr: " + err());
            }
            return process.exitValue();
        }

        /** Once stdout has ended (within {@code limit}): every line, those already taken first. */
        List<String> all(Duration limit) throws InterruptedException {
            if (!eof.await(limit.toMillis(), TimeUnit.MILLISECONDS)) throw new AssertionError("stdout never ended");
            synchronized (seen) {
                lines.drainTo(seen);
                return List.copyOf(seen);
            }
        }

        /** Stderr so far (the pump appends to it from its own thread). */
        String err() {
            synchronized (err) {
                return err.toString();
            }
        }
    }

    // ------------------------------------------------------------------ homes

    /**
     * The knobs of a watcher that only the test wakes: quick polls, no signal linger, and no
     * heartbeat or check sweep due within a test's time.
     */
    static final Map<String, String> QUIET = Map.of("FM_POLL", "0.2", "FM_SIGNAL_GRACE", "0", "FM_HEARTBEAT", "3600",
            "FM_CHECK_INTERVAL", "3600");

    /** {@code base} with the pairs {@code kv} on top. */
    static Map<String, String> knobs(Map<String, String> base, String... kv) {
        Map<String, String> m = new HashMap<>(base);
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return Map.copyOf(m);
    }

    /**
     * A new temporary home with {@code knobs} and then the pairs {@code kv} set, in one call so that
     * a test class can hold it in a field (a failure to make it fails the test, unchecked).
     */
    Home home(String prefix, Map<String, String> knobs, String... kv) {
        try {
            Home h = new Home(this, prefix);
            h.env.putAll(knobs);
            return h.set(kv);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * A temporary home with its state directory and the environment that points the scripts at
     * it: FM_HOME, a UTF-8 locale, and TMUX_TMPDIR inside the home so no real tmux server of the
     * machine is ever reached. Each test sets its own knobs on top ({@link #set}).
     */
    static final class Home {
        final TestKit kit;
        final Path home;
        final Path state;
        final Map<String, String> env = new HashMap<>();
        /** How long {@link #run} lets a script take. */
        Duration limit = Duration.ofMinutes(2);

        Home(TestKit kit, String prefix) throws IOException { this(kit, kit.tempDir(prefix)); }

        Home(TestKit kit, Path home) throws IOException {
            this.kit = kit;
            this.home = home;
            this.state = Files.createDirectories(home.resolve("state"));
            env.put("FM_HOME", home.toString());
            env.put("LANG", "C.UTF-8");
            env.put("LC_ALL", "C.UTF-8");
            env.put("TMUX_TMPDIR", home.toString());
        }

        /** Sets environment pairs (name, value, name, value...) for every later start. */
        Home set(String... kv) {
            for (int i = 0; i < kv.length; i += 2) env.put(kv[i], kv[i + 1]);
            return this;
        }

        /** {@link #env} with the pairs {@code kv} on top, leaving this home's own untouched. */
        Map<String, String> env(String... kv) {
            Map<String, String> e = new HashMap<>(env);
            for (int i = 0; i < kv.length; i += 2) e.put(kv[i], kv[i + 1]);
            return e;
        }

        /** The script started in the home with this home's environment. */
        Process start(String script, String... args) throws IOException {
            return kit.start(command(script, args), env, home);
        }

        /** {@link #start} read line by line. */
        Lines lines(String script, String... args) throws IOException {
            return new Lines(start(script, args));
        }

        /** Sets how long {@link #run} lets a script take. */
        Home limit(Duration d) {
            limit = d;
            return this;
        }

        /** {@link #start} run to its end within {@link #limit}. */
        Result run(String script, String... args) throws IOException {
            return finish(start(script, args), limit);
        }

        Path write(String name, String content) throws IOException {
            return Files.writeString(state.resolve(name), content);
        }

        Path write(String name, byte[] content) throws IOException {
            return Files.write(state.resolve(name), content);
        }

        String read(String name) throws IOException {
            return Files.readString(state.resolve(name));
        }

        /** The queue's records as [kind, key, payload, ...]; fails on a line that is not five fields with a 10-digit seq. */
        List<List<String>> records() throws IOException {
            List<List<String>> out = new ArrayList<>();
            Path q = state.resolve(".wake-queue");
            if (!Files.exists(q)) return out;
            for (String line : Files.readAllLines(q, StandardCharsets.UTF_8)) {
                String[] f = line.split("\t", -1);
                if (f.length != 5 || !f[0].matches("[0-9]{10}")) throw new AssertionError("not a queue record: " + line);
                out.add(List.of(f[1], f[2], f[3], f[4]));
            }
            return out;
        }

        /** No watcher lock, owner directory or steal mutex is left in the state directory. */
        void assertNoLockLeft() throws IOException {
            try (Stream<Path> s = Files.list(state)) {
                List<String> left = s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".watch.lock")).toList();
                if (!left.isEmpty()) throw new AssertionError("lock files left: " + left);
            }
        }
    }

    // ------------------------------------------------------------------ files and time

    Path tempDir(String prefix) throws IOException {
        Path d = Files.createTempDirectory(prefix).toRealPath();
        synchronized (temps) {
            temps.add(d);
        }
        return d;
    }

    /** Polls {@code condition} every 20 ms until it holds; false when {@code limit} passed first. */
    static boolean waitFor(Duration limit, BooleanSupplier condition) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            if (condition.getAsBoolean()) return true;
            if (System.nanoTime() > deadline) return false;
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }

    /**
     * Whether the main thread of the JVM {@code pid} (started from a {@link #javaCommand}) is
     * inside every one of {@code frames} ("Watcher.linger") right now, from its thread dump
     * (jcmd, by pid): proof of where a process is, where a wait would only make it likely.
     */
    static boolean mainThreadIn(long pid, String... frames) {
        Path jcmd = Path.of(javaCommand("fm-watch.java").get(0)).resolveSibling("jcmd");
        try {
            ProcessBuilder pb = new ProcessBuilder(jcmd.toString(), Long.toString(pid), "Thread.print");
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            String dump = finish(pb.start(), Duration.ofSeconds(60)).stdout;
            int main = dump.indexOf("\"main\"");
            if (main < 0) return false;
            int end = dump.indexOf("\n\n", main);
            String stack = dump.substring(main, end < 0 ? dump.length() : end);
            for (String frame : frames) if (!stack.contains("at " + frame + "(")) return false;
            return true;
        } catch (IOException | AssertionError e) {
            return false; // not a JVM (any more), or no answer: not provably there
        }
    }

    /** A process that lives until killed and is ours to kill (a plain `sleep`). */
    Process sleeper() throws IOException {
        return start(List.of("sleep", "3600"), Map.of(), null);
    }

    @Override
    public void close() {
        List<Process> all;
        synchronized (started) {
            all = new ArrayList<>(started);
            started.clear();
        }
        for (Process p : all) {
            if (!p.isAlive()) continue;
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.toHandle().destroyForcibly();
        }
        for (Process p : all) {
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        List<Path> dirs;
        synchronized (temps) {
            dirs = new ArrayList<>(temps);
            temps.clear();
        }
        for (Path d : dirs) deleteTree(d);
    }

    static void deleteTree(Path d) {
        if (!Files.exists(d, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> s = Files.walk(d)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    p.toFile().setWritable(true);
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort: a temp dir left behind is not a test failure
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
