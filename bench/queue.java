//usr/bin/env true; exec "$(dirname "$0")/../jbang" "$0" "$@"
//JAVA 17+
//SOURCES BenchKit.java ../tests/TestKit.java
//SOURCES ../lib/WakeQueue.java
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData
//MAIN Queue

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The durable wake queue (docs/state.md):
 *   append  WakeQueue.append of one record at a time from this one process, each under the
 *           queue lock and forced to disk, as a watcher does it; appends per second
 *   drain   the real fm-wake-drain.java JVM (the command JBang execs) on queues of 10k, 100k
 *           and 1M records cycling over 40 keys (a fleet's statuses, windows, checks and the
 *           heartbeat), and on 100k records that all have distinct keys (the worst case: the
 *           deduplication must remember every key). Wall seconds, and the peak resident
 *           memory (VmHWM, sampled every 2 ms while it runs): streaming means the peak does
 *           not follow the queue's length.
 *   bench/queue.java [--append-seconds 5] [--max 1000000]     about 1 min
 * --options "..." runs the drain with these JVM options in place of its //JAVA_OPTIONS. Homes
 * are made under java.io.tmpdir: `./jbang -Djava.io.tmpdir=/dev/shm bench/queue.java` shows
 * what the file system costs.
 */
class Queue {
    static final int KEYS = 40;

    public static void main(String[] args) throws Exception {
        double appendSeconds = BenchKit.doubleArg(args, "--append-seconds", 5);
        int max = BenchKit.intArg(args, "--max", 1_000_000);
        BenchKit.machine();
        appends(appendSeconds);
        String options = BenchKit.stringArg(args, "--options", null);
        if (options != null) BenchKit.figure("options", options, "bare JVM, in place of //JAVA_OPTIONS");
        List<String> drain = BenchKit.withOptions(TestKit.javaCommand("fm-wake-drain.java"), options);
        for (int n = 10_000; n <= max; n *= 10) drain(drain, n, KEYS);
        drain(drain, Math.min(100_000, max), Integer.MAX_VALUE);
        BenchKit.figure("load after", BenchKit.loadAverage(), "");
    }

    private static void appends(double seconds) throws IOException {
        Path home = BenchKit.tempHome("fm-bench-append");
        Path state = home.resolve("state");
        WakeQueue queue = new WakeQueue(FmHome.of(home, state, home.resolve("fm-watch.java")), Knobs.fromEnvironment());
        for (int i = 0; i < 200; i++) queue.append(List.of(record(i))); // warm-up: JIT, page cache
        long n = 0;
        long t0 = System.nanoTime();
        long end = t0 + (long) (seconds * 1e9);
        while (System.nanoTime() < end) queue.append(List.of(record(n++)));
        double took = (System.nanoTime() - t0) / 1e9;
        long lines;
        try (var s = Files.lines(state.resolve(".wake-queue"))) {
            lines = s.count();
        }
        if (lines != n + 200) throw new IllegalStateException("queue holds " + lines + " records, appended " + (n + 200));
        BenchKit.figure("queue append", BenchKit.f(n / took, 0) + " appends/s",
                "one process, one record per append, each under the lock and forced to disk; " + n + " in "
                        + BenchKit.f(took, 1) + " s; target >= 1000/s");
    }

    private static WakeQueue.Entry record(long i) {
        return new WakeQueue.Entry("signal", "task" + (i % KEYS) + ".status", "signal: /fleet/state/task" + (i % KEYS) + ".status");
    }

    /** Writes a queue of {@code n} records over {@code keys} keys, drains it, checks and reports. */
    private static void drain(List<String> cmd, int n, int keys) throws Exception {
        Path home = BenchKit.tempHome("fm-bench-drain");
        Path queue = home.resolve("state/.wake-queue");
        long epoch = System.currentTimeMillis() / 1000;
        try (BufferedWriter w = Files.newBufferedWriter(queue, StandardCharsets.UTF_8)) {
            for (int i = 1; i <= n; i++) w.write(epoch + "\t" + i + "\t" + line(i, keys) + "\n");
        }
        double mb = Files.size(queue) / 1048576.0;
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(home.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("FM_"));
        pb.environment().putAll(Map.of("FM_HOME", home.toString()));
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        long t0 = System.nanoTime();
        Process p = pb.start();
        AtomicLong peakKb = new AtomicLong();
        Thread sampler = new Thread(() -> {
            while (p.isAlive()) {
                double hwm = BenchKit.statusMiB(p.pid(), "VmHWM");
                if (hwm > 0) peakKb.accumulateAndGet((long) (hwm * 1024), Math::max);
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "bench-hwm");
        sampler.setDaemon(true);
        sampler.start();
        StringBuilder err = new StringBuilder();
        TestKit.pump(p.getErrorStream(), err);
        long lines = 0;
        try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.ISO_8859_1))) {
            while (out.readLine() != null) lines++;
        }
        int exit = p.waitFor();
        double took = (System.nanoTime() - t0) / 1e9;
        sampler.join();
        long expected = distinctGroups(n, keys);
        if (exit != 0 || lines != expected || Files.size(queue) != 0) {
            throw new IllegalStateException("drain of " + n + " misbehaved: exit " + exit + ", " + lines + " lines (expected "
                    + expected + "), queue left " + Files.size(queue) + " bytes; stderr: " + err);
        }
        String what = keys == Integer.MAX_VALUE ? n + " records, all keys distinct" : n + " records";
        BenchKit.figure("queue drain " + what, BenchKit.f(took, 2) + " s, peak RSS " + BenchKit.f(peakKb.get() / 1024.0, 1)
                + " MiB", BenchKit.f(mb, 1) + " MiB queue, " + lines + " lines printed; wall includes JVM start"
                        + (n == 100_000 && keys != Integer.MAX_VALUE ? "; target < 2 s" : ""));
    }

    /** Kind, key and payload of record {@code i}: a tenth heartbeats, a quarter stale, the rest signals. */
    private static String line(int i, int keys) {
        int k = keys == Integer.MAX_VALUE ? i : i % keys;
        if (k % 10 == 0) return "heartbeat\theartbeat\theartbeat";
        if (k % 4 == 0) return "stale\tfleet:w" + k + "\tstale: fleet:w" + k;
        return "signal\ttask" + k + ".status\tsignal: /home/crew/fleet/state/task" + k + ".status";
    }

    /** What the drain must print: one line per kind+key, one for all heartbeats. */
    private static long distinctGroups(int n, int keys) {
        java.util.Set<String> groups = new java.util.HashSet<>();
        for (int i = 1; i <= Math.min(n, keys); i++) {
            String[] f = line(i, keys).split("\t");
            groups.add(f[0].equals("heartbeat") ? "heartbeat" : f[0] + "\t" + f[1]);
        }
        return groups.size();
    }
}
