//usr/bin/env true; exec "$(dirname "$0")/../jbang" "$0" "$@"
//JAVA 17+
//SOURCES BenchKit.java ../tests/TestKit.java
//MAIN Startup

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Start-up of fm-guard.java, fm-wake-drain.java (empty queue, no task in flight) and fm-status.java
 * (idle) against a
 * JBang hello world, at two levels, in one run with the variants interleaved round by round so
 * that load drifts hit them all alike:
 *   jbang  the whole `./jbang <script>` (the JBang launcher JVM plus the script's JVM)
 *   jvm    only the command JBang execs (JDK, //JAVA_OPTIONS, jar, main class)
 * hello.java has no options; hello-opts.java carries fm-guard.java's //JAVA_OPTIONS, so both
 * comparisons are shown. Prints per variant the median wall and CPU seconds (CPU of the whole
 * process tree), then the ratios against both baselines (target: guard and drain within 1.15x
 * of hello at the jbang level).
 *   bench/startup.java [--runs N]     N rounds (default 15); about 1 min on a quiet 2-core box
 */
class Startup {
    public static void main(String[] args) throws Exception {
        int runs = BenchKit.intArg(args, "--runs", 15);
        Path root = TestKit.root();
        Path home = BenchKit.tempHome("fm-bench-startup");
        Map<String, String> env = Map.of("FM_HOME", home.toString());
        BenchKit.machine();
        String guardOptions = optionsLine(root.resolve("fm-guard.java"));
        if (!guardOptions.equals(optionsLine(root.resolve("bench/hello-opts.java")))) {
            BenchKit.figure("warning", "bench/hello-opts.java's //JAVA_OPTIONS differ from fm-guard.java's",
                    "copy the line over for a fair baseline");
        }

        String jbang = root.resolve("jbang").toString();
        Map<String, List<String>> viaJbang = new LinkedHashMap<>();
        viaJbang.put("hello", List.of(jbang, "bench/hello.java"));
        viaJbang.put("hello-opts", List.of(jbang, "bench/hello-opts.java"));
        viaJbang.put("fm-guard", List.of(jbang, "fm-guard.java"));
        viaJbang.put("fm-wake-drain", List.of(jbang, "fm-wake-drain.java"));
        viaJbang.put("fm-status", List.of(jbang, "fm-status.java"));
        Map<String, List<String>> bareJvm = new LinkedHashMap<>();
        bareJvm.put("hello", TestKit.javaCommand("bench/hello.java"));
        bareJvm.put("hello-opts", TestKit.javaCommand("bench/hello-opts.java"));
        bareJvm.put("fm-guard", TestKit.javaCommand("fm-guard.java"));
        bareJvm.put("fm-wake-drain", TestKit.javaCommand("fm-wake-drain.java"));
        bareJvm.put("fm-status", TestKit.javaCommand("fm-status.java"));

        measure("jbang", viaJbang, runs, env, root);
        measure("jvm", bareJvm, runs, env, root);
        BenchKit.figure("load after", BenchKit.loadAverage(), "");
    }

    private static void measure(String level, Map<String, List<String>> variants, int runs, Map<String, String> env,
            Path root) throws Exception {
        Map<String, List<Double>> wall = new LinkedHashMap<>();
        Map<String, List<Double>> cpu = new LinkedHashMap<>();
        for (String v : variants.keySet()) {
            wall.put(v, new ArrayList<>());
            cpu.put(v, new ArrayList<>());
        }
        List<String> names = new ArrayList<>(variants.keySet());
        for (int round = -2; round < runs; round++) { // two warm-up rounds: page cache, JBang's cache
            for (int i = 0; i < names.size(); i++) {
                String v = names.get(Math.floorMod(round + i, names.size())); // rotate who goes first
                BenchKit.Run r = BenchKit.run(variants.get(v), env, root, 120);
                String expected = v.startsWith("hello") ? "hello\n" : "";
                boolean right = v.equals("fm-status") ? r.stdout().startsWith("supervision: idle - ") : r.stdout().equals(expected);
                if (r.exit() != 0 || !right || !r.stderr().isEmpty()) {
                    throw new IllegalStateException(level + " " + v + " misbehaved (exit " + r.exit() + "): stdout="
                            + r.stdout() + " stderr=" + r.stderr());
                }
                if (round < 0) continue;
                wall.get(v).add(r.wallSeconds());
                cpu.get(v).add(r.cpuSeconds());
            }
        }
        for (String v : names) {
            BenchKit.figure("startup " + level + " " + v, BenchKit.f(BenchKit.median(wall.get(v)), 3) + " s wall",
                    "median of " + runs + "; p90 " + BenchKit.f(BenchKit.quantile(wall.get(v), 0.9), 3)
                            + " s; cpu median " + BenchKit.f(BenchKit.median(cpu.get(v)), 2) + " s");
        }
        for (String script : List.of("fm-guard", "fm-wake-drain", "fm-status")) {
            for (String base : List.of("hello", "hello-opts")) {
                double ratio = BenchKit.median(wall.get(script)) / BenchKit.median(wall.get(base));
                double cpuRatio = BenchKit.median(cpu.get(script)) / BenchKit.median(cpu.get(base));
                BenchKit.figure("startup " + level + " " + script + " / " + base, BenchKit.f(ratio, 2) + "x wall",
                        "cpu " + BenchKit.f(cpuRatio, 2) + "x" + (level.equals("jbang") && base.equals("hello")
                                ? "; target <= 1.15x wall" : ""));
            }
        }
    }

    private static String optionsLine(Path script) throws java.io.IOException {
        for (String line : Files.readAllLines(script)) if (line.startsWith("//JAVA_OPTIONS")) return line;
        return "";
    }
}
