import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;

/**
 * Processes without {@code ps}: pid text, liveness, the facts of a pid (start ticks, boot id, pid
 * namespace, its identity line). Whether a recorded identity line
 * is the live process's is {@link Identity}'s verdict, not this file's.
 *
 * Liveness is "the process exists", read through {@link ProcessHandle}, which on Linux looks
 * at /proc and so sees other users' processes too: a process we may not signal is still
 * alive. Where /proc hides processes (hidepid) or is missing, {@code kill -0} decides what
 * ProcessHandle cannot see. A zombie counts as alive, as it does for {@code kill -0} in the
 * bash tools.
 */
final class FmProc {
    private FmProc() {}

    /**
     * The prefix of identity lines this implementation writes: boot id plus the start time in
     * clock ticks since boot, both fixed for a process's life whatever the wall clock does.
     */
    static final String IDENTITY_FORMAT = "fm-java-2";
    /**
     * The format earlier versions wrote (and this one writes where /proc is missing): the start
     * as epoch milliseconds, which a wall-clock step shifts (the identity verdict weighs it accordingly).
     */
    static final String LEGACY_IDENTITY_FORMAT = "fm-java-1";

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

    /**
     * Whether the process exists. Not seeing it is not proof of death: with /proc mounted
     * hidepid (or without /proc) another user's live process is invisible to ProcessHandle, so
     * then {@code kill -0} decides, and "not permitted" counts as alive (docs/lock.md "Liveness").
     */
    static boolean alive(long pid) {
        if (pid <= 0 || pid > Integer.MAX_VALUE) return false;
        if (pid == ProcessHandle.current().pid()) return true;
        if (ProcessHandle.of(pid).isPresent()) return true;
        if (procShowsEveryone() && !Files.exists(Path.of("/proc", Long.toString(pid)))) return false;
        return killZeroSaysAlive(pid);
    }

    /**
     * True when /proc lists every process to us: it is mounted and not with hidepid. Then a pid
     * missing from it is dead and no command needs to run (the common, cheap case).
     */
    static boolean procShowsEveryone() {
        Boolean v = PROC_SHOWS_EVERYONE;
        if (v == null) {
            v = readProcShowsEveryone();
            PROC_SHOWS_EVERYONE = v;
        }
        return v;
    }

    private static volatile Boolean PROC_SHOWS_EVERYONE;

    private static boolean readProcShowsEveryone() {
        if (!Files.isReadable(Path.of("/proc/self/stat"))) return false;
        List<String> mounts;
        try {
            mounts = Files.readAllLines(Path.of("/proc/self/mounts"), StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return false;
        }
        // Mounts stack: the last proc mount on /proc is the one we see.
        Boolean visible = null;
        for (String m : mounts) {
            String[] f = m.split(" ");
            if (f.length < 4 || !f[1].equals("/proc") || !f[2].equals("proc")) continue;
            visible = true;
            for (String opt : f[3].split(",")) {
                if (opt.startsWith("hidepid=") && !opt.equals("hidepid=0") && !opt.equals("hidepid=off")) visible = false;
            }
        }
        return visible != null && visible;
    }

    /** {@code kill -0} through the shell's builtin: exit 0 or "not permitted" mean the process exists. */
    static boolean killZeroSaysAlive(long pid) {
        try {
            ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", "kill -0 \"$1\" 2>&1", "sh", Long.toString(pid));
            pb.environment().put("LC_ALL", "C");
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.redirectErrorStream(true);
            Process p = pb.start();
            String said;
            try (InputStream in = p.getInputStream()) {
                said = new String(in.readNBytes(4096), StandardCharsets.UTF_8);
            }
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return true; // no answer is no proof of death
            }
            if (p.exitValue() == 0) return true;
            String s = said.toLowerCase(java.util.Locale.ROOT);
            // Only "no such process" proves death; any other refusal may hide a live process.
            return !(s.contains("no such process") || s.contains("esrch"));
        } catch (IOException e) {
            return true; // we could not ask: no proof of death
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }

    static Optional<Instant> startOf(long pid) {
        if (pid <= 0 || pid > Integer.MAX_VALUE) return Optional.empty();
        return ProcessHandle.of(pid).flatMap(h -> h.info().startInstant());
    }

    /** This boot's id (Linux), which changes at every boot; empty elsewhere. */
    static Optional<String> bootId() {
        String b = BOOT_ID;
        if (b == null) {
            try {
                b = Files.readString(Path.of("/proc/sys/kernel/random/boot_id"), StandardCharsets.US_ASCII).trim();
            } catch (IOException | RuntimeException e) {
                b = "";
            }
            if (!b.matches("[0-9a-fA-F-]{8,64}")) b = "";
            BOOT_ID = b;
        }
        return b.isEmpty() ? Optional.empty() : Optional.of(b);
    }

    private static volatile String BOOT_ID;

    /**
     * This process's pid namespace (the inode /proc/self/ns/pid names), the space in which every
     * pid we write or signal means something; empty where /proc will not say. Two containers
     * sharing a state directory share the boot but not this, and a pid written in one names
     * nothing, or someone else, in the other.
     */
    static Optional<String> pidNamespace() {
        String n = PID_NAMESPACE;
        if (n == null) {
            try {
                String link = Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
                n = link.matches("pid:\\[[0-9]{1,20}\\]") ? link.substring(5, link.length() - 1) : "";
            } catch (IOException | RuntimeException e) {
                n = "";
            }
            PID_NAMESPACE = n;
        }
        return n.isEmpty() ? Optional.empty() : Optional.of(n);
    }

    private static volatile String PID_NAMESPACE;

    /**
     * The process's start in clock ticks since boot, /proc/<pid>/stat field 22 (Linux): unlike
     * a start instant it never moves when the wall clock steps. Empty when /proc will not say.
     */
    static OptionalLong startTicks(long pid) {
        if (pid <= 0 || pid > Integer.MAX_VALUE) return OptionalLong.empty();
        String stat;
        try (InputStream in = Files.newInputStream(Path.of("/proc", Long.toString(pid), "stat"))) {
            stat = new String(in.readNBytes(4096), StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return OptionalLong.empty();
        }
        // Field 2 is the command name in parentheses and may itself hold spaces or ')'.
        int close = stat.lastIndexOf(')');
        if (close < 0) return OptionalLong.empty();
        String[] f = stat.substring(close + 1).trim().split(" ");
        if (f.length < 20) return OptionalLong.empty(); // f[0] is field 3, so field 22 is f[19]
        try {
            return OptionalLong.of(Long.parseLong(f[19]));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    /**
     * One line naming a process instance: the same live process always gives the same line,
     * and a process that later reuses the pid gives another (its start tick or boot differs).
     * The executable at the end is informational only.
     */
    static Optional<String> identity(long pid) {
        if (pid <= 0 || pid > Integer.MAX_VALUE) return Optional.empty();
        Optional<String> boot = bootId();
        OptionalLong ticks = startTicks(pid);
        if (boot.isPresent() && ticks.isPresent()) {
            return Optional.of(IDENTITY_FORMAT + " pid=" + pid + " boot=" + boot.get() + " ticks="
                    + ticks.getAsLong() + pidNamespace().map(n -> " pidns=" + n).orElse("")
                    + " exe=" + exe(pid).orElse("?"));
        }
        // No /proc (macOS): the older, wall-clock format is the best this system offers.
        Optional<Instant> start = startOf(pid);
        if (start.isEmpty()) return Optional.empty();
        return Optional.of(LEGACY_IDENTITY_FORMAT + " pid=" + pid + " start=" + start.get().toEpochMilli()
                + " exe=" + exe(pid).orElse("?"));
    }

    /** The executable as ProcessHandle shows it, without Linux's " (deleted)" after an upgrade. */
    static Optional<String> exe(long pid) {
        Optional<String> cmd = ProcessHandle.of(pid).flatMap(h -> h.info().command());
        if (cmd.isEmpty()) return Optional.empty();
        String exe = cmd.get().replaceAll("[\\r\\n]", " ");
        if (exe.endsWith(" (deleted)")) exe = exe.substring(0, exe.length() - " (deleted)".length());
        return Optional.of(exe);
    }

    static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
