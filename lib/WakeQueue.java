//SOURCES FmLock.java DrainFile.java FmHome.java Knobs.java StateFiles.java

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The durable wake queue of docs/state.md: {@code .wake-queue}, {@code .wake-queue.seq}, both
 * changed only under {@code .wake-queue.lock} (the same lock protocol the bash appenders use),
 * and only inside the lock's fence, so a signal never releases the lock under a half-done step
 * (FmLock.Held#fenced). A record is one line: epoch TAB seq TAB kind TAB key TAB payload.
 *
 * The drain takes records by renames alone, so it needs no free space: under the lock it adopts
 * the private files of drains that are gone (lib/DrainFile.java), renames the queue to a private
 * file of its own, and prints them all together, oldest take first, after releasing the lock (a
 * slow reader of its output never stalls a watcher's append). A drain that fails puts its files
 * back in front of the queue: one rename when the queue is still empty, else one concatenation;
 * when even that cannot be done (no space, or a later drain's records must stay behind them) it
 * gives them up under a name any drain adopts first. Every rename and creation the queue relies
 * on is followed by an fsync of the state directory, so a power loss cannot undo it.
 *
 * One file despite its length: append, drain and put-back keep one invariant over the same
 * files and lock, and its proof reads best where every step that touches them stands together.
 */
final class WakeQueue {
    /** How long an append or drain waits for the queue lock before it gives up with a message. */
    static final Duration DEFAULT_LOCK_WAIT = Duration.ofSeconds(120);
    /** The name prefix of a drain's private file; nothing else in STATE starts with it. */
    static final String DRAINING_PREFIX = DrainFile.PREFIX;
    /** A longer line is not a record of ours (payloads are bounded); it is skipped, not held in memory. */
    static final int MAX_LINE_BYTES = 4 << 20;
    /** How long a drain stopped by a signal mid-print waits for the lock to put its records back. */
    static final Duration SIGNAL_PUT_BACK_WAIT = Duration.ofSeconds(5);

    /** One record to append. */
    record Entry(String kind, String key, String payload) {}

    private final FmHome home;
    private final Duration lockWait;

    WakeQueue(FmHome home, Knobs knobs) {
        this.home = home;
        this.lockWait = knobs.seconds("FM_QUEUE_LOCK_WAIT", DEFAULT_LOCK_WAIT.toSeconds(), 0);
    }

    // ------------------------------------------------------------------ append

    /**
     * Appends the entries, with consecutive sequence numbers, in one hold of the queue lock.
     * The sequence file moves first, so a crash can leave a gap but never reuse a number;
     * the records are forced to disk before the lock is released.
     */
    void append(List<Entry> entries) throws IOException {
        if (entries.isEmpty()) return;
        try {
            underLock(() -> {
                appendLocked(entries);
                return null;
            });
        } catch (IOException e) {
            throw new IOException("cannot append to " + home.wakeQueue() + ": " + e.getMessage(), e);
        }
    }

    private void appendLocked(List<Entry> entries) throws IOException {
        long seq = readSeq();
        writeSeq(seq + entries.size());
        long epoch = Instant.now().getEpochSecond();
        StringBuilder sb = new StringBuilder();
        for (Entry e : entries) {
            seq++;
            sb.append(epoch).append('\t').append(seq).append('\t').append(e.kind()).append('\t')
                    .append(clean(e.key())).append('\t').append(clean(e.payload())).append('\n');
        }
        Path queue = home.wakeQueue();
        boolean existed = Files.exists(queue, LinkOption.NOFOLLOW_LINKS);
        // A writer that died mid-line left no newline: start on a fresh line, so the torn
        // record stays one malformed line instead of swallowing ours.
        if (existed && !endsWithNewline(queue)) sb.insert(0, '\n');
        try (FileChannel ch = FileChannel.open(queue, StandardOpenOption.CREATE,
                StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            long before = ch.size();
            try {
                ByteBuffer buf = ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.UTF_8));
                while (buf.hasRemaining()) ch.write(buf);
                ch.force(false);
            } catch (IOException e) {
                // Race: a bash appender's `>>` after us would join its record onto our torn
                // line, turning both into one malformed line. Cut ours off again.
                try {
                    ch.truncate(before);
                    ch.force(false);
                } catch (IOException cut) {
                    e.addSuppressed(cut);
                }
                throw e;
            }
        }
        if (!existed) syncDir();
    }

    /** True for a missing or empty file, or one whose last byte is LF. */
    private static boolean endsWithNewline(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            return StateFiles.endsWithNewline(ch);
        } catch (NoSuchFileException e) {
            return true;
        }
    }

    // ------------------------------------------------------------------ drain

    /** As {@link #drain(OutputStream, Consumer)}, with notes on stderr. */
    int drain(OutputStream out) throws IOException {
        return drain(out, note -> System.err.println("wake-queue: " + note));
    }

    /**
     * Drains the queue (docs/state.md "The drain"): writes the deduplicated records to {@code out},
     * flushes it, and returns how many lines it wrote (0 for an empty queue). Lines too long to
     * be records are dropped, and {@code notes} gets one line saying so. On failure after the
     * records were taken they are back at the front of the queue (or, if even that failed,
     * given up to the next drain, which prints them first), and the exception says which.
     */
    int drain(OutputStream out, Consumer<String> notes) throws IOException {
        List<DrainFile> mine = underLock(this::adoptAndTake);
        if (mine.isEmpty()) return 0;
        // A TERM/INT/HUP while printing: put the records back rather than leave them behind.
        Object guard = new Object();
        boolean[] state = new boolean[2]; // [0] printed or failed, [1] put back by the hook
        Thread hook = new Thread(() -> {
            synchronized (guard) {
                if (state[0]) return;
                state[1] = true;
                try (FmLock.Held lock = FmLock.acquireWithin(home.wakeQueueLock(), SIGNAL_PUT_BACK_WAIT)) {
                    lock.fenced(() -> putBackLocked(mine));
                } catch (Exception e) {
                    // Ours until this JVM is gone; then the next drain adopts them.
                }
            }
        }, "fm-drain-put-back");
        try {
            Runtime.getRuntime().addShutdownHook(hook);
        } catch (IllegalStateException exiting) {
            throw putBack(mine, new IOException("stopped by a signal before printing"));
        }
        TooLong tooLong = new TooLong();
        int printed;
        try {
            printed = printDeduplicated(mine.stream().map(DrainFile::path).toList(), out, tooLong);
        } catch (IOException | RuntimeException e) {
            synchronized (guard) {
                state[0] = true;
                if (state[1]) throw new IOException("stopped by a signal");
            }
            removeHook(hook);
            throw putBack(mine, e);
        }
        synchronized (guard) {
            state[0] = true;
            if (state[1]) return printed;
        }
        removeHook(hook);
        for (DrainFile f : mine) {
            try {
                Files.delete(f.path());
            } catch (NoSuchFileException gone) {
                // nothing to remove
            } catch (IOException e) {
                // Printed already: putting them back now would be a silent repeat; say so instead.
                throw new IOException("printed " + printed + " records but cannot remove " + f.path() + " ("
                        + StateFiles.oneLine(e.getMessage()) + "); the next drain will print them again", e);
            }
        }
        syncDirQuietly(); // a removal undone by a power loss would only repeat printed records
        if (tooLong.count > 0) {
            notes.accept("dropped " + tooLong.count + (tooLong.count == 1 ? " line" : " lines") + " longer than "
                    + MAX_LINE_BYTES + " bytes (the longest " + tooLong.largest + " bytes) from the drained queue:"
                    + " no firstmate tool writes records that long, so they are not wakes");
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

    /**
     * Under the lock: adopts the private files of drains that are gone (a rename each, keeping
     * their take order), then takes the queue by a rename. Nothing is copied, so a full disk
     * cannot stop a drain. Returns this drain's files, oldest take first; empty when none.
     */
    private List<DrainFile> adoptAndTake() throws IOException {
        List<DrainFile> present = DrainFile.list(home.state);
        List<DrainFile> mine = new ArrayList<>();
        try {
            long oldFormat = 0; // old names carry no take order: they predate every new one
            for (DrainFile f : present) {
                if (f.ownerGone()) mine.add(adopt(f, f.oldFormat() ? oldFormat++ : f.taken()));
            }
            DrainFile queued = takeQueue(DrainFile.nextTaken(present));
            if (queued != null) mine.add(queued);
            if (!mine.isEmpty()) syncDir();
            return mine;
        } catch (IOException | RuntimeException e) {
            giveUp(mine);
            throw e;
        }
    }

    private DrainFile adopt(DrainFile orphan, long taken) throws IOException {
        DrainFile to = DrainFile.mine(home.state, taken);
        try {
            Files.move(orphan.path(), to.path(), StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new IOException("cannot take over " + orphan.path() + ", left by an interrupted drain ("
                    + StateFiles.oneLine(e.getMessage()) + "); its records are older than those in " + home.wakeQueue()
                    + " and stay in that file: fix the cause and run the drain again (to recover by hand, put"
                    + " its lines in front of the queue's)", e);
        }
        dateForOldVersions(to);
        return to;
    }

    /** Under the lock: renames a non-empty queue to a fresh private file; null when there is nothing. */
    private DrainFile takeQueue(long taken) throws IOException {
        Path queue = home.wakeQueue();
        if (!Files.exists(queue, LinkOption.NOFOLLOW_LINKS)) {
            createEmptyQueue();
            syncDir();
            return null;
        }
        if (!Files.isRegularFile(queue, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(queue + " is not a regular file; move it out of the way and run the drain again");
        }
        if (Files.size(queue) == 0) return null;
        DrainFile mine = DrainFile.mine(home.state, taken);
        Files.move(queue, mine.path(), StandardCopyOption.ATOMIC_MOVE);
        dateForOldVersions(mine);
        try {
            createEmptyQueue();
        } catch (IOException e) {
            // A missing queue is a valid state for everyone: the next append or drain creates it.
            FmLock.debug("could not recreate " + queue + ": " + e);
        }
        return mine;
    }

    /**
     * An older version of this drain, run during an upgrade, judges a file by its mtime; dating
     * it now keeps that version from taking a live drain's file. Nothing here reads it.
     */
    private static void dateForOldVersions(DrainFile f) {
        try {
            Files.setLastModifiedTime(f.path(), FileTime.from(Instant.now()));
        } catch (IOException e) {
            FmLock.debug("could not date " + f.path() + ": " + e);
        }
    }

    private void createEmptyQueue() throws IOException {
        try {
            Files.createFile(home.wakeQueue());
        } catch (FileAlreadyExistsException ok) {
            // somebody not following the lock made it; an existing queue is what we want anyway
        }
    }

    /** After a failure: the files go back in front of the queue; the result describes where they are. */
    private IOException putBack(List<DrainFile> mine, Exception cause) {
        String what = cause instanceof IOException && cause.getMessage() != null ? cause.getMessage() : cause.toString();
        try {
            String where = underLock(() -> putBackLocked(mine));
            return new IOException("drain failed (" + StateFiles.oneLine(what) + "); " + where, cause);
        } catch (IOException e) {
            return new IOException("drain failed (" + StateFiles.oneLine(what) + ") and its records could not be put back ("
                    + StateFiles.oneLine(e.getMessage()) + "); they stay in " + names(mine)
                    + ", and the next drain prints them first", cause);
        }
    }

    /**
     * Under the lock: makes this drain's records precede the queue's again, and says where they
     * went. Into the queue only when no later take is waiting or printing (those records are
     * newer than ours, so ours must not end up behind them); otherwise, or when the queue
     * cannot take them, they are given up to the next drain, which prints them first.
     */
    private String putBackLocked(List<DrainFile> mine) throws IOException {
        Path queue = home.wakeQueue();
        long oldest = mine.get(0).taken();
        List<Path> ours = mine.stream().map(DrainFile::path).toList();
        boolean later = DrainFile.list(home.state).stream()
                .anyMatch(f -> !ours.contains(f.path()) && !f.oldFormat() && f.taken() > oldest);
        String why;
        if (later) {
            why = "a later drain's records are still waiting, and these are older";
        } else if (Files.exists(queue, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(queue, LinkOption.NOFOLLOW_LINKS)) {
            why = queue + " is not a regular file";
        } else {
            try {
                putInFront(mine);
                return "its records were put back in " + queue + ", run the drain again";
            } catch (IOException e) {
                why = StateFiles.oneLine(e.getMessage());
            }
        }
        giveUp(mine);
        syncDirQuietly();
        return "its records could not go back into " + queue + " (" + why + "); they wait in "
                + home.file(DRAINING_PREFIX + "0.*") + ", and the next drain prints them first";
    }

    /**
     * Under the lock: the queue becomes our files' records followed by its own. One rename when
     * the queue is empty and we have one file; else the rest and the queue are copied onto the
     * end of our first file, which then replaces the queue. A crash in between leaves copied
     * records twice; identical lines fold in a drain, so the worst case is a repeat, never a loss.
     */
    private void putInFront(List<DrainFile> mine) throws IOException {
        Path queue = home.wakeQueue();
        Path first = mine.get(0).path();
        boolean queueEmpty = !Files.exists(queue, LinkOption.NOFOLLOW_LINKS) || Files.size(queue) == 0;
        if (mine.size() > 1 || !queueEmpty) {
            try (FileChannel dst = FileChannel.open(first, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                long before = dst.size();
                try {
                    for (DrainFile f : mine.subList(1, mine.size())) copyLines(f.path(), dst);
                    if (!queueEmpty) copyLines(queue, dst);
                    dst.force(false);
                } catch (IOException e) {
                    dst.truncate(before); // leave the file as it was, so nothing is doubled
                    throw e;
                }
            }
        }
        Files.move(first, queue, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        for (DrainFile f : mine.subList(1, mine.size())) Files.deleteIfExists(f.path()); // copies are in the queue
        syncDir();
    }

    /** Appends {@code src} to {@code dst}, starting on a fresh line. */
    private static void copyLines(Path src, FileChannel dst) throws IOException {
        if (!StateFiles.endsWithNewline(dst)) dst.write(ByteBuffer.wrap(new byte[] {'\n'}), dst.size());
        try (FileChannel in = FileChannel.open(src, StandardOpenOption.READ)) {
            long size = in.size();
            long at = dst.size();
            for (long done = 0; done < size; ) {
                long n = in.transferTo(done, size - done, dst.position(at + done));
                if (n <= 0) throw new IOException("short copy of " + src);
                done += n;
            }
        }
    }

    /**
     * Renames our files to the given-up form (owner pid 0, same take order), which any drain
     * adopts. One that cannot be renamed stays ours and is adopted once this process is gone.
     */
    private void giveUp(List<DrainFile> mine) {
        for (DrainFile f : mine) {
            try {
                Files.move(f.path(), f.givenUp().path(), StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                FmLock.debug("could not give up " + f.path() + ": " + e);
            }
        }
    }

    private static String names(List<DrainFile> files) {
        return String.join(", ", files.stream().map(f -> f.path().toString()).toList());
    }

    // ------------------------------------------------------------------ printing

    /** Lines too long to be records: how many, and the longest, for the drain's one note. */
    static final class TooLong {
        long count;
        long largest;
    }

    /**
     * Writes the records of {@code files}, read in order as one queue, deduplicated: one line
     * per kind+key (one for all heartbeats), at its first position, carrying its last full line.
     * Bytes pass through as they are (ISO-8859-1 maps each byte to one char and back); a
     * trailing CR and NUL bytes (what a crash can leave in a file) are removed; lines with
     * fewer than five fields go, and so do lines over {@link #MAX_LINE_BYTES}, counted in
     * {@code tooLong}. Each file ends a line, even one whose last line is torn.
     */
    static int printDeduplicated(List<Path> files, OutputStream out, TooLong tooLong) throws IOException {
        Map<String, String> groups = new LinkedHashMap<>(); // a re-put keeps the first position
        for (Path file : files) {
            try (InputStream in = Files.newInputStream(file)) {
                Lines lines = new Lines(in, tooLong);
                for (String line; (line = lines.next()) != null; ) {
                    String group = groupOf(line);
                    if (group != null) groups.put(group, line);
                }
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

    /** Splits a byte stream at LF only, dropping NULs, a trailing CR and (counting them) oversized lines. */
    private static final class Lines {
        private final InputStream in;
        private final TooLong tooLong;
        private final byte[] chunk = new byte[1 << 16];
        private int pos;
        private int end;
        private byte[] line = new byte[256];

        Lines(InputStream in, TooLong tooLong) {
            this.in = in;
            this.tooLong = tooLong;
        }

        /** The next line without its LF, or null at the end of the stream. */
        String next() throws IOException {
            int len = 0;
            long over = 0; // bytes of an oversized line, counted, not kept
            boolean any = false;
            while (true) {
                if (pos == end) {
                    end = in.read(chunk);
                    pos = 0;
                    if (end <= 0) {
                        end = 0;
                        return any ? text(len, over) : null;
                    }
                }
                any = true;
                byte b = chunk[pos++];
                if (b == '\n') return text(len, over);
                if (over > 0) {
                    over++;
                    continue;
                }
                if (b == 0) continue;
                if (len == MAX_LINE_BYTES) {
                    over = len + 1L;
                    continue;
                }
                if (len == line.length) line = Arrays.copyOf(line, Math.min(MAX_LINE_BYTES, line.length * 2));
                line[len++] = b;
            }
        }

        private String text(int len, long over) {
            if (over > 0) {
                tooLong.count++;
                tooLong.largest = Math.max(tooLong.largest, over);
                return ""; // no fields: dropped like any malformed line
            }
            int n = len > 0 && line[len - 1] == '\r' ? len - 1 : len;
            return new String(line, 0, n, StandardCharsets.ISO_8859_1);
        }
    }

    // ------------------------------------------------------------------ lock, sequence, directory

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

    /**
     * Runs {@code work} holding the queue lock, inside its fence: a signal that arrives
     * meanwhile releases the lock only after the work is done (or never, if it hangs).
     */
    private <T> T underLock(FmLock.Section<T> work) throws IOException {
        try (FmLock.Held lock = lock()) {
            return lock.fenced(work);
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

    /** Replaces the sequence file atomically and durably: written, forced, renamed, directory forced. */
    private void writeSeq(long seq) throws IOException {
        Path tmp = home.wakeQueueSeq().resolveSibling(".wake-queue.seq.tmp." + ProcessHandle.current().pid());
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer buf = ByteBuffer.wrap((seq + "\n").getBytes(StandardCharsets.US_ASCII));
                while (buf.hasRemaining()) ch.write(buf);
                ch.force(false); // else a power loss can leave the renamed file empty
            }
            Files.move(tmp, home.wakeQueueSeq(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            Files.deleteIfExists(tmp); // a failed append leaves nothing behind
            throw e;
        }
        // Before any record carries the new numbers: a power loss must not bring the old file back.
        syncDir();
    }

    /** Makes the state directory's entries (renames, creations) durable: fsync on the directory. */
    private void syncDir() throws IOException {
        StateFiles.syncDirectory(home.state);
    }

    private void syncDirQuietly() {
        try {
            syncDir();
        } catch (IOException e) {
            FmLock.debug("could not sync " + home.state + ": " + e);
        }
    }

    /** Tabs, CR and LF inside a field would break the record; they become spaces. */
    static String clean(String field) {
        return field.replace('\t', ' ').replace('\r', ' ').replace('\n', ' ');
    }
}
