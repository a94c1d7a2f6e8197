//SOURCES FmProc.java

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The bash tools' {@code pid-identity} line, verified against a live process.
 *
 * The bash tools record {@code ps -p <pid> -o lstart= -o command=} with leading blanks
 * removed: the start time as {@code %a %b %e %H:%M:%S %Y} (C locale, local time zone), one
 * space, then the command line as ps prints it. We compare both halves with the live process,
 * read without ps: the start instant from {@link ProcessHandle} truncated to the second and
 * formatted in the same zone, and the command line from {@code /proc/<pid>/cmdline}.
 *
 * The rule (shared with the lock's wall-clock rule: evidence that can condemn a live holder
 * must survive a wall-clock step):
 * <ul>
 * <li>start and command line equal: proven this process;
 * <li>command line clearly different: proven a different process (the pid was recycled), whatever
 *     the start says, since a command line does not move when the clock steps;
 * <li>command line equal but start different: proves nothing, because a wall-clock step shifts
 *     every start time computed from the boot time (ours now, or ps's when it wrote the line);
 * <li>anything we cannot parse or read (no /proc, a zombie, a hidden process, a line ps truncated
 *     to a terminal's width): proves nothing.
 * </ul>
 * This file only parses and checks such a line; the verdict every caller uses, in which a line
 * that is no ps line at all means a reused pid, is lib/Identity's.
 */
final class BashIdentity {
    private BashIdentity() {}

    /** {@code Tue Dec  1 23:21:18 2026}: ps's lstart, always 24 characters in the C locale. */
    private static final Pattern LINE = Pattern.compile(
            "^((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                    + " [ 123][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] [0-9]{4}) (.*)$", Pattern.DOTALL);
    private static final DateTimeFormatter LSTART =
            DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss yyyy", Locale.US);
    /** More command line than this is not compared (a bash watcher's is a few hundred bytes). */
    static final int MAX_CMDLINE = 64 * 1024;

    /** What a recorded line says: the start as ps printed it, and the command line. */
    record Parsed(String lstart, String command) {}

    /** The two halves of a bash identity line, or empty when it is not one. */
    static Optional<Parsed> parse(String line) {
        if (line == null) return Optional.empty();
        String t = line.stripLeading();
        while (t.endsWith("\n") || t.endsWith("\r")) t = t.substring(0, t.length() - 1);
        Matcher m = LINE.matcher(t);
        if (!m.matches() || m.group(2).isBlank()) return Optional.empty();
        return Optional.of(new Parsed(m.group(1), m.group(2).strip()));
    }

    /** As {@link #matches(String, long, ZoneId)} in this JVM's zone (TZ, as ps uses it). */
    static Optional<Boolean> matches(String line, long pid) {
        return matches(line, pid, ZoneId.systemDefault());
    }

    /**
     * Whether {@code line} names the process that has {@code pid} now: present-true proves it is
     * that process, present-false proves it is another one, empty proves nothing.
     */
    static Optional<Boolean> matches(String line, long pid, ZoneId zone) {
        Optional<Parsed> parsed = parse(line);
        if (parsed.isEmpty() || pid <= 0 || pid > Integer.MAX_VALUE) return Optional.empty();
        // The pid may change hands between our reads: take the start before and after the
        // command line, and trust the pair only when both starts agree.
        Optional<Instant> before = startOf(pid);
        Optional<String> live = commandLine(pid);
        Optional<Instant> after = startOf(pid);
        if (live.isEmpty() || before.isEmpty() || !before.equals(after)) return Optional.empty();
        Match command = compareCommands(parsed.get().command(), live.get());
        if (command == Match.DIFFERENT) return Optional.of(false);
        if (command == Match.UNKNOWN) return Optional.empty();
        return lstart(before.get(), zone).equals(parsed.get().lstart()) ? Optional.of(true) : Optional.empty();
    }

    /**
     * Whether the live process's command line is the one {@code line} recorded: present-true
     * when it is (the process is such a watcher, whatever its start says), present-false when
     * it clearly is not, empty when {@code line} is no bash identity or nothing can be read.
     * Unlike the start time, a command line does not move when the wall clock steps.
     */
    static Optional<Boolean> sameCommand(String line, long pid) {
        Optional<Parsed> parsed = parse(line);
        if (parsed.isEmpty() || pid <= 0 || pid > Integer.MAX_VALUE) return Optional.empty();
        Optional<String> live = commandLine(pid);
        if (live.isEmpty()) return Optional.empty();
        Match m = compareCommands(parsed.get().command(), live.get());
        return m == Match.UNKNOWN ? Optional.empty() : Optional.of(m == Match.SAME);
    }

    /**
     * The start as ps computes it: the boot time /proc/stat gives now, plus the start ticks at
     * USER_HZ (100 on Linux). Not ProcessHandle's instant: the JDK reads the boot time once per
     * JVM, and a clock that has been slewed since then makes a long-lived JVM's instants differ
     * from what ps prints by a second or more (seen in the test suite's own JVM).
     */
    private static Optional<Instant> startOf(long pid) {
        OptionalLong ticks = FmProc.startTicks(pid);
        OptionalLong btime = bootTime();
        if (ticks.isPresent() && btime.isPresent()) {
            return Optional.of(Instant.ofEpochSecond(btime.getAsLong()).plusMillis(ticks.getAsLong() * 1000 / USER_HZ));
        }
        if (Files.isDirectory(Path.of("/proc/self"))) return Optional.empty(); // gone, or hidden
        return ProcessHandle.of(pid).flatMap(h -> h.info().startInstant());
    }

    /** Clock ticks per second of /proc/<pid>/stat, fixed at 100 for user space on Linux. */
    private static final long USER_HZ = 100;

    /** The boot time in epoch seconds as the kernel states it now (it follows clock changes). */
    private static OptionalLong bootTime() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/stat"), StandardCharsets.US_ASCII)) {
                if (l.startsWith("btime ")) return OptionalLong.of(Long.parseLong(l.substring(6).strip()));
            }
        } catch (IOException | RuntimeException e) {
            // no /proc: the caller falls back
        }
        return OptionalLong.empty();
    }

    /** A start instant as ps's lstart prints it in {@code zone} (to the second, truncated). */
    static String lstart(Instant start, ZoneId zone) {
        return LSTART.format(start.atZone(zone));
    }

    enum Match { SAME, DIFFERENT, UNKNOWN }

    /**
     * Compares a command line as ps printed it with the live one. ps escapes what it cannot
     * print (a tab as {@code ?}, each non-ASCII byte as {@code ?} under the C locale, a newline
     * as a space) and may cut the line at a terminal's width (COLUMNS, or 80 on macOS), so
     * only the ASCII letters and digits are trusted for a verdict beyond exact equality.
     */
    static Match compareCommands(String recorded, String live) {
        if (recorded.equals(live)) return Match.SAME;
        String r = letters(recorded);
        String l = letters(live);
        if (r.isEmpty() || l.isEmpty()) return Match.UNKNOWN;
        if (r.equals(l)) return Match.SAME;
        if (l.startsWith(r)) return Match.UNKNOWN; // ps cut the line short
        return Match.DIFFERENT;
    }

    private static String letters(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) b.append(c);
        }
        return b.toString();
    }

    /**
     * The live command line as ps joins it: the arguments (argv[0] as the process was started,
     * which {@link ProcessHandle.Info#commandLine} replaces by the executable's path) separated
     * by single spaces. Empty when it cannot be read (no /proc, a hidden or zombie process,
     * or longer than we compare).
     */
    static Optional<String> commandLine(long pid) {
        Path file = Path.of("/proc", Long.toString(pid), "cmdline");
        byte[] raw;
        try (InputStream in = Files.newInputStream(file)) {
            raw = in.readNBytes(MAX_CMDLINE + 1);
        } catch (IOException | SecurityException e) {
            return Optional.empty();
        }
        if (raw.length == 0 || raw.length > MAX_CMDLINE) return Optional.empty();
        int n = raw.length;
        while (n > 0 && raw[n - 1] == 0) n--;
        for (int i = 0; i < n; i++) if (raw[i] == 0) raw[i] = ' ';
        return Optional.of(new String(raw, 0, n, StandardCharsets.UTF_8));
    }
}
