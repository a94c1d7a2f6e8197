//SOURCES FmProc.java Identity.java StateFiles.java

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The name of a drain's private file, which carries everything the next drain must know about
 * it, in the one place a failed write can never change:
 *
 *   .wake-queue.draining.<pid>.<start>.<boot>.<taken>.<random>
 *
 * {@code pid}, {@code start} and {@code boot} say which process owns the records: its pid, its
 * start in clock ticks since boot (/proc/<pid>/stat field 22; {@code m<epoch ms>} where there
 * is no /proc) and the boot id without dashes (0 where there is none). Pid 0 means nobody: a
 * drain that could not put its records back gave them up, and any drain may take them over.
 * {@code taken} orders the takes: the take's wall-clock milliseconds, or one more than the
 * largest such number in the directory when the clock reads lower (a step back), so a later
 * take always sorts later. A file keeps its {@code taken} when another drain adopts it.
 *
 * Older versions named the file {@code .wake-queue.draining.<pid>.<random>} and dated it by
 * its mtime. Such names are still recovered; they sort before every new name (they predate
 * it) and among themselves by mtime, the only evidence they carry.
 */
record DrainFile(Path path, long pid, String start, String boot, long taken) {
    /** The name prefix of a drain's private file; nothing else in STATE starts with it. */
    static final String PREFIX = ".wake-queue.draining.";
    /** Orders by take, old-format files (taken == -1) first. */
    static final Comparator<DrainFile> OLDEST_FIRST = Comparator.comparingLong(DrainFile::taken)
            .thenComparing((DrainFile f) -> f.taken < 0 ? mtimeOrEpoch(f.path) : Instant.EPOCH)
            .thenComparing(f -> f.path.getFileName().toString());

    private static final Pattern NAME = Pattern.compile(
            "([0-9]{1,10})\\.([0-9]{1,20}|m[0-9]{1,20})\\.([0-9a-f]{32}|0)\\.([0-9]{1,19})\\.[0-9a-f]{1,16}");
    private static final String BOOT = bootId();
    private static final String MY_START = startOf(ProcessHandle.current().pid()).orElse("m0");

    /** True for a file written in the old format (no owner identity, no take order). */
    boolean oldFormat() { return taken < 0; }

    /** True when the drain that owned it gave it up (pid 0): any drain may adopt it. */
    boolean abandoned() { return !oldFormat() && pid == 0; }

    /** The private files in {@code state}, regular files only (anything else is not ours to move). */
    static List<DrainFile> list(Path state) throws IOException {
        List<DrainFile> out = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(state, PREFIX + "*")) {
            for (Path p : dir) {
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) out.add(parse(p));
            }
        } catch (NoSuchFileException e) {
            return out;
        }
        out.sort(OLDEST_FIRST);
        return out;
    }

    static DrainFile parse(Path p) {
        String rest = p.getFileName().toString().substring(PREFIX.length());
        Matcher m = NAME.matcher(rest);
        if (m.matches()) {
            return new DrainFile(p, Long.parseLong(m.group(1)), m.group(2), m.group(3), Long.parseLong(m.group(4)));
        }
        int dot = rest.indexOf('.');
        OptionalLong pid = FmProc.parsePid(dot < 0 ? rest : rest.substring(0, dot));
        return new DrainFile(p, pid.orElse(0), "", "", -1);
    }

    /** A fresh name in {@code state} owned by this process, for records taken at {@code taken}. */
    static DrainFile mine(Path state, long taken) {
        long pid = ProcessHandle.current().pid();
        String name = PREFIX + pid + "." + MY_START + "." + BOOT + "." + taken + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1);
        return new DrainFile(state.resolve(name), pid, MY_START, BOOT, taken);
    }

    /** The same records under a name that says nobody owns them any more. */
    DrainFile givenUp() {
        String name = PREFIX + "0.0.0." + Math.max(taken, 0) + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1);
        return new DrainFile(path.resolveSibling(name), 0, "0", "0", Math.max(taken, 0));
    }

    /** The take order the next take must exceed: the clock, or past every file present. */
    static long nextTaken(List<DrainFile> present) {
        long next = System.currentTimeMillis();
        for (DrainFile f : present) next = Math.max(next, f.taken + 1);
        return next;
    }

    /**
     * True when the drain that owns it is gone, so its records are another drain's to take.
     * A live owner is never robbed: two drains at once must never print one record twice.
     * Race: a process that reused a dead drain's pid is not its owner; the name's owner is an
     * identity (Identity decides), which a failed write cannot change since it is in the name.
     */
    boolean ownerGone() {
        if (pid == 0) return true;
        if (oldFormat()) {
            if (pid == ProcessHandle.current().pid()) return true; // we never wrote an old-format name
            // No identity: only the file's date, the absent row of Identity's table.
            return Identity.of(pid, null, StateFiles.mtime(path)).writerGone();
        }
        return Identity.of(pid, identityLine()).writerGone();
    }

    /**
     * The owner as an identity line: fm-java-2 (boot and start ticks), or fm-java-1 where the
     * start is in epoch ms (no /proc). No pid namespace is recorded in a name.
     */
    private String identityLine() {
        if (start.startsWith("m")) return FmProc.LEGACY_IDENTITY_FORMAT + " pid=" + pid + " start=" + start.substring(1);
        return FmProc.IDENTITY_FORMAT + " pid=" + pid + " boot=" + boot + " ticks=" + start;
    }

    /** True when this process owns the file. */
    boolean mine() {
        return !oldFormat() && pid == ProcessHandle.current().pid() && start.equals(MY_START) && boot.equals(BOOT);
    }

    private static Instant mtimeOrEpoch(Path p) {
        Instant t = StateFiles.mtime(p);
        return t == null ? Instant.EPOCH : t;
    }

    /** The boot id without dashes, or "0" where the system has none. */
    private static String bootId() {
        String id = FmProc.bootId().orElse("").replace("-", "").toLowerCase(java.util.Locale.ROOT);
        return id.matches("[0-9a-f]{32}") ? id : "0";
    }

    /**
     * A process's start as this name records it: clock ticks since boot from /proc (immune to
     * wall-clock steps), else {@code m} and the start instant in epoch ms (macOS keeps that
     * instant fixed). Empty when the process cannot be read.
     */
    static Optional<String> startOf(long pid) {
        OptionalLong ticks = FmProc.startTicks(pid);
        if (ticks.isPresent()) return Optional.of(Long.toString(ticks.getAsLong()));
        if (Files.isDirectory(Path.of("/proc/self"))) return Optional.empty(); // gone, or unreadable
        return FmProc.startOf(pid).map(i -> "m" + i.toEpochMilli());
    }
}
