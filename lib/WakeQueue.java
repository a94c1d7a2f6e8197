//SOURCES ../FmLock.java FmHome.java FmProc.java Knobs.java StateFiles.java

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The durable wake queue of state.md: {@code .wake-queue}, {@code .wake-queue.seq}, both
 * changed only under {@code .wake-queue.lock} (the same lock protocol the bash appenders use).
 * A record is one line: epoch TAB seq TAB kind TAB key TAB payload.
 *
 * The drain moves the whole queue aside to a private file {@code .wake-queue.draining.<pid>.<hex>}
 * under the lock, so every record belongs to exactly one drain, and prints it after releasing
 * the lock, so a slow reader of its output never stalls a watcher's append. A failed drain puts
 * the private file back in front of the queue; a drain killed outright leaves the file behind,
 * and the next drain, seeing its owner dead, puts it back the same way.
 */
final class WakeQueue {
    /** How long an append or drain waits for the queue lock before it gives up with a message. */
    static final Duration DEFAULT_LOCK_WAIT = Duration.ofSeconds(120);
    /** The name prefix of a drain's private file; nothing else in STATE starts with it. */
    static final String DRAINING_PREFIX = ".wake-queue.draining.";
    /** A longer line is not a record of ours (payloads are bounded); it is skipped, not held in memory. */
    static final int MAX_LINE_BYTES = 4 << 20;


    /** One record to append. */
    record Entry(String kind, String key, String payload) {}

    private final FmHome home;
    private final Duration lockWait;

    WakeQueue(FmHome home, Knobs knobs) {
        this.home = home;
        this.lockWait = knobs.seconds("FM_QUEUE_LOCK_WAIT", DEFAULT_LOCK_WAIT.toSeconds(), 0);
    }

    /**
     * Appends the entries, with consecutive sequence numbers, in one hold of the queue lock.
     * The sequence file moves first, so a crash can leave a gap but never reuse a number;
     * the records are forced to disk before the lock is released.
     */
    void append(List<Entry> entries) throws IOException {
        if (entries.isEmpty()) return;
        try (FmLock.Held lock = lock()) {
            long seq = readSeq();
            long last = seq + entries.size();
            writeSeq(last);
            long epoch = Instant.now().getEpochSecond();
            StringBuilder sb = new StringBuilder();
            for (Entry e : entries) {
                seq++;
                sb.append(epoch).append('\t').append(seq).append('\t').append(e.kind()).append('\t')
                        .append(clean(e.key())).append('\t').append(clean(e.payload())).append('\n');
            }
            // A writer that died mid-line left no newline: start on a fresh line, so the torn
            // record stays one malformed line instead of swallowing ours.
            if (!endsWithNewline(home.wakeQueue())) sb.insert(0, '\n');
            try (FileChannel ch = FileChannel.open(home.wakeQueue(), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
                ByteBuffer buf = ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.UTF_8));
                while (buf.hasRemaining()) ch.write(buf);
                ch.force(false);
            }
        } catch (IOException e) {
            throw new IOException("cannot append to " + home.wakeQueue() + ": " + e.getMessage(), e);
        }
    }

    /** True for a missing or empty file, or one whose last byte is LF. */
    private static boolean endsWithNewline(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer last = ByteBuffer.allocate(1);
            return size == 0 || (ch.read(last, size - 1) == 1 && last.get(0) == '\n');
        } catch (NoSuchFileException e) {
            return true;
        }
    }

    // ------------------------------------------------------------------ drain

    /**
     * Drains the queue (state.md "The drain"): writes the deduplicated records to {@code out},
     * flushes it, and returns how many lines it wrote (0 for an empty queue). On failure after
     * the records were taken they are back at the front of the queue (or, if even that failed,
     * still in the private file, which the next drain recovers), and the exception says which.
     */
    int drain(OutputStream out) throws IOException {
        Path taken;
        try (FmLock.Held lock = lock()) {
            recoverAbandonedDrains();
            taken = takeAll();
        }
        if (taken == null) return 0;
        // A TERM/INT/HUP while printing: put the records back rather than leave the private file.
        Object guard = new Object();
        boolean[] state = new boolean[2]; // [0] printed, [1] put back by the hook
        Thread hook = new Thread(() -> {
            synchronized (guard) {
                if (state[0]) return;
                state[1] = true;
                try (FmLock.Held lock = FmLock.acquireWithin(home.wakeQueueLock(), Duration.ofSeconds(5))) {
                    putInFront(taken);
                } catch (Exception e) {
                    // left in place: the next drain recovers it
                }
            }
        }, "fm-drain-put-back");
        Runtime.getRuntime().addShutdownHook(hook);
        int printed;
        try {
            printed = printDeduplicated(taken, out);
        } catch (IOException | RuntimeException e) {
            synchronized (guard) {
                state[0] = true;
                if (state[1]) throw new IOException("interrupted");
            }
            removeHook(hook);
            throw putBack(taken, e);
        }
        synchronized (guard) {
            state[0] = true;
            if (state[1]) return printed;
        }
        removeHook(hook);
        try {
            Files.delete(taken);
        } catch (IOException e) {
            // Printed already: putting them back now would be a silent repeat; say so instead.
            throw new IOException("printed " + printed + " records but cannot remove " + taken + " ("
                    + oneLine(e.getMessage()) + "); the next drain will print them again", e);
        }
        return printed;
    }

    private static void removeHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException exiting) {
            // the hook runs, finds the records printed, and does nothing
        }
    }

    /** Under the lock: moves a non-empty queue to a fresh private file; null when there is nothing. */
    private Path takeAll() throws IOException {
        Path queue = home.wakeQueue();
        if (!Files.exists(queue, LinkOption.NOFOLLOW_LINKS)) {
            createEmptyQueue();
            return null;
        }
        if (!Files.isRegularFile(queue, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(queue + " is not a regular file; move it out of the way and run the drain again");
        }
        if (Files.size(queue) == 0) return null;
        Path mine = home.file(DRAINING_PREFIX + ProcessHandle.current().pid() + "."
                + Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong() >>> 1));
        Files.move(queue, mine, StandardCopyOption.ATOMIC_MOVE);
        try {
            // The move keeps the last append's mtime; from now on the mtime dates our ownership,
            // which is what tells a recycled pid from us (see ownerGone).
            Files.setLastModifiedTime(mine, FileTime.from(Instant.now()));
            createEmptyQueue();
        } catch (IOException e) {
            putInFront(mine);
            throw new IOException("cannot recreate " + queue + " (" + e.getMessage() + "); the queue is unchanged", e);
        }
        return mine;
    }

    private void createEmptyQueue() throws IOException {
        try {
            Files.createFile(home.wakeQueue());
        } catch (FileAlreadyExistsException ok) {
            // somebody not following the lock made it; an existing queue is what we want anyway
        }
    }

    /** After a failure: the private file goes back in front of the queue; the result describes it. */
    private IOException putBack(Path taken, Exception cause) {
        String what = cause instanceof IOException && cause.getMessage() != null ? cause.getMessage() : cause.toString();
        try (FmLock.Held lock = lock()) {
            putInFront(taken);
            return new IOException("drain failed (" + oneLine(what) + "); its records were put back in "
                    + home.wakeQueue() + ", run the drain again", cause);
        } catch (IOException e) {
            return new IOException("drain failed (" + oneLine(what) + ") and its records could not be put back ("
                    + oneLine(e.getMessage()) + "); they stay in " + taken + ", which the next drain recovers", cause);
        }
    }

    /**
     * Under the lock: makes {@code earlier}'s records precede the queue's. The queue's bytes are
     * copied onto the end of {@code earlier}, which then atomically replaces the queue. A crash
     * in between leaves the copied records twice; those are identical lines that a drain folds,
     * so the worst case is a repeat, never a loss.
     */
    private void putInFront(Path earlier) throws IOException {
        Path queue = home.wakeQueue();
        long before = Files.size(earlier);
        try (FileChannel dst = FileChannel.open(earlier, StandardOpenOption.WRITE)) {
            try {
                dst.position(before);
                if (!endsWithNewline(earlier)) dst.write(ByteBuffer.wrap(new byte[] {'\n'}));
                if (Files.exists(queue, LinkOption.NOFOLLOW_LINKS)) {
                    try (FileChannel src = FileChannel.open(queue, StandardOpenOption.READ)) {
                        long size = src.size();
                        for (long done = 0; done < size; ) done += src.transferTo(done, size - done, dst);
                    }
                }
                dst.force(false);
            } catch (IOException e) {
                dst.truncate(before); // leave the private file as it was, so nothing is doubled
                throw e;
            }
        }
        Files.move(earlier, queue, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * Under the lock: private files whose drain is gone (killed, or crashed before it could put
     * them back) return to the front of the queue, oldest first. A live drain's file is never
     * touched, so two drains at once never print one record twice.
     */
    private void recoverAbandonedDrains() throws IOException {
        List<Path> orphans = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(home.state, DRAINING_PREFIX + "*")) {
            for (Path p : dir) {
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && ownerGone(p)) orphans.add(p);
            }
        } catch (NoSuchFileException e) {
            return;
        }
        orphans.sort(Comparator.comparing((Path p) -> StateFiles.mtime(p), Comparator.nullsFirst(Comparator.naturalOrder()))
                .thenComparing(Path::toString));
        // Each put goes in front of everything, so the newest goes first and the oldest ends up first.
        for (int i = orphans.size() - 1; i >= 0; i--) {
            Path p = orphans.get(i);
            try {
                putInFront(p);
            } catch (IOException e) {
                throw new IOException("cannot recover the records of an interrupted drain from " + p + " ("
                        + e.getMessage() + "); append its lines to " + home.wakeQueue() + " by hand, then delete it", e);
            }
        }
    }

    /**
     * The drain that owns a private file is gone when the pid in its name is not alive, or when
     * the live process with that pid started after the file's ownership was dated (a recycled pid).
     */
    static boolean ownerGone(Path privateFile) {
        String rest = privateFile.getFileName().toString().substring(DRAINING_PREFIX.length());
        int dot = rest.indexOf('.');
        OptionalLong pid = FmProc.parsePid(dot < 0 ? rest : rest.substring(0, dot));
        if (pid.isEmpty() || !FmProc.alive(pid.getAsLong())) return true;
        // This applies to our own pid too: a file dated before we started is a dead drain's.
        Optional<Instant> start = FmProc.startOf(pid.getAsLong());
        Instant dated = StateFiles.mtime(privateFile);
        return start.isPresent() && dated != null && start.get().isAfter(dated.plus(FmLock.RECYCLE_MARGIN));
    }

    /**
     * Writes the records of {@code file} deduplicated: one line per kind+key (one for all
     * heartbeats), at its first position, carrying its last full line. Bytes pass through as
     * they are (ISO-8859-1 maps each byte to one char and back); a trailing CR and NUL bytes
     * (what a crash can leave in a file) are removed; lines with fewer than five fields go.
     */
    static int printDeduplicated(Path file, OutputStream out) throws IOException {
        Map<String, String> groups = new LinkedHashMap<>(); // a re-put keeps the first position
        try (InputStream in = Files.newInputStream(file)) {
            Lines lines = new Lines(in);
            for (String line; (line = lines.next()) != null; ) {
                String group = groupOf(line);
                if (group != null) groups.put(group, line);
            }
        }
        for (String line : groups.values()) {
            out.write(line.getBytes(StandardCharsets.ISO_8859_1));
            out.write('\n');
        }
        out.flush();
        return groups.size();
    }

    /** The dedup group of a record line, or null when it has fewer than five tab-separated fields. */
    static String groupOf(String line) {
        int t1 = line.indexOf('\t');
        int t2 = t1 < 0 ? -1 : line.indexOf('\t', t1 + 1);
        int t3 = t2 < 0 ? -1 : line.indexOf('\t', t2 + 1);
        int t4 = t3 < 0 ? -1 : line.indexOf('\t', t3 + 1);
        if (t4 < 0) return null;
        String kind = line.substring(t2 + 1, t3);
        return kind.equals("heartbeat") ? kind : kind + '\t' + line.substring(t3 + 1, t4);
    }

    /** Splits a byte stream at LF only, dropping NULs, a trailing CR and oversized lines. */
    private static final class Lines {
        private final InputStream in;
        private final byte[] chunk = new byte[1 << 16];
        private int pos;
        private int end;
        private byte[] line = new byte[256];

        Lines(InputStream in) { this.in = in; }

        /** The next line without its LF, or null at the end of the stream. */
        String next() throws IOException {
            int len = 0;
            boolean oversized = false;
            boolean any = false;
            while (true) {
                if (pos == end) {
                    end = in.read(chunk);
                    pos = 0;
                    if (end <= 0) {
                        end = 0;
                        return any ? text(len, oversized) : null;
                    }
                }
                any = true;
                byte b = chunk[pos++];
                if (b == '\n') return text(len, oversized);
                if (b == 0 || oversized) continue;
                if (len == MAX_LINE_BYTES) {
                    oversized = true;
                    continue;
                }
                if (len == line.length) line = Arrays.copyOf(line, Math.min(MAX_LINE_BYTES, line.length * 2));
                line[len++] = b;
            }
        }

        private String text(int len, boolean oversized) {
            if (oversized) return ""; // no fields: dropped like any malformed line
            int n = len > 0 && line[len - 1] == '\r' ? len - 1 : len;
            return new String(line, 0, n, StandardCharsets.ISO_8859_1);
        }
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("[\\r\\n]+", " ");
    }

    // ------------------------------------------------------------------ lock and sequence

    /** Takes the queue lock, waiting up to the configured time. */
    FmLock.Held lock() throws IOException {
        try {
            return FmLock.acquireWithin(home.wakeQueueLock(), lockWait);
        } catch (FmLock.Timeout t) {
            throw new IOException(t.getMessage() + (t.waited ? "; if no queue user is running, remove " + home.wakeQueueLock() : ""));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for " + home.wakeQueueLock());
        }
    }

    /** The last sequence number used; a missing or garbled file reads as 0. */
    long readSeq() {
        String s = StateFiles.readSmall(home.wakeQueueSeq());
        if (s == null) return 0;
        s = s.strip();
        if (!s.matches("[0-9]{1,18}")) return 0;
        return Long.parseLong(s);
    }

    private void writeSeq(long seq) throws IOException {
        Path tmp = home.wakeQueueSeq().resolveSibling(".wake-queue.seq.tmp." + ProcessHandle.current().pid());
        Files.writeString(tmp, seq + "\n");
        try {
            Files.move(tmp, home.wakeQueueSeq(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            Files.deleteIfExists(tmp); // a failed append leaves nothing behind
            throw e;
        }
    }

    /** Tabs, CR and LF inside a field would break the record; they become spaces. */
    static String clean(String field) {
        return field.replace('\t', ' ').replace('\r', ' ').replace('\n', ' ');
    }
}
