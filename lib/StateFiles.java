import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Small reads and writes of state files (markers, lock metadata, the beacon), shared by the
 * lock, the queue, the ledger, adopt and the watcher's phases. Reads never throw: a file that
 * is missing, unreadable, not a regular file or larger than a marker can be reads as absent,
 * because the bash tools (and crashes) may leave anything there (docs/state.md: treat garbage
 * as absent).
 */
final class StateFiles {
    /** No marker or lock file of ours is larger; anything bigger is garbage. */
    static final int SMALL = 4096;

    private StateFiles() {}

    /** The whole file as UTF-8, or null when it is absent, unreadable, oversized or not a regular file. */
    static String readSmall(Path p) {
        return read(p, SMALL);
    }

    /** As {@link #readSmall}, for files up to {@code maxBytes} (a pane's frame memory). */
    static String read(Path p, int maxBytes) {
        try {
            // Only a regular file: a FIFO planted at a lock's pid would otherwise block every reader.
            if (!Files.isRegularFile(p) || Files.size(p) > maxBytes) return null;
            return new String(Files.readAllBytes(p), StandardCharsets.UTF_8);
        } catch (IOException | SecurityException e) {
            return null;
        }
    }

    /** The first line of {@link #readSmall}, without its newline; null when absent. */
    static String firstLine(Path p) {
        String s = readSmall(p);
        if (s == null) return null;
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** The modification time (following links), or null when the file does not exist. */
    static Instant mtime(Path p) {
        try {
            return Files.getLastModifiedTime(p).toInstant();
        } catch (IOException e) {
            return null;
        }
    }

    /** How long ago {@code p} was modified (following links); never negative; empty when absent. */
    static Optional<Duration> age(Path p) {
        Instant t = mtime(p);
        if (t == null) return Optional.empty();
        Duration d = Duration.between(t, Instant.now());
        return Optional.of(d.isNegative() ? Duration.ZERO : d);
    }

    /** Whole seconds, as every status line prints ages. */
    static long secs(Duration d) { return d.getSeconds(); }

    /** Sets the mtime to now, creating an empty file if missing. */
    static void touch(Path p) throws IOException {
        try {
            Files.setLastModifiedTime(p, FileTime.from(Instant.now()));
        } catch (NoSuchFileException e) {
            try {
                Files.createFile(p);
            } catch (FileAlreadyExistsException raced) {
                Files.setLastModifiedTime(p, FileTime.from(Instant.now()));
            }
        }
    }

    /** Creates an empty file unless one exists; an existing file keeps its time and content. */
    static void createIfMissing(Path p) throws IOException {
        try {
            Files.createFile(p);
        } catch (FileAlreadyExistsException e) {
            // its time is the point of it
        }
    }

    /** Replaces the content; a failure names the file and the likely fix in one line. */
    static void write(Path p, String content) throws IOException {
        try {
            Files.writeString(p, content, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IOException("cannot write " + p + " (" + e.getClass().getSimpleName()
                    + "); check the state directory's permissions and free space", e);
        }
    }

    /** True for an empty file or one whose last byte is LF; a writer that died mid-line left none. */
    static boolean endsWithNewline(FileChannel ch) throws IOException {
        long size = ch.size();
        ByteBuffer last = ByteBuffer.allocate(1);
        return size == 0 || (ch.read(last, size - 1) == 1 && last.get(0) == '\n');
    }

    /** Makes a directory's entries (renames, creations) durable: an fsync on the directory itself. */
    static void syncDirectory(Path dir) throws IOException {
        try (FileChannel c = FileChannel.open(dir, StandardOpenOption.READ)) {
            c.force(true);
        }
    }

    /** Text for one line of a message: CR and LF runs become a space; null becomes empty. */
    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("[\\r\\n]+", " ");
    }

    /** An I/O failure in a few words for a one-line message: "permission denied", the file system's reason. */
    static String reason(Exception e) {
        if (e instanceof java.nio.file.AccessDeniedException) return "permission denied";
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) return f.getReason();
        return e.getMessage() != null ? oneLine(e.getMessage()) : e.getClass().getSimpleName();
    }
}
