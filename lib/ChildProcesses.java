//SOURCES FmProc.java

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The processes this JVM starts (checks, tmux clients): each bounded in time and in output,
 * and all of them ended before the JVM exits through its shutdown hooks.
 *
 * INVARIANT: a command that exits on TERM, INT or HUP has first ended every process it
 * started, and everything those started inside their process group, whatever instant the
 * signal lands: while a child is being started, while it runs, while it is being killed for
 * its time limit, or while what it left behind is being reaped. (SIGKILL skips every hook; a
 * check that moves itself to a session of its own escapes the group and is only found by the
 * tree walk below, as far as the walk can see it.)
 *
 * Race: start against shutdown. The JVM's other threads keep running while the hooks do, so a
 * hook that walks a list of children can miss one started an instant later. Starting and
 * registering happen under one monitor; the hook takes the same monitor to set
 * {@code stopping} and copy the list. A start either finished and is in the copy, or sees
 * {@code stopping} and never forks (that thread then waits for the halt).
 *
 * Race: fork against a tree walk. Walking /proc for descendants misses a process forked after
 * the walk, and a process whose parent died first is reparented out of the tree. A group
 * command therefore runs in a session of its own ({@code setsid}: its pid is its process group)
 * and is ended by a signal to the whole group, which the kernel delivers to every member and
 * to anything a member is forking at that instant.
 *
 * Race: pid reuse. The root is signalled only through its {@link Process} (never after it was
 * reaped). A process group's id stays reserved while any member lives, so the group signal
 * after the root's exit reaches leftovers or nobody.
 */
final class ChildProcesses {
    private ChildProcesses() {}

    /** How long TERM gets before KILL, when a child is ended for its time limit or our exit. */
    static final Duration TERM_GRACE = Duration.ofMillis(500);

    /** What a bounded command did: its exit status (-1 when killed), output, and whether it timed out. */
    record Outcome(int exit, String stdout, boolean timedOut, boolean failedToStart) {
        boolean ok() { return !timedOut && !failedToStart && exit == 0; }
    }

    /** One started child, and whether it leads a process group of its own. */
    private record Child(Process process, boolean group) {}

    // JVM-wide facts: the children this JVM is waiting on, and whether its shutdown has begun.
    private static final Object STARTS = new Object();
    private static final List<Child> RUNNING = new ArrayList<>();
    private static boolean stopping;

    static {
        try {
            Runtime.getRuntime().addShutdownHook(new Thread(ChildProcesses::stopAll, "fm-children-stop"));
        } catch (IllegalStateException exiting) {
            stopping = true; // first used during shutdown: start nothing
        }
    }

    /**
     * Runs {@code cmd} with stdin closed and stderr discarded, ends it and every process it
     * started once {@code limit} passes, and keeps at most {@code maxBytes} of its stdout
     * (the rest is read and dropped, so a chatty command cannot fill our heap or block on a pipe).
     */
    static Outcome run(List<String> cmd, Duration limit, int maxBytes) {
        return run(cmd, limit, maxBytes, limit, () -> { });
    }

    /**
     * As {@link #run(List, Duration, int)}, calling {@code beat} every {@code beatEvery} while
     * the command runs: waiting on a bounded command is progress, so the beacon stays fresh.
     */
    static Outcome run(List<String> cmd, Duration limit, int maxBytes, Duration beatEvery, Runnable beat) {
        return bounded(cmd, false, limit, maxBytes, beatEvery, beat);
    }

    /**
     * As {@link #run(List, Duration, int, Duration, Runnable)}, in a session of its own: when the
     * command ends (or is ended), whatever it left behind in its process group is killed too.
     */
    static Outcome runAsGroup(List<String> cmd, Duration limit, int maxBytes, Duration beatEvery, Runnable beat) {
        List<String> inSession = new ArrayList<>(List.of("setsid"));
        inSession.addAll(cmd);
        return bounded(inSession, true, limit, maxBytes, beatEvery, beat);
    }

    private static Outcome bounded(List<String> cmd, boolean group, Duration limit, int maxBytes,
                                   Duration beatEvery, Runnable beat) {
        Child child = start(cmd, group);
        if (child == null) return new Outcome(-1, "", false, true);
        try {
            return waitBounded(child, limit, maxBytes, beatEvery, beat);
        } finally {
            // Leftovers go before the child leaves the list, so the hook never loses sight of them.
            if (group) signalGroup(child.process.pid(), "KILL");
            synchronized (STARTS) {
                RUNNING.remove(child);
            }
        }
    }

    /** Forks and registers as one step against the shutdown hook; null when nothing could start. */
    private static Child start(List<String> cmd, boolean group) {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        synchronized (STARTS) {
            if (stopping) waitForHalt();
            try {
                Child c = new Child(pb.start(), group);
                RUNNING.add(c);
                return c;
            } catch (IOException e) {
                return null;
            }
        }
    }

    /** The JVM is exiting: a thread that wanted to start a child just waits for the halt. */
    private static void waitForHalt() {
        while (true) {
            try {
                STARTS.wait();
            } catch (InterruptedException e) {
                // keep waiting: nothing may start now
            }
        }
    }

    /** The shutdown hook: no start after this point, and every registered child ended. */
    private static void stopAll() {
        List<Child> all;
        synchronized (STARTS) {
            stopping = true;
            all = new ArrayList<>(RUNNING);
        }
        end(all);
    }

    private static Outcome waitBounded(Child child, Duration limit, int maxBytes, Duration beatEvery, Runnable beat) {
        Process p = child.process;
        ByteArrayOutputStream kept = new ByteArrayOutputStream();
        Thread reader = new Thread(() -> drain(p.getInputStream(), kept, maxBytes), "fm-cmd-out");
        reader.setDaemon(true);
        reader.start();
        boolean finished = false;
        long deadline = System.nanoTime() + limit.toNanos();
        long slice = Math.max(10, Math.min(beatEvery.toMillis(), limit.toMillis()));
        try {
            while (true) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) break;
                if (p.waitFor(Math.min(slice, left), TimeUnit.MILLISECONDS)) {
                    finished = true;
                    break;
                }
                beat.run();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!finished) {
            end(List.of(child));
            // A grandchild that escaped may still hold the pipe open: stop waiting for it.
            closeQuietly(p.getInputStream());
            return new Outcome(-1, snapshot(kept), true, false);
        }
        // The command is done; its own children may still hold stdout. Give the reader a moment.
        try {
            reader.join(Math.min(2000, Math.max(100, limit.toMillis())));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (reader.isAlive()) {
            end(List.of(child));
            closeQuietly(p.getInputStream());
        }
        return new Outcome(p.exitValue(), snapshot(kept), false, false);
    }

    /**
     * TERM to each child, its group and the descendants a walk finds; KILL to all of them after
     * {@link #TERM_GRACE}. The root is killed before its group: once it is dead it cannot fork,
     * so the group signal that follows reaches everything it started before.
     */
    private static void end(List<Child> children) {
        if (children.isEmpty()) return;
        List<ProcessHandle> walked = new ArrayList<>();
        for (Child c : children) {
            c.process.descendants().forEach(walked::add);
            c.process.destroy();
            if (c.group) signalGroup(c.process.pid(), "TERM");
        }
        for (ProcessHandle h : walked) h.destroy();
        long deadline = System.nanoTime() + TERM_GRACE.toNanos();
        while (System.nanoTime() < deadline
                && (children.stream().anyMatch(c -> c.process.isAlive()) || walked.stream().anyMatch(ProcessHandle::isAlive))) {
            FmProc.sleepQuietly(20);
        }
        for (Child c : children) {
            c.process.descendants().forEach(walked::add); // spawned in the meantime
            c.process.destroyForcibly();
            if (c.group) signalGroup(c.process.pid(), "KILL");
        }
        for (ProcessHandle h : walked) if (h.isAlive()) h.destroyForcibly();
        for (Child c : children) {
            try {
                c.process.waitFor(TERM_GRACE.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Sends {@code signal} to process group {@code pgid} through the shell's kill builtin: the
     * JDK has no call for a group. Bounded, and never registered as a child of its own.
     */
    private static void signalGroup(long pgid, String signal) {
        try {
            Process k = new ProcessBuilder("/bin/sh", "-c", "kill -s " + signal + " -- \"-$1\" 2>/dev/null", "sh",
                    Long.toString(pgid))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .start();
            if (!k.waitFor(2, TimeUnit.SECONDS)) k.destroyForcibly();
        } catch (IOException e) {
            // cannot fork now (no pids, no memory): the tree walk is what is left to us
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The first executable {@code name} on PATH, as an absolute path. */
    static java.util.Optional<String> onPath(String name) {
        String path = System.getenv("PATH");
        if (path == null) return java.util.Optional.empty();
        for (String dir : path.split(":")) {
            if (dir.isEmpty()) continue;
            java.nio.file.Path p = java.nio.file.Path.of(dir, name);
            if (java.nio.file.Files.isRegularFile(p) && java.nio.file.Files.isExecutable(p)) return java.util.Optional.of(p.toString());
        }
        return java.util.Optional.empty();
    }

    private static void drain(InputStream in, ByteArrayOutputStream kept, int maxBytes) {
        byte[] buf = new byte[8192];
        try (in) {
            int n;
            while ((n = in.read(buf)) > 0) {
                synchronized (kept) {
                    int room = maxBytes - kept.size();
                    if (room > 0) kept.write(buf, 0, Math.min(room, n));
                }
            }
        } catch (IOException ignored) {
            // The pipe closed under us (killed); what we kept is what we report.
        }
    }

    private static String snapshot(ByteArrayOutputStream kept) {
        synchronized (kept) {
            return kept.toString(StandardCharsets.UTF_8);
        }
    }

    private static void closeQuietly(InputStream in) {
        try {
            in.close();
        } catch (IOException ignored) {
            // nothing more to do with it
        }
    }
}
