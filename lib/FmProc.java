//SOURCES BashIdentity.java

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

/**
 * Processes without {@code ps}: pid text, liveness, identity, and bounded child commands.
 *
 * Liveness is "the process exists", read through {@link ProcessHandle}, which on Linux looks
 * at /proc and so sees other users' processes too: a process we may not signal is still
 * alive. A zombie counts as alive, as it does for {@code kill -0} in the bash tools.
 */
final class FmProc {
    private FmProc() {}

    /** The prefix of identity lines this implementation writes; anything else proves nothing. */
    static final String IDENTITY_FORMAT = "fm-java-1";

    /**
     * A pid as the lock files hold it: decimal digits only, after dropping trailing newlines
     * (what a shell's {@code $(cat pid)} drops). Zero, signs, spaces, NULs, other text and
     * values beyond the int range are no pid at all.
     */
    static OptionalLong parsePid(String text) {
        if (text == null) return OptionalLong.empty();
        String t = text;
        while (t.endsWith("\n")) t = t.substring(0, t.length() - 1);
        if (t.isEmpty() || t.length() > 10) return OptionalLong.empty();
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (c < '0' || c > '9') return OptionalLong.empty();
        }
        long pid = Long.parseLong(t);
        if (pid <= 0 || pid > Integer.MAX_VALUE) return OptionalLong.empty();
        return OptionalLong.of(pid);
    }

    static boolean alive(long pid) {
        if (pid <= 0 || pid > Integer.MAX_VALUE) return false;
        if (pid == ProcessHandle.current().pid()) return true;
        return ProcessHandle.of(pid).isPresent();
    }

    static Optional<Instant> startOf(long pid) {
        if (pid <= 0 || pid > Integer.MAX_VALUE) return Optional.empty();
        return ProcessHandle.of(pid).flatMap(h -> h.info().startInstant());
    }

    /**
     * One line naming a process instance: the same live process always gives the same line,
     * and a process that later reuses the pid gives another (its start instant differs).
     */
    static Optional<String> identity(long pid) {
        Optional<ProcessHandle> h = ProcessHandle.of(pid);
        if (h.isEmpty()) return Optional.empty();
        ProcessHandle.Info info = h.get().info();
        Optional<Instant> start = info.startInstant();
        if (start.isEmpty()) return Optional.empty();
        // Linux marks the executable " (deleted)" once it is replaced on disk (a JDK upgrade
        // under a running watcher); the process is the same, so its identity must be too.
        String exe = info.command().orElse("?").replaceAll("[\\r\\n]", " ");
        if (exe.endsWith(" (deleted)")) exe = exe.substring(0, exe.length() - " (deleted)".length());
        return Optional.of(IDENTITY_FORMAT + " pid=" + pid + " start=" + start.get().toEpochMilli()
                + " exe=" + exe);
    }

    static boolean isOurIdentityFormat(String line) {
        return line != null && line.startsWith(IDENTITY_FORMAT + " pid=");
    }

    /**
     * Whether {@code recorded} (an identity line) names the process that now has {@code pid}.
     * Empty when it proves nothing: neither our format nor the bash tools' (BashIdentity),
     * unparsable, or the start instant cannot be
     * read. Only pid and start instant decide: the executable is informational, since another
     * user cannot read it and an upgrade renames it, while the process stays the same.
     */
    static Optional<Boolean> identityMatches(String recorded, long pid) {
        // ADOPT (issue 14): a line in the bash tools' ps format is verified by BashIdentity.
        if (!isOurIdentityFormat(recorded)) return BashIdentity.matches(recorded, pid);
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("^" + IDENTITY_FORMAT + " pid=([0-9]+) start=([0-9]+)( |$)").matcher(recorded);
        if (!m.find()) return Optional.empty();
        Optional<Instant> start = startOf(pid);
        if (start.isEmpty()) return Optional.empty();
        return Optional.of(m.group(1).equals(Long.toString(pid))
                && m.group(2).equals(Long.toString(start.get().toEpochMilli())));
    }

    /** What a bounded command did: its exit status (-1 when killed), output, and whether it timed out. */
    record Outcome(int exit, String stdout, boolean timedOut, boolean failedToStart) {
        boolean ok() { return !timedOut && !failedToStart && exit == 0; }
    }

    /**
     * Runs {@code cmd} with stdin closed and stderr discarded, kills it and every process it
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
        Process p;
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.redirectError(ProcessBuilder.Redirect.DISCARD);
            p = pb.start();
        } catch (IOException e) {
            return new Outcome(-1, "", false, true);
        }
        RUNNING.add(p);
        if (STOP_HOOK.compareAndSet(false, true)) {
            try {
                Runtime.getRuntime().addShutdownHook(new Thread(
                        () -> RUNNING.forEach(c -> killTree(c.toHandle())), "fm-children-stop"));
            } catch (IllegalStateException exiting) {
                // already shutting down
            }
        }
        try {
            return waitBounded(p, limit, maxBytes, beatEvery, beat);
        } finally {
            RUNNING.remove(p);
        }
    }

    /**
     * The commands this JVM is waiting on right now: a JVM-wide fact. One shutdown hook stops
     * them (and what they started) when TERM, INT or HUP ends us mid-command.
     */
    private static final java.util.Set<Process> RUNNING = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private static final java.util.concurrent.atomic.AtomicBoolean STOP_HOOK = new java.util.concurrent.atomic.AtomicBoolean();

    private static Outcome waitBounded(Process p, Duration limit, int maxBytes, Duration beatEvery, Runnable beat) {
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
            killTree(p.toHandle());
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
            killTree(p.toHandle());
            closeQuietly(p.getInputStream());
        }
        return new Outcome(p.exitValue(), snapshot(kept), false, false);
    }

    /** TERM to a process and its descendants, then KILL to whatever is left shortly after. */
    static void killTree(ProcessHandle root) {
        List<ProcessHandle> all = new ArrayList<>();
        root.descendants().forEach(all::add);
        all.add(root);
        for (ProcessHandle h : all) h.destroy();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
        while (System.nanoTime() < deadline && all.stream().anyMatch(ProcessHandle::isAlive)) {
            sleepQuietly(20);
        }
        // Descendants may have spawned more in the meantime.
        root.descendants().forEach(all::add);
        for (ProcessHandle h : all) if (h.isAlive()) h.destroyForcibly();
    }

    static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
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
            return kept.toString(java.nio.charset.StandardCharsets.UTF_8);
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
