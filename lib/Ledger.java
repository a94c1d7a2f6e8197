//SOURCES FmProc.java Identity.java StateFiles.java
//JAVAC_OPTIONS -XDignore.symbol.file

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * The cycle ledger, {@code STATE/.watch-cycles.log}: every watcher cycle (fm-watch.java, or the
 * one the arm runs in its own JVM) appends a line when it starts and a line when it ends, so
 * fm-status can say when supervision stopped, and why, long after the fact.
 *
 *   <epoch-ms> start pid=<N> via=<arm|watch|restart|replace:<N>> prev-beat=<epoch-ms|none> id=<identity>
 *   <epoch-ms> end pid=<N> how=<wake:<kind>|evicted|signal:<TERM|INT|HUP>|refused|unconfirmed|error>
 *
 * prev-beat is the beacon's mtime as the cycle found it: the last sign of life of whatever ran
 * before, which dates the end of a cycle killed with SIGKILL (it writes no end line).
 *
 * Writing never fails a watcher: every write is best effort. Each record is one write(2) of one
 * short line to a file opened O_APPEND, which a local file system applies whole and in some
 * order against every other appender, so two processes never interleave bytes. The file is
 * capped: a cycle that holds the watcher lock (so no two trims race) rewrites a ledger above
 * {@link #CAP} to its newest {@link #KEEP} bytes through a temporary file and a rename.
 * Race: an append that lands between the trim's read and its rename goes to the replaced file
 * and is lost. Only another process can append then: a refused start's record, or the end of
 * a watcher evicted from the lock (rare: a lock is only ever taken from a dead holder); a
 * previous holder that let the lock go wrote its end before it did.
 */
final class Ledger {
    static final String NAME = ".watch-cycles.log";
    static final int CAP = 256 * 1024;
    static final int KEEP = 192 * 1024;
    /** A reader looks at no more than this much of the newest end (a bash tool never trims it). */
    static final int READ_LIMIT = 512 * 1024;
    private static final String TMP_PREFIX = NAME + ".tmp.";
    private static final long MY_PID = ProcessHandle.current().pid();

    /** The ledger of this JVM's open cycle, until its end is written: one end line per cycle. */
    private static final AtomicReference<Path> OPEN = new AtomicReference<>();
    private static final AtomicBoolean REFUSAL_RECORDED = new AtomicBoolean();
    private static final AtomicBoolean HOOKED = new AtomicBoolean();

    private Ledger() {}

    // ------------------------------------------------------------------ writing

    /**
     * A cycle that holds the watcher lock starts: trims the ledger if it is over the cap, appends
     * the start line, and makes sure TERM, INT and HUP name themselves in its end line.
     */
    static void open(Path state, String via, Instant prevBeat) {
        Path file = state.resolve(NAME);
        trim(file);
        append(file, startLine(via, prevBeat));
        OPEN.set(file);
        endOnSignals();
    }

    /** Ends this JVM's open cycle, once; later calls (and a call with none open) do nothing. */
    static void end(String how) {
        Path file = OPEN.getAndSet(null);
        if (file != null) append(file, endLine(how));
    }

    /**
     * A start that found the lock taken is a cycle too, of no length: both lines in one write.
     * Only the first refusal of a process is recorded; an arm retrying for its confirm timeout
     * would otherwise write ten a second.
     */
    static void refused(Path state, String via, Instant prevBeat) {
        if (!REFUSAL_RECORDED.compareAndSet(false, true)) return;
        append(state.resolve(NAME), startLine(via, prevBeat) + endLine("refused"));
    }

    private static String startLine(String via, Instant prevBeat) {
        String id = FmProc.identity(MY_PID).orElse("unknown");
        return System.currentTimeMillis() + " start pid=" + MY_PID + " via=" + via + " prev-beat="
                + (prevBeat == null ? "none" : Long.toString(prevBeat.toEpochMilli())) + " id="
                + id.replaceAll("\\p{Cntrl}", " ") + "\n";
    }

    private static String endLine(String how) {
        return System.currentTimeMillis() + " end pid=" + MY_PID + " how=" + how + "\n";
    }

    /** One write of {@code text} at the end of the file; false (and nothing else) when it cannot be done. */
    static boolean append(Path file, String text) {
        try {
            // Never through a link (the line would land in someone else's file) and never into a
            // FIFO (opening one blocks). Race: swapped in after this look, a FIFO could still block us;
            // the state directory is the user's own, so that takes the user doing it on purpose.
            BasicFileAttributes a = attributes(file);
            if (a != null && !a.isRegularFile()) return false;
            // A writer that died mid-line left no newline: start afresh, so only its line is torn.
            // Race: another append still being copied in looks the same (a reader sees part of it);
            // then the fresh line only leaves a blank line, which readers skip.
            String line = a != null && a.size() > 0 && !endsWithNewline(file) ? "\n" + text : text;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND, LinkOption.NOFOLLOW_LINKS)) {
                ByteBuffer buf = ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8));
                while (buf.hasRemaining()) ch.write(buf);
            }
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static BasicFileAttributes attributes(Path file) throws IOException {
        try {
            return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private static boolean endsWithNewline(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            return StateFiles.endsWithNewline(ch);
        }
    }

    /**
     * Under the watcher lock: over {@link #CAP}, keep the newest {@link #KEEP} bytes from a line
     * start. The rename is atomic, so a reader sees the old ledger or the new one, never half.
     */
    static void trim(Path file) {
        Path tmp = file.resolveSibling(TMP_PREFIX + MY_PID);
        try {
            removeAbandonedTemps(file);
            BasicFileAttributes a = attributes(file);
            if (a == null || !a.isRegularFile() || a.size() <= CAP) return;
            byte[] tail = readTail(file, KEEP).bytes();
            int from = 0;
            while (from < tail.length && tail[from] != '\n') from++;
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING, LinkOption.NOFOLLOW_LINKS)) {
                ByteBuffer buf = ByteBuffer.wrap(tail, Math.min(from + 1, tail.length), Math.max(0, tail.length - from - 1));
                while (buf.hasRemaining()) ch.write(buf);
                ch.force(false);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the next trim removes it
            }
        }
    }

    /** A trim killed mid-way leaves its temporary file; only the lock holder trims, so any other is dead. */
    private static void removeAbandonedTemps(Path file) throws IOException {
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(file.getParent(), TMP_PREFIX + "*")) {
            for (Path p : dir) {
                OptionalLong pid = FmProc.parsePid(p.getFileName().toString().substring(TMP_PREFIX.length()));
                if (pid.isEmpty() || (pid.getAsLong() != MY_PID && !FmProc.alive(pid.getAsLong()))) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** The newest bytes of a file, and whether they are all of it (else they start mid-line). */
    record Tail(byte[] bytes, boolean whole) {}

    /** The newest {@code max} bytes of the file (all of it when smaller), read from one open file. */
    static Tail readTail(Path file, int max) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            long size = ch.size();
            int n = (int) Math.min(size, max);
            ByteBuffer buf = ByteBuffer.allocate(n);
            long at = size - n;
            while (buf.hasRemaining()) {
                if (ch.read(buf, at + buf.position()) < 0) break; // shrunk under us: what we have
            }
            byte[] got = buf.position() == n ? buf.array() : java.util.Arrays.copyOf(buf.array(), buf.position());
            return new Tail(got, at == 0);
        }
    }

    // ------------------------------------------------------------------ signal names

    /**
     * The JVM's own TERM/INT/HUP handling runs the shutdown hooks and exits 128 + the signal,
     * without saying which signal it was. Our handler writes the end line first (so it precedes
     * the lock's release, which a hook does), then hands the signal to the handler it replaced,
     * so exit codes, hooks, released locks and stopped checks stay exactly as they were. A signal
     * the process inherited as ignored (INT under a shell's `cmd &`) stays ignored: the JVM
     * refuses to install a handler for it, and we put the ignore back in our bookkeeping too.
     */
    private static void endOnSignals() {
        if (!HOOKED.compareAndSet(false, true)) return;
        for (String name : List.of("TERM", "INT", "HUP")) nameSignal(name);
        try {
            // Anything else that ends the JVM with the cycle open (an Error thrown out of it).
            Runtime.getRuntime().addShutdownHook(new Thread(() -> end("error"), "fm-ledger-end"));
        } catch (IllegalStateException exiting) {
            // already shutting down: whoever shuts us down writes the end
        }
    }

    @SuppressWarnings("sunapi")
    private static void nameSignal(String name) {
        try {
            Signal signal = new Signal(name);
            AtomicReference<SignalHandler> replaced = new AtomicReference<>();
            SignalHandler before = Signal.handle(signal, s -> {
                end("signal:" + s.getName());
                SignalHandler next = replaced.get();
                // Race: a signal that lands before we stored the replaced handler exits as the JVM would.
                if (next == null || next == SignalHandler.SIG_DFL || next == SignalHandler.SIG_IGN) {
                    System.exit(128 + s.getNumber());
                } else {
                    next.handle(s);
                }
            });
            replaced.set(before);
            if (before == SignalHandler.SIG_IGN || before == SignalHandler.SIG_DFL) Signal.handle(signal, before);
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            // -Xrs, or a platform without it: the JVM's own handling stays, and the end says "error"
        }
    }

    // ------------------------------------------------------------------ reading

    /** One parsed line. {@code how} is null for a start; via, prevBeat and identity are null for an end. */
    record Entry(long at, long pid, String via, Long prevBeat, String identity, String how) {
        boolean isStart() { return how == null; }
    }

    /** The ledger as read now: its records in file order, and what could not be read. */
    record Read(List<Entry> entries, int unreadable, String problem, boolean exists) {}

    private static final Pattern DIGITS = Pattern.compile("[0-9]{1,15}");
    private static final Pattern VIA = Pattern.compile("arm|watch|restart|replace:[0-9]{1,10}");
    private static final Pattern HOW = Pattern.compile("wake:[a-z]{1,32}|evicted|signal:[A-Z]{1,8}|refused|unconfirmed|error");

    static Read read(Path state) {
        Path file = state.resolve(NAME);
        BasicFileAttributes a;
        try {
            a = attributes(file);
        } catch (IOException e) {
            return new Read(List.of(), 0, "cannot read " + file + " (" + e.getClass().getSimpleName() + ")", true);
        }
        if (a == null) return new Read(List.of(), 0, null, false);
        if (!a.isRegularFile()) return new Read(List.of(), 0, file + " is not a regular file", true);
        Tail tail;
        try {
            tail = readTail(file, READ_LIMIT);
        } catch (IOException | SecurityException e) {
            return new Read(List.of(), 0, "cannot read " + file + " (" + e.getClass().getSimpleName() + ")", true);
        }
        String text = new String(tail.bytes(), StandardCharsets.UTF_8);
        // Started mid-file: the first line is a fragment, not garbage of the ledger's making.
        if (!tail.whole()) {
            int nl = text.indexOf('\n');
            text = nl < 0 ? "" : text.substring(nl + 1);
        }
        List<Entry> entries = new ArrayList<>();
        int bad = 0;
        String[] lines = text.split("\n", -1);
        // The last piece has no newline yet: a write still being copied in (a reader can see part
        // of it), or a torn one, which the next append's fresh line turns into a counted bad line.
        for (int i = 0; i < lines.length - 1; i++) {
            String line = lines[i];
            if (line.isEmpty()) continue; // two appenders each started a fresh line
            Entry e = parse(line);
            if (e == null) bad++;
            else entries.add(e);
        }
        return new Read(entries, bad, null, true);
    }

    /** One line, or null when it is not a record of ours (garbage, torn, another writer's). */
    static Entry parse(String line) {
        if (line.indexOf('\0') >= 0 || line.indexOf('\r') >= 0) return null;
        String head = line;
        String id = null;
        int at = line.indexOf(" id=");
        if (at >= 0) {
            head = line.substring(0, at);
            id = line.substring(at + 4);
        }
        String[] f = head.split(" ");
        if (f.length < 4 || !DIGITS.matcher(f[0]).matches() || !f[2].startsWith("pid=")) return null;
        OptionalLong pid = FmProc.parsePid(f[2].substring(4));
        if (pid.isEmpty()) return null;
        long when = Long.parseLong(f[0]);
        String via = null;
        String prev = null;
        String how = null;
        for (int i = 3; i < f.length; i++) {
            if (f[i].startsWith("via=")) via = f[i].substring(4);
            else if (f[i].startsWith("prev-beat=")) prev = f[i].substring(10);
            else if (f[i].startsWith("how=")) how = f[i].substring(4);
        }
        if (f[1].equals("start")) {
            if (id == null || via == null || !VIA.matcher(via).matches() || prev == null) return null;
            Long prevBeat = null;
            if (!prev.equals("none")) {
                if (!DIGITS.matcher(prev).matches()) return null;
                prevBeat = Long.parseLong(prev);
            }
            return new Entry(when, pid.getAsLong(), via, prevBeat, id, null);
        }
        if (!f[1].equals("end") || id != null || how == null || !HOW.matcher(how).matches()) return null;
        return new Entry(when, pid.getAsLong(), null, null, null, how);
    }

    // ------------------------------------------------------------------ history

    /**
     * One cycle as the ledger tells it. {@code how} is the end line's, or "running" (no end,
     * its process still the one that wrote the start), or "killed" (no end, and its process is
     * gone or its pid now names another process). {@code until} is the end, now (running), or
     * the last sign of life of a killed cycle.
     */
    record Cycle(long started, long pid, String via, String how, long until) {
        boolean refused() { return how.equals("refused"); }
    }

    /** Unsupervised time in a window: gaps between cycles, and the one still going on (0 if none). */
    record Gaps(long since, int count, long totalMs, long longestMs, long currentMs) {}

    /** Pairs starts with ends by pid, in file order; an end without its start (trimmed away) is dropped. */
    static List<Cycle> cycles(List<Entry> entries, long now, Optional<Instant> beacon) {
        // Pass 1: each start, with the end that closes it (none when the same pid starts again first).
        List<Entry> starts = new ArrayList<>();
        List<Entry> ends = new ArrayList<>();
        Map<Long, Integer> open = new HashMap<>();
        for (Entry e : entries) {
            if (e.isStart()) {
                open.put(e.pid(), starts.size());
                starts.add(e);
                ends.add(null);
            } else {
                Integer idx = open.remove(e.pid());
                if (idx != null) ends.set(idx, e);
            }
        }
        // Pass 2: a killed cycle's last sign of life is the beacon as the next cycle that held
        // the lock found it; after the last one, the beacon as it is now.
        int n = starts.size();
        Long[] nextPrevBeat = new Long[n];
        Long upcoming = beacon.map(Instant::toEpochMilli).orElse(null);
        for (int i = n - 1; i >= 0; i--) {
            nextPrevBeat[i] = upcoming;
            Entry end = ends.get(i);
            if (end == null || !end.how().equals("refused")) upcoming = starts.get(i).prevBeat();
        }
        List<Cycle> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            Entry s = starts.get(i);
            Entry end = ends.get(i);
            if (end != null) {
                out.add(new Cycle(s.at(), s.pid(), s.via(), end.how(), Math.max(s.at(), end.at())));
            } else if (open.get(s.pid()) != null && open.get(s.pid()) == i && stillRunning(s)) {
                out.add(new Cycle(s.at(), s.pid(), s.via(), "running", Math.max(s.at(), now)));
            } else {
                Long last = nextPrevBeat[i];
                out.add(new Cycle(s.at(), s.pid(), s.via(), "killed", last != null && last >= s.at() ? last : s.at()));
            }
        }
        return out;
    }

    /**
     * The start's process is alive and still the one that wrote it (a recycled pid is not); a
     * start that could not record its identity wrote {@code unknown}, which is no identity.
     */
    private static boolean stillRunning(Entry start) {
        String id = "unknown".equals(start.identity()) ? null : start.identity();
        return !Identity.of(start.pid(), id).writerGone();
    }

    /**
     * Gaps within [{@code from}, {@code now}]: the time no recorded cycle covered, from one
     * cycle's end (or last sign of life) to the next start. Before the first record nothing is
     * known, so nothing is counted there. {@code liveNow}: a watcher holds the lock right now
     * (perhaps one that writes no ledger), so the time since the last cycle is not a gap.
     */
    static Gaps gaps(List<Cycle> cycles, long from, long now, boolean liveNow) {
        List<long[]> spans = new ArrayList<>();
        for (Cycle c : cycles) if (!c.refused()) spans.add(new long[] {c.started(), Math.max(c.started(), c.until())});
        spans.sort((a, b) -> Long.compare(a[0], b[0]));
        int count = 0;
        long total = 0;
        long longest = 0;
        long current = 0;
        long since = spans.isEmpty() ? now : Math.max(from, spans.get(0)[0]);
        long reach = Long.MIN_VALUE;
        for (long[] s : spans) {
            if (reach != Long.MIN_VALUE && s[0] > reach) {
                long len = Math.min(s[0], now) - Math.max(reach, from);
                if (len > 0) {
                    count++;
                    total += len;
                    longest = Math.max(longest, len);
                }
            }
            reach = Math.max(reach, s[1]);
        }
        boolean running = cycles.stream().anyMatch(c -> c.how().equals("running"));
        if (reach != Long.MIN_VALUE && !running && !liveNow && now > reach) {
            current = now - Math.max(reach, from);
            if (current > 0) {
                count++;
                total += current;
                longest = Math.max(longest, current);
            } else {
                current = 0;
            }
        }
        return new Gaps(since, count, total, longest, current);
    }
}
