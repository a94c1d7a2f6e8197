//usr/bin/env true; exec "$(dirname "$0")/../jbang" "$0" "$@"
//JAVA 17+
//SOURCES BenchKit.java ../tests/TestKit.java
//MAIN Latency

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Signal detection delay at the default FM_POLL=15: per trial a fresh home and a real
 * fm-watch.java JVM (the command JBang execs); once it polls, we wait a pseudo-random 0.5-5 s
 * (the write lands inside the 15 s wait), write a status, and time the write -> reason line.
 * The figure is that time minus FM_SIGNAL_GRACE (the linger is the spec's, not a delay).
 * Two kinds of status: a plain file in STATE, and a symlink whose target lives in another
 * directory. Polling alone would give a delay uniform in 0..FM_POLL (median 7.5 s).
 *   bench/latency.java [--trials 12] [--link-trials 4] [--grace 1]     about 1.5 min
 */
class Latency {
    public static void main(String[] args) throws Exception {
        int trials = BenchKit.intArg(args, "--trials", 12);
        int linkTrials = BenchKit.intArg(args, "--link-trials", 4);
        int grace = BenchKit.intArg(args, "--grace", 1);
        BenchKit.machine();
        List<String> watcher = TestKit.javaCommand("fm-watch.java");
        Random offsets = new Random(42); // the same offsets every run
        List<Double> plain = new ArrayList<>();
        for (int i = 0; i < trials; i++) plain.add(trial(watcher, grace, 500 + offsets.nextInt(4500), false) - grace);
        report("latency status in STATE", plain, grace);
        List<Double> linked = new ArrayList<>();
        for (int i = 0; i < linkTrials; i++) linked.add(trial(watcher, grace, 500 + offsets.nextInt(4500), true) - grace);
        if (!linked.isEmpty()) report("latency symlinked status, target elsewhere", linked, grace);
        BenchKit.figure("latency polling alone (expected)", "median 7500 ms, worst 15000 ms",
                "a write waits for the next poll: uniform in 0..FM_POLL");
        BenchKit.figure("load after", BenchKit.loadAverage(), "");
    }

    private static void report(String name, List<Double> seconds, int grace) {
        BenchKit.figure(name + " at FM_POLL=15", "median " + BenchKit.f(BenchKit.median(seconds) * 1000, 0)
                + " ms, worst " + BenchKit.f(BenchKit.max(seconds) * 1000, 0) + " ms",
                "write -> reason line minus FM_SIGNAL_GRACE=" + grace + " s; " + seconds.size()
                        + " trials; target median < 1000 ms, worst < 2000 ms");
    }

    /** Seconds from the write to the reason line, for one fresh watcher. */
    private static double trial(List<String> watcher, int grace, int offsetMs, boolean viaLink) throws Exception {
        Path home = BenchKit.tempHome("fm-bench-latency");
        Path state = home.resolve("state");
        Path status = state.resolve("crew.status");
        Path written = status;
        if (viaLink) {
            Path elsewhere = Files.createDirectories(home.resolve("mount"));
            written = Files.writeString(elsewhere.resolve("real.status"), "working\n");
            Files.createSymbolicLink(status, written);
            BasicFileAttributes a = Files.readAttributes(written, BasicFileAttributes.class);
            Files.writeString(state.resolve(".seen-crew_status"), a.size() + ":" + a.lastModifiedTime().to(TimeUnit.SECONDS));
        }
        ProcessBuilder pb = new ProcessBuilder(watcher).directory(home.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("FM_"));
        pb.environment().putAll(Map.of("FM_HOME", home.toString(), "FM_POLL", "15",
                "FM_SIGNAL_GRACE", Integer.toString(grace), "FM_HEARTBEAT", "3600"));
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            long end = System.nanoTime() + 60_000_000_000L;
            while (!Files.exists(state.resolve(".last-check"))) {
                if (!p.isAlive() || System.nanoTime() > end) throw new IllegalStateException("the watcher never polled");
                Thread.sleep(20);
            }
            Thread.sleep(offsetMs); // into the wait between polls
            long wrote = System.nanoTime();
            Files.writeString(written, "done: after " + offsetMs + " ms\n", StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
            String line = out.readLine();
            double took = (System.nanoTime() - wrote) / 1e9;
            if (!("signal: " + status).equals(line)) throw new IllegalStateException("unexpected reason line: " + line);
            p.waitFor(30, TimeUnit.SECONDS);
            return took;
        } finally {
            p.destroyForcibly();
        }
    }
}
