import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The durable wake queue of state.md: {@code .wake-queue}, {@code .wake-queue.seq}, both
 * changed only under {@code .wake-queue.lock} (the same lock protocol the bash appenders use).
 * A record is one line: epoch TAB seq TAB kind TAB key TAB payload.
 */
final class WakeQueue {
    /** How long an append or drain waits for the queue lock before it gives up with a message. */
    static final Duration DEFAULT_LOCK_WAIT = Duration.ofSeconds(120);

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

    /** Takes the queue lock, waiting up to the configured time. */
    FmLock.Held lock() throws IOException {
        try {
            return FmLock.acquireWithin(home.wakeQueueLock(), lockWait);
        } catch (FmLock.Timeout t) {
            throw new IOException(t.getMessage() + "; if no queue user is running, remove " + home.wakeQueueLock());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for " + home.wakeQueueLock());
        }
    }

    /** The last sequence number used; a missing or garbled file reads as 0. */
    long readSeq() {
        String s = FmLock.readSmall(home.wakeQueueSeq());
        if (s == null) return 0;
        s = s.strip();
        if (!s.matches("[0-9]{1,18}")) return 0;
        return Long.parseLong(s);
    }

    private void writeSeq(long seq) throws IOException {
        Path tmp = home.wakeQueueSeq().resolveSibling(".wake-queue.seq.tmp." + ProcessHandle.current().pid());
        Files.writeString(tmp, seq + "\n");
        Files.move(tmp, home.wakeQueueSeq(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Tabs, CR and LF inside a field would break the record; they become spaces. */
    static String clean(String field) {
        return field.replace('\t', ' ').replace('\r', ' ').replace('\n', ' ');
    }
}
