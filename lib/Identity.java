//SOURCES BashIdentity.java FmProc.java

import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one answer to "is the process that has this pid now the one that wrote this identity
 * line?". The lock, the arm, the ledger, a drain's private files and fm-status all ask here, so
 * they can never disagree about a live process. FmProc reads the facts (/proc); BashIdentity
 * reads the bash tools' ps line; this file alone turns them into a verdict.
 *
 * The table, first row that applies wins:
 *
 * | recorded line                                               | verdict  |
 * |-------------------------------------------------------------|----------|
 * | ours (fm-java-2) from another pid namespace of this boot    | UNKNOWN (that process is invisible from here, alive or not) |
 * | any, and no process has the pid                             | DEAD     |
 * | absent (no file, or empty: a holder between its lock and its metadata) | UNKNOWN; given when the record was written, OTHER if the live process started clearly after |
 * | ours fm-java-2: pid, boot and start ticks equal             | SAME     |
 * | ours fm-java-2: another pid, boot or start tick             | OTHER    |
 * | ours fm-java-2, but /proc will not say (hidden process)     | UNKNOWN  |
 * | legacy fm-java-1: start (epoch ms) equal                    | SAME     |
 * | legacy fm-java-1: another pid or executable                 | OTHER    |
 * | legacy fm-java-1: only the start differs (a clock step)     | UNKNOWN  |
 * | ours, but not readable (cut short mid-write, a newer format)| UNKNOWN  |
 * | bash ps line: start and command line equal                  | SAME     |
 * | bash ps line: another command line                          | OTHER    |
 * | bash ps line: same command line, start off (a clock step)   | UNKNOWN  |
 * | bash ps line, but the live command line cannot be read      | as absent |
 * | anything else (unparsable, e.g. "stale watcher identity")   | OTHER    |
 *
 * What callers do with it: SAME is the writer, alive. DEAD and OTHER mean the writer is gone
 * (the pid was reused): its lock is stale and reclaimable, and the process now under that pid
 * is never signalled. UNKNOWN proves nothing: a lock stays with its holder, nobody is signalled.
 * Only evidence a wall-clock step cannot move (boot id, start ticks, a command line, an exact
 * match) may say OTHER about a live process, except the absent row's start-after-written rule,
 * the one trade-off: without it a reused pid under a lock that carries no identity would wedge
 * every contender forever.
 */
final class Identity {
    private Identity() {}

    enum Verdict {
        /** The live process under the pid wrote the line. */
        SAME,
        /** A live process has the pid, and it provably did not write the line: the pid was reused. */
        OTHER,
        /** No process has the pid. */
        DEAD,
        /** Nothing here proves either. */
        UNKNOWN;

        /** True when the writer is provably no longer running (dead, or its pid reused). */
        boolean writerGone() { return this == OTHER || this == DEAD; }
    }

    /** A live process cannot be younger than the record it wrote by more than this (file-time slack). */
    static final java.time.Duration RECYCLE_MARGIN = java.time.Duration.ofSeconds(2);

    private static final Pattern CURRENT = Pattern.compile("^" + FmProc.IDENTITY_FORMAT
            + " pid=([0-9]+) boot=([0-9a-fA-F-]+) ticks=([0-9]+)(?: pidns=([0-9]+))?( |$)");
    private static final Pattern LEGACY = Pattern.compile("^" + FmProc.LEGACY_IDENTITY_FORMAT
            + " pid=([0-9]+) start=([0-9]+)(?: exe=(.*))?$");
    /** What every line we ever wrote starts with; a line cut short may hold only part of it. */
    private static final String OURS = "fm-java-";

    /** The verdict for {@code pid} and {@code line} (null when there is none). */
    static Verdict of(long pid, String line) {
        return of(pid, line, null);
    }

    /**
     * The verdict, given also when the record was written ({@code writtenAt}, e.g. the pid
     * file's mtime; null when unknown), which only the rows "absent" and "bash, unreadable" use.
     */
    static Verdict of(long pid, String line, Instant writtenAt) {
        if (line != null && line.isBlank()) line = null;
        if (fromAnotherPidNamespace(line)) return Verdict.UNKNOWN;
        if (!FmProc.alive(pid)) return Verdict.DEAD;
        if (line == null) return startedAfter(pid, writtenAt);
        Matcher m = CURRENT.matcher(line);
        if (m.find()) return current(pid, m);
        m = LEGACY.matcher(line.replaceAll("[\\r\\n]+$", ""));
        if (m.find()) return legacy(pid, m);
        if (line.startsWith(OURS) || OURS.startsWith(line)) return Verdict.UNKNOWN;
        if (BashIdentity.parse(line).isPresent()) return bash(pid, line, writtenAt);
        return Verdict.OTHER;
    }

    /** fm-java-2: pid, boot and start ticks, none of which a wall-clock step moves. */
    private static Verdict current(long pid, Matcher m) {
        if (!m.group(1).equals(Long.toString(pid))) return Verdict.OTHER;
        Optional<String> boot = FmProc.bootId();
        if (boot.isPresent() && !sameBoot(boot.get(), m.group(2))) return Verdict.OTHER; // that boot's processes are gone
        OptionalLong ticks = FmProc.startTicks(pid);
        if (boot.isEmpty() || ticks.isEmpty()) return Verdict.UNKNOWN;
        return m.group(3).equals(Long.toString(ticks.getAsLong())) ? Verdict.SAME : Verdict.OTHER;
    }

    /** fm-java-1: the start in epoch ms moves with a clock step, so only a match, a pid or an executable decide. */
    private static Verdict legacy(long pid, Matcher m) {
        if (!m.group(1).equals(Long.toString(pid))) return Verdict.OTHER;
        Optional<Instant> start = FmProc.startOf(pid);
        if (start.isEmpty()) return Verdict.UNKNOWN;
        if (m.group(2).equals(Long.toString(start.get().toEpochMilli()))) return Verdict.SAME;
        String was = m.group(3);
        Optional<String> now = FmProc.exe(pid);
        if (was != null && !was.equals("?") && now.isPresent() && !now.get().equals(was)) return Verdict.OTHER;
        return Verdict.UNKNOWN;
    }

    /** The bash tools' ps line: the command line decides what the start (clock-bound) cannot. */
    private static Verdict bash(long pid, String line, Instant writtenAt) {
        Optional<Boolean> same = BashIdentity.matches(line, pid);
        if (same.isPresent()) return same.get() ? Verdict.SAME : Verdict.OTHER;
        Optional<Boolean> command = BashIdentity.sameCommand(line, pid);
        if (command.isPresent()) return command.get() ? Verdict.UNKNOWN : Verdict.OTHER;
        return startedAfter(pid, writtenAt);
    }

    /**
     * No identity to go by: a process that started clearly after the record was written cannot
     * have written it. TRADE-OFF: a clock step can make a live writer look younger; without
     * this rule a reused pid under an identity-less lock wedges every contender forever.
     */
    private static Verdict startedAfter(long pid, Instant writtenAt) {
        if (writtenAt == null) return Verdict.UNKNOWN;
        Optional<Instant> start = FmProc.startOf(pid);
        return start.isPresent() && start.get().isAfter(writtenAt.plus(RECYCLE_MARGIN)) ? Verdict.OTHER : Verdict.UNKNOWN;
    }

    /**
     * True when {@code line} is one of ours written in another pid namespace during this boot
     * (another container sharing the directory): its pid names nothing, or an unrelated process,
     * here. A line from another boot is not (every process of that boot is gone), nor is one
     * without a namespace (older versions).
     */
    static boolean fromAnotherPidNamespace(String line) {
        if (line == null) return false;
        Matcher m = CURRENT.matcher(line);
        if (!m.find() || m.group(4) == null) return false;
        Optional<String> ours = FmProc.pidNamespace();
        if (ours.isEmpty() || ours.get().equals(m.group(4))) return false;
        Optional<String> boot = FmProc.bootId();
        return boot.isEmpty() || sameBoot(boot.get(), m.group(2));
    }

    /** True for a line in a format this implementation writes (fm-java-2 or fm-java-1). */
    static boolean ours(String line) {
        return line != null && (line.startsWith(FmProc.IDENTITY_FORMAT + " pid=")
                || line.startsWith(FmProc.LEGACY_IDENTITY_FORMAT + " pid="));
    }

    /** Boot ids compare without their dashes (a drain's file name drops them) and case. */
    private static boolean sameBoot(String a, String b) {
        return a.replace("-", "").toLowerCase(Locale.ROOT).equals(b.replace("-", "").toLowerCase(Locale.ROOT));
    }
}
