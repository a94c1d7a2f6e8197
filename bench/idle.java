//usr/bin/env true; exec "$(dirname "$0")/../jbang" "$0" "$@"
//JAVA 17+
//SOURCES BenchKit.java ../tests/TestKit.java
//MAIN Idle

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The footprint of an idle watcher (docs/watcher.md "Footprint"): a real tmux server (private
 * socket) with 10 windows whose crewmates look busy, so nothing ever wakes, 10 task metas and
 * 20 unchanged status files. Both ways to run a watcher are measured side by side, each in its
 * own home: `./jbang fm-watch-arm.java` (what users run: the watcher cycle inside the arm's JVM)
 * and `./jbang fm-watch.java`.
 *   phase 1, FM_POLL=15 (default): resident memory (VmRSS) after 60 s idle, and CPU per idle hour
 *   phase 2, FM_POLL=1: CPU per poll cycle (polls counted from the .count-* marker of a window)
 * CPU is the watcher JVM's own (utime+stime) and, separately, the tmux clients it ran and
 * reaped (cutime+cstime); the tmux server's share is printed as well.
 *   bench/idle.java [--idle-seconds 90] [--fast-seconds 30]     about 2.5 min with the defaults
 * To try other JVM options: --only fm-watch.java --options "-Xmx32m ..." runs that script's bare
 * JVM command (TestKit.javaCommand) with these options in place of its //JAVA_OPTIONS.
 */
class Idle {
    static final int WINDOWS = 10;
    static final int STATUSES = 20;

    public static void main(String[] args) throws Exception {
        int idleSeconds = BenchKit.intArg(args, "--idle-seconds", 90);
        int fastSeconds = BenchKit.intArg(args, "--fast-seconds", 30);
        String only = BenchKit.stringArg(args, "--only", null);
        String options = BenchKit.stringArg(args, "--options", null);
        Path root = TestKit.root();
        BenchKit.machine();
        Path tmuxDir = BenchKit.tempHome("fm-bench-tmux");
        try (Tmux tmux = new Tmux(tmuxDir)) {
            for (int i = 0; i < WINDOWS; i++) tmux.window("w" + i);
            long server = tmux.serverPid();
            List<String> scripts = only != null ? List.of(only) : List.of("fm-watch-arm.java", "fm-watch.java");
            if (options != null) BenchKit.figure("options", options, "bare JVM, in place of //JAVA_OPTIONS");
            if (idleSeconds > 0) phase(root, tmux, server, scripts, options, "15", idleSeconds, true);
            if (fastSeconds > 0) phase(root, tmux, server, scripts, options, "1", fastSeconds, false);
        }
        BenchKit.figure("load after", BenchKit.loadAverage(), "");
    }

    /** Runs the arm and fm-watch.java side by side for {@code seconds} of steady polling. */
    private static void phase(Path root, Tmux tmux, long server, List<String> scripts, String options, String poll,
            int seconds, boolean hourly) throws Exception {
        List<Watching> all = new ArrayList<>();
        try {
            for (String script : scripts) all.add(Watching.start(root, script, options, poll, tmux));
            for (Watching w : all) w.awaitPolls(2, Math.max(60, 4 * Double.parseDouble(poll)));
            long serverTicks0 = BenchKit.ownTicks(server);
            for (Watching w : all) w.mark();
            long t0 = System.nanoTime();
            double rssAt = hourly ? Math.max(0, 60 - (t0 - all.get(0).started) / 1e9) : -1;
            if (rssAt >= 0) {
                Thread.sleep((long) (rssAt * 1000));
                for (Watching w : all) w.rss60 = BenchKit.statusMiB(w.pid, "VmRSS");
            }
            long left = seconds * 1_000_000_000L - (System.nanoTime() - t0);
            if (left > 0) TimeUnit.NANOSECONDS.sleep(left);
            double elapsed = (System.nanoTime() - t0) / 1e9;
            double serverCpu = (BenchKit.ownTicks(server) - serverTicks0) * BenchKit.TICK_SECONDS;
            int totalPolls = 0;
            for (Watching w : all) {
                if (!w.process.isAlive()) throw new IllegalStateException(w.script + " exited: it woke, so it was not idle");
                totalPolls += w.polls() - w.polls0;
                report(w, poll, elapsed, hourly);
            }
            BenchKit.figure("idle tmux server cpu per capture cycle at FM_POLL=" + poll,
                    BenchKit.f(serverCpu / Math.max(1, totalPolls), 4) + " cpu-s",
                    "the server's side of " + WINDOWS + " capture-pane requests");
        } finally {
            for (Watching w : all) w.stop();
        }
    }

    private static void report(Watching w, String poll, double elapsed, boolean hourly) throws IOException {
        int polls = w.polls() - w.polls0;
        double own = (BenchKit.ownTicks(w.pid) - w.own0) * BenchKit.TICK_SECONDS;
        double kids = (BenchKit.reapedTicks(w.pid) - w.kids0) * BenchKit.TICK_SECONDS;
        String name = w.script.replace(".java", "");
        if (hourly) {
            BenchKit.figure("idle " + name + " rss after 60 s", BenchKit.f(w.rss60, 1) + " MiB",
                    "VmRSS; target <= 64 MiB; at the end " + BenchKit.f(BenchKit.statusMiB(w.pid, "VmRSS"), 1)
                            + " MiB, peak VmHWM " + BenchKit.f(BenchKit.statusMiB(w.pid, "VmHWM"), 1) + " MiB");
            BenchKit.figure("idle " + name + " cpu per idle hour at FM_POLL=" + poll,
                    BenchKit.f(own / elapsed * 3600, 1) + " cpu-s",
                    "JVM's own; with its tmux clients " + BenchKit.f((own + kids) / elapsed * 3600, 1) + " cpu-s; "
                            + polls + " polls in " + BenchKit.f(elapsed, 0) + " s");
        }
        if (polls <= 0) throw new IllegalStateException(name + " did not poll during the window");
        if (hourly) return; // at FM_POLL=15 the idle waits dominate; the cycle itself is measured at FM_POLL=1
        BenchKit.figure("idle " + name + " cpu per poll cycle at FM_POLL=" + poll,
                BenchKit.f((own + kids) / polls, 4) + " cpu-s",
                "JVM " + BenchKit.f(own / polls, 4) + " + tmux clients " + BenchKit.f(kids / polls, 4) + "; " + polls
                        + " polls of " + WINDOWS + " windows, " + STATUSES + " statuses; target <= 0.07; VmRSS now "
                        + BenchKit.f(BenchKit.statusMiB(w.pid, "VmRSS"), 1) + " MiB");
    }

    /** One watcher process in a home of its own, and the counters taken when the window opened. */
    private static final class Watching {
        final String script;
        final Path state;
        final Process process;
        final long pid;
        final long started = System.nanoTime();
        long own0;
        long kids0;
        int polls0;
        double rss60 = -1;

        private Watching(String script, Path state, Process process) {
            this.script = script;
            this.state = state;
            this.process = process;
            this.pid = process.pid();
        }

        static Watching start(Path root, String script, String options, String poll, Tmux tmux) throws IOException {
            Path home = BenchKit.tempHome("fm-bench-idle");
            Path state = home.resolve("state");
            for (int i = 0; i < WINDOWS; i++) Files.writeString(state.resolve("task" + i + ".meta"), "window=fleet:w" + i + "\n");
            for (int i = 0; i < STATUSES; i++) {
                Path s = Files.writeString(state.resolve("s" + i + ".status"), "working: step " + i + "\n");
                BasicFileAttributes a = Files.readAttributes(s, BasicFileAttributes.class);
                Files.writeString(state.resolve(".seen-s" + i + "_status"),
                        a.size() + ":" + a.lastModifiedTime().to(TimeUnit.SECONDS));
            }
            List<String> cmd = List.of(root.resolve("jbang").toString(), script);
            if (options != null) cmd = BenchKit.withOptions(TestKit.javaCommand(script), options);
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile());
            pb.environment().keySet().removeIf(k -> k.startsWith("FM_"));
            pb.environment().putAll(tmux.env());
            pb.environment().put("FM_HOME", home.toString());
            pb.environment().put("FM_POLL", poll);
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.redirectError(ProcessBuilder.Redirect.INHERIT);
            Process p = pb.start();
            Watching w = new Watching(script, state, p);
            Thread t = new Thread(() -> w.echo(), "bench-out");
            t.setDaemon(true);
            t.start();
            return w;
        }

        /** The watcher's stdout, shown so a surprise (a wake, a refusal) is visible. */
        private void echo() {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    if (!line.startsWith("watcher: started pid=" + pid + " ")) System.out.println("  (" + script + " said: " + line + ")");
                }
            } catch (IOException ignored) {
                // gone
            }
        }

        /** Polls so far, read from the first window's repeat counter (0 before the first repeat). */
        int polls() {
            try {
                return Integer.parseInt(Files.readString(state.resolve(".count-fleet_w0")).strip());
            } catch (IOException | NumberFormatException e) {
                return -1;
            }
        }

        void awaitPolls(int n, double limitSeconds) throws InterruptedException {
            long end = System.nanoTime() + (long) (limitSeconds * 1e9);
            while (polls() < n - 1) {
                if (!process.isAlive()) throw new IllegalStateException(script + " exited before polling");
                if (System.nanoTime() > end) throw new IllegalStateException(script + " did not poll twice in " + limitSeconds + " s");
                Thread.sleep(50);
            }
        }

        void mark() throws IOException {
            polls0 = polls();
            own0 = BenchKit.ownTicks(pid);
            kids0 = BenchKit.reapedTicks(pid);
        }

        void stop() {
            process.destroy();
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
            } catch (InterruptedException e) {
                process.destroyForcibly();
            }
        }
    }

    /** A private tmux server (its socket under our own TMUX_TMPDIR), killed on close. */
    private static final class Tmux implements AutoCloseable {
        private final Path dir;
        private boolean started;

        Tmux(Path dir) { this.dir = dir; }

        Map<String, String> env() {
            Map<String, String> env = new HashMap<>();
            env.put("TMUX_TMPDIR", dir.toString());
            env.put("TMUX", ""); // empty counts as unset: the socket is found through TMUX_TMPDIR
            return env;
        }

        /** A window whose crewmate shows a busy footer and then sits still. */
        void window(String name) throws Exception {
            String body = "printf 'crewmate " + name + " at work\\n\\n  esc to interrupt\\n'; exec sleep 3600";
            if (!started) {
                run("-f", "/dev/null", "new-session", "-d", "-s", "fleet", "-n", name, "-x", "120", "-y", "40", body);
                started = true;
            } else {
                run("new-window", "-d", "-t", "fleet:", "-n", name, body);
            }
            long end = System.nanoTime() + 20_000_000_000L;
            while (!run("capture-pane", "-p", "-t", "fleet:" + name).contains("esc to interrupt")) {
                if (System.nanoTime() > end) throw new IllegalStateException("tmux window " + name + " never drew");
                Thread.sleep(50);
            }
        }

        long serverPid() throws Exception { return Long.parseLong(run("display-message", "-p", "#{pid}").strip()); }

        String run(String... args) throws Exception {
            List<String> cmd = new ArrayList<>(List.of("tmux"));
            cmd.addAll(List.of(args));
            BenchKit.Run r = BenchKit.run(cmd, env(), null, 20);
            if (r.exit() != 0) throw new IllegalStateException("tmux " + String.join(" ", args) + ": " + r.stderr());
            return r.stdout();
        }

        @Override
        public void close() {
            try {
                run("kill-server");
            } catch (Exception e) {
                // already gone; the panes end by themselves within the hour
            }
        }
    }
}
