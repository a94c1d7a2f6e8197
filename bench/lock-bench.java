//usr/bin/env true; exec "$(dirname "$0")/../jbang" "$0" "$@"
//JAVA 17+
//SOURCES ../lib/FmLock.java
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData
//MAIN LockBench

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Benchmark of FmLock on this machine, one line per figure:
 *   bench/lock-bench.java [N ...]      (default: 10 40)
 *   in-process: <n> acquire+release pairs/s (median of 5 runs of 2 s, one thread, no contention)
 *   processes N=<n>: <ms> ms from spawning N JVMs to the last one having taken and released the lock once
 *   processes N=<n>: <ms> ms from "go" (all N started and waiting) to the last release
 * The second process figure leaves out JVM start-up; both include acquireWithin's 100 ms retry
 * step, which is what a waiting contender really pays. Children are this same class run with
 * this JVM's java and class path ("child <dir>"). Knob: FM_LOCK_STALE_AFTER (as FmLock reads it).
 */
class LockBench {
    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("child")) {
            child(Path.of(args[1]));
            return;
        }
        List<Integer> counts = new ArrayList<>();
        for (String a : args) {
            try {
                counts.add(Integer.parseInt(a));
            } catch (NumberFormatException e) {
                System.err.println("lock-bench: '" + a + "' is not a number of processes; usage: lock-bench.java [N ...]");
                System.exit(2);
            }
        }
        if (counts.isEmpty()) counts = List.of(10, 40);
        Path dir = Files.createTempDirectory("fm-lock-bench");
        try {
            inProcess(dir.resolve("solo"));
            for (int n : counts) processes(dir.resolve("n" + n), n);
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    static void inProcess(Path lock) {
        pairsFor(lock, Duration.ofSeconds(1)); // warm-up
        double[] rates = new double[5];
        for (int i = 0; i < rates.length; i++) rates[i] = pairsFor(lock, Duration.ofSeconds(2));
        Arrays.sort(rates);
        System.out.printf(Locale.ROOT, "in-process: %.0f acquire+release pairs/s (median of 5 runs of 2 s; runs %.0f..%.0f)%n",
                rates[2], rates[0], rates[4]);
    }

    static double pairsFor(Path lock, Duration run) {
        long n = 0;
        long t0 = System.nanoTime();
        long end = t0 + run.toNanos();
        while (System.nanoTime() < end) {
            FmLock.Attempt a = FmLock.tryAcquire(lock);
            if (!a.acquired()) throw new IllegalStateException("uncontended acquire failed: " + a.holder());
            a.held().get().close();
            n++;
        }
        return n / ((System.nanoTime() - t0) / 1e9);
    }

    /** N children wait for a go file, then each takes and releases the lock once. */
    static void processes(Path dir, int n) throws Exception {
        Files.createDirectory(dir);
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = List.of(java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-cp", System.getProperty("java.class.path"), "LockBench", "child", dir.toString());
        long spawned = System.nanoTime();
        Instant spawnedAt = Instant.now();
        List<Process> kids = new ArrayList<>();
        List<BufferedReader> outs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            kids.add(p);
            outs.add(new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)));
        }
        try {
            for (BufferedReader r : outs) expect(r.readLine(), "ready");
            Instant go = Instant.now();
            Files.createFile(dir.resolve("go"));
            Instant last = go;
            for (BufferedReader r : outs) {
                String done = r.readLine();
                if (done == null || !done.startsWith("done ")) throw new IllegalStateException("child said " + done);
                Instant t = Instant.parse(done.substring(5));
                if (t.isAfter(last)) last = t;
            }
            for (Process p : kids) {
                if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IllegalStateException("a child failed");
            }
            long wall = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - spawned);
            System.out.printf(Locale.ROOT, "processes N=%d: %d ms from spawn to the last release (start-up included; last release %d ms after spawn)%n",
                    n, wall, Duration.between(spawnedAt, last).toMillis());
            System.out.printf(Locale.ROOT, "processes N=%d: %d ms from go (all started) to the last release%n",
                    n, Duration.between(go, last).toMillis());
        } finally {
            for (Process p : kids) p.destroyForcibly();
        }
    }

    static void expect(String line, String want) {
        if (!want.equals(line)) throw new IllegalStateException("child said " + line + ", expected " + want);
    }

    static void child(Path dir) throws Exception {
        System.out.println("ready");
        System.out.flush();
        Path go = dir.resolve("go");
        while (!Files.exists(go)) Thread.sleep(1);
        try (FmLock.Held h = FmLock.acquireWithin(dir.resolve("lock"), Duration.ofMinutes(2))) {
            if (!h.stillHeld()) throw new IllegalStateException("lost the lock while holding it");
        }
        System.out.println("done " + Instant.now());
    }
}
