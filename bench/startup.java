//usr/bin/env true; exec "$(dirname "$0")/../jbang" "$0" "$@"
//JAVA 17+
//SOURCES BenchKit.java ../tests/TestKit.java
//MAIN Startup

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Start-up of the four commands firstmate's tools run most, in one run, variants interleaved
 * round by round (who goes first rotates) so that load drifts hit them all alike:
 *   guard     fm-guard.java in a busy home (a task in flight, a fresh beacon): prints nothing
 *   drain     fm-wake-drain.java on an empty queue (same home): prints nothing
 *   identity  FmLock.java identity <our pid>: one line
 *   arm       fm-watch-arm.java until its status line `watcher: started ...` (then TERM)
 *   status    fm-status.java in the busy home (no watcher holds the lock: the DOWN verdict, exit 1)
 * each three ways:
 *   direct    the script executed by path (the fast path: one JVM when the build is current)
 *   jbang     ./jbang <script> (JBang's launcher JVM, then the script's)
 *   jvm       the bare JVM command JBang execs (TestKit.javaCommand): the floor of the fast path
 * beside a bare-JVM hello world (bench/hello.java compiled with javac, `java -cp dir hello`, no
 * options), which every ratio divides by. Prints per variant the median wall time with its
 * spread (min, p90, max) and the median CPU of the whole process tree (the arm's up to its
 * status line); then direct/hello (target <= 2x; in CPU too, which load disturbs less),
 * jbang/hello and jbang/direct.
 *   bench/startup.java [--runs N] [--cds]   N rounds (default 11); about 2 min on a quiet 2-core box
 *   --cds   also guard, identity and arm with an application class-data archive (one training
 *           run each, -XX:ArchiveClassesAtExit), and what that saves against the bare JVM
 */
class Startup {
    static final List<String> COMMANDS = List.of("guard", "drain", "identity", "arm", "status");
    static final Map<String, String> SCRIPTS = Map.of("guard", "fm-guard.java", "drain", "fm-wake-drain.java",
            "identity", "FmLock.java", "arm", "fm-watch-arm.java", "status", "fm-status.java");

    public static void main(String[] args) throws Exception {
        int runs = BenchKit.intArg(args, "--runs", 11);
        boolean cds = List.of(args).contains("--cds");
        Path root = TestKit.root();
        BenchKit.machine();
        Path busy = BenchKit.tempHome("fm-bench-busy");
        Files.writeString(busy.resolve("state/task.meta"), "window=fleet:task\n");
        Path armHome = BenchKit.tempHome("fm-bench-arm");
        String self = Long.toString(ProcessHandle.current().pid());

        List<String> bareGuard = TestKit.javaCommand("fm-guard.java");
        Path helloDir = Files.createTempDirectory("fm-bench-hello");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> TestKit.deleteTree(helloDir)));
        Path javac = Path.of(bareGuard.get(0)).resolveSibling("javac");
        Process compile = new ProcessBuilder(javac.toString(), "-d", helloDir.toString(),
                root.resolve("bench/hello.java").toString()).inheritIO().start();
        if (compile.waitFor() != 0) throw new IllegalStateException("javac bench/hello.java failed");

        Map<String, Variant> variants = new LinkedHashMap<>();
        variants.put("hello", new Variant(List.of(bareGuard.get(0), "-cp", helloDir.toString(), "hello"), null, false));
        for (String c : COMMANDS) {
            String script = SCRIPTS.get(c);
            List<String> extra = c.equals("identity") ? List.of("identity", self) : List.of();
            Map<String, String> env = Map.of("FM_HOME", (c.equals("arm") ? armHome : busy).toString());
            boolean arm = c.equals("arm");
            List<String> direct = new ArrayList<>(List.of(root.resolve(script).toString()));
            direct.addAll(extra);
            List<String> jbang = new ArrayList<>(List.of(root.resolve("jbang").toString(), script));
            jbang.addAll(extra);
            variants.put(c + " direct", new Variant(direct, env, arm));
            variants.put(c + " jbang", new Variant(jbang, env, arm));
            variants.put(c + " jvm", new Variant(TestKit.command(script, extra.toArray(String[]::new)), env, arm));
            if (cds && !c.equals("drain") && !c.equals("status")) {
                variants.put(c + " jvm+cds", withArchive(c, TestKit.command(script, extra.toArray(String[]::new)), env, arm,
                        helloDir, root));
            }
        }

        Map<String, List<Double>> wall = new LinkedHashMap<>();
        Map<String, List<Double>> cpu = new LinkedHashMap<>();
        for (String v : variants.keySet()) {
            wall.put(v, new ArrayList<>());
            cpu.put(v, new ArrayList<>());
        }
        List<String> names = new ArrayList<>(variants.keySet());
        for (int round = -2; round < runs; round++) { // two warm-up rounds: page cache, builds, launch caches
            for (int i = 0; i < names.size(); i++) {
                String v = names.get(Math.floorMod(round + i, names.size()));
                freshBeacon(busy); // the guard's home stays busy and healthy: it must print nothing
                double[] m = variants.get(v).measure(v, root);
                if (round < 0) continue;
                wall.get(v).add(m[0]);
                cpu.get(v).add(m[1]);
            }
        }

        for (String v : names) {
            List<Double> w = wall.get(v);
            BenchKit.figure("startup " + v, BenchKit.f(BenchKit.median(w), 3) + " s wall",
                    "median of " + runs + "; min " + BenchKit.f(java.util.Collections.min(w), 3) + ", p90 "
                            + BenchKit.f(BenchKit.quantile(w, 0.9), 3) + ", max " + BenchKit.f(BenchKit.max(w), 3)
                            + "; cpu median " + BenchKit.f(BenchKit.median(cpu.get(v)), 3) + " s");
        }
        double hello = BenchKit.median(wall.get("hello"));
        double helloCpu = BenchKit.median(cpu.get("hello"));
        for (String c : COMMANDS) {
            double direct = BenchKit.median(wall.get(c + " direct"));
            double jbang = BenchKit.median(wall.get(c + " jbang"));
            double jvm = BenchKit.median(wall.get(c + " jvm"));
            BenchKit.figure("startup " + c + " direct / hello", BenchKit.f(direct / hello, 2) + "x wall",
                    "target <= 2x; cpu " + BenchKit.f(BenchKit.median(cpu.get(c + " direct")) / helloCpu, 2)
                            + "x; jbang / hello " + BenchKit.f(jbang / hello, 2) + "x wall; jbang / direct "
                            + BenchKit.f(jbang / direct, 1) + "x wall; direct - jvm " + BenchKit.f((direct - jvm) * 1000, 0) + " ms");
            if (wall.containsKey(c + " jvm+cds")) {
                double jvmCpu = BenchKit.median(cpu.get(c + " jvm"));
                BenchKit.figure("startup " + c + " class-data sharing saves",
                        BenchKit.f(100 * (jvmCpu - BenchKit.median(cpu.get(c + " jvm+cds"))) / jvmCpu, 0) + " % cpu",
                        BenchKit.f(100 * (jvm - BenchKit.median(wall.get(c + " jvm+cds"))) / jvm, 0) + " % wall, against jvm");
            }
        }
        BenchKit.figure("load after", BenchKit.loadAverage(), "");
    }

    /**
     * The bare JVM command with an application class-data archive, made by one training run of
     * the same command (the arm's in a scratch home, where an immediate heartbeat ends it).
     */
    private static Variant withArchive(String name, List<String> bare, Map<String, String> env, boolean arm, Path dir,
            Path root) throws Exception {
        Path jsa = dir.resolve(name + ".jsa");
        List<String> train = new ArrayList<>(bare);
        train.add(1, "-XX:ArchiveClassesAtExit=" + jsa);
        Map<String, String> trainEnv = new java.util.HashMap<>(env);
        if (arm) {
            trainEnv.put("FM_HOME", BenchKit.tempHome("fm-bench-train").toString());
            trainEnv.put("FM_HEARTBEAT", "0");
            trainEnv.put("FM_POLL", "0");
        }
        BenchKit.run(train, trainEnv, root, 120);
        if (!Files.isRegularFile(jsa)) throw new IllegalStateException("the training run of " + name + " wrote no archive");
        List<String> cmd = new ArrayList<>(bare);
        cmd.addAll(1, List.of("-XX:SharedArchiveFile=" + jsa, "-Xlog:cds*=off"));
        return new Variant(cmd, env, arm);
    }

    private static void freshBeacon(Path home) throws IOException {
        Path beacon = home.resolve("state/.last-watcher-beat");
        if (!Files.exists(beacon)) Files.createFile(beacon);
        Files.setLastModifiedTime(beacon, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis()));
    }

    /** One way of starting one command; {@code untilFirstLine}: timed to its first stdout line, then TERM. */
    record Variant(List<String> cmd, Map<String, String> env, boolean untilFirstLine) {
        /** Wall seconds, and CPU seconds of the process tree (for the arm: up to its status line). */
        double[] measure(String name, Path root) throws Exception {
            if (!untilFirstLine) {
                BenchKit.Run r = BenchKit.run(cmd, env, root, 300);
                boolean identity = name.startsWith("identity");
                boolean status = name.startsWith("status");
                String expected = name.startsWith("hello") ? "hello\n" : "";
                boolean ok = r.exit() == (status ? 1 : 0) && r.stderr().isEmpty()
                        && (identity ? r.stdout().startsWith("fm-java-") : status
                                ? r.stdout().startsWith("supervision: DOWN - ") : r.stdout().equals(expected));
                if (!ok) {
                    throw new IllegalStateException(name + " misbehaved (exit " + r.exit() + "): stdout=" + r.stdout()
                            + " stderr=" + r.stderr());
                }
                return new double[] {r.wallSeconds(), r.cpuSeconds()};
            }
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile());
            pb.environment().keySet().removeIf(k -> k.startsWith("FM_"));
            pb.environment().putAll(env);
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.redirectError(ProcessBuilder.Redirect.DISCARD);
            long t0 = System.nanoTime();
            Process p = pb.start();
            String line;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                line = r.readLine();
                double wall = (System.nanoTime() - t0) / 1e9;
                // CPU so far: the process's own (it exec'd the JVM, the times stay) and what it reaped
                // (the JBang launcher JVM of ./jbang, the first line's `env`).
                double cpu = (BenchKit.ownTicks(p.pid()) + BenchKit.reapedTicks(p.pid())) * BenchKit.TICK_SECONDS;
                p.destroy(); // TERM: the arm releases the lock and exits 143
                if (!p.waitFor(60, TimeUnit.SECONDS)) p.destroyForcibly();
                if (line == null || !line.startsWith("watcher: started pid=" + p.pid() + " ")) {
                    throw new IllegalStateException(name + " misbehaved: first line " + line);
                }
                return new double[] {wall, cpu};
            }
        }
    }
}
