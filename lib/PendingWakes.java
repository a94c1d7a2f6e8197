//SOURCES DrainFile.java FmHome.java StateFiles.java

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * fm-status's view of the queue: pending records (the queue plus the files of drains that died),
 * the oldest's age, or why they cannot be counted. Read-only: it counts lines the way the drain
 * would read them and takes no lock, so a count can be one append or one drain out of date.
 */
record PendingWakes(long pending, Long oldestEpoch, String problem) {
    String describe() {
        if (problem != null) return "cannot read it (" + problem + "); run the drain to learn more";
        if (pending == 0) return "empty";
        String age = oldestEpoch == null ? "?" : Long.toString(Math.max(0, Instant.now().getEpochSecond() - oldestEpoch));
        return pending + " record(s) pending, oldest " + age + "s";
    }

    Map<String, Object> json() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pending", problem != null ? -1L : pending);
        m.put("oldestSeconds", oldestEpoch == null ? null : Math.max(0, Instant.now().getEpochSecond() - oldestEpoch));
        m.put("problem", problem);
        return m;
    }

    static PendingWakes of(FmHome home) {
        long[] acc = {0, Long.MAX_VALUE};
        try {
            count(home.wakeQueue(), acc);
            try (DirectoryStream<Path> d = Files.newDirectoryStream(home.state, DrainFile.PREFIX + "*")) {
                // A live drain is printing its file right now; a dead one's is put back by the next drain.
                for (Path p : d) if (DrainFile.parse(p).ownerGone()) count(p, acc);
            } catch (NoSuchFileException e) {
                // no state directory: nothing queued
            }
        } catch (IOException | RuntimeException e) {
            return new PendingWakes(-1, null, StateFiles.reason(e));
        }
        return new PendingWakes(acc[0], acc[1] == Long.MAX_VALUE ? null : acc[1], null);
    }

    /** Counts the records of one file as the drain would see them (five tab-separated fields). */
    private static void count(Path file, long[] acc) throws IOException {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return;
        }
        if (!a.isRegularFile()) throw new IOException(file.getFileName() + " is not a regular file");
        try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
            byte[] buf = new byte[1 << 16];
            int tabs = 0;
            long epoch = 0;
            boolean digits = true;
            boolean any = false;
            for (int n; (n = in.read(buf)) > 0; ) {
                for (int i = 0; i < n; i++) {
                    byte b = buf[i];
                    if (b == '\n') {
                        if (tabs >= 4) {
                            acc[0]++;
                            if (digits && any && epoch > 0) acc[1] = Math.min(acc[1], epoch);
                        }
                        tabs = 0;
                        epoch = 0;
                        digits = true;
                        any = false;
                    } else if (b == '\t') {
                        tabs++;
                    } else if (tabs == 0 && digits) {
                        if (b >= '0' && b <= '9' && epoch < 1_000_000_000_000L) {
                            epoch = epoch * 10 + (b - '0');
                            any = true;
                        } else {
                            digits = false;
                        }
                    }
                }
            }
            // A last line without its newline: the drain still reads it as a record.
            if (tabs >= 4) {
                acc[0]++;
                if (digits && any && epoch > 0) acc[1] = Math.min(acc[1], epoch);
            }
        }
    }
}
