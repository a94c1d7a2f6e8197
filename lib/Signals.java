//SOURCES FmHome.java Knobs.java StateFiles.java Wake.java WakeQueue.java

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Watcher step 4: {@code STATE/*.status} and {@code STATE/*.turn-ended} (docs/watcher.md "Signals").
 *
 * A file's signature is {@code size:mtime} (bytes, whole epoch seconds) of what it points
 * to, symlinks followed; it has changed when its {@code .seen-*} marker is missing or says
 * something else, so a signal written while no watcher ran is caught by the next one.
 * After the first change we linger FM_SIGNAL_GRACE, re-scan, and report every changed file
 * once, first-seen order. A file that vanished (or stopped being a regular file) by the
 * re-scan is left out: there is nothing left to read, and its marker stays as it was.
 */
final class Signals {
    private final FmHome home;
    private final Duration grace;
    private final Consumer<Duration> linger;

    Signals(FmHome home, Knobs knobs, Consumer<Duration> linger) {
        this.home = home;
        this.grace = knobs.signalGrace();
        this.linger = linger;
    }

    Optional<Wake> poll() throws IOException {
        Map<Path, String> first = changed(scan());
        if (first.isEmpty()) return Optional.empty();
        linger.accept(grace);
        Map<Path, String> now = scan();
        Map<Path, String> report = new LinkedHashMap<>();
        for (Path f : first.keySet()) {
            if (now.containsKey(f)) report.put(f, now.get(f));
        }
        changed(now).forEach(report::putIfAbsent);
        if (report.isEmpty()) return Optional.empty();

        StringBuilder line = new StringBuilder("signal:");
        for (Path f : report.keySet()) line.append(' ').append(f);
        String reason = WakeQueue.clean(line.toString());
        List<WakeQueue.Entry> entries = new ArrayList<>();
        for (Path f : report.keySet()) entries.add(new WakeQueue.Entry("signal", f.getFileName().toString(), reason));
        return Optional.of(new Wake(entries, () -> markSeen(report), reason, false));
    }

    /** Writes each reported file's latest signature into its marker, without a trailing newline. */
    private void markSeen(Map<Path, String> report) throws IOException {
        for (Map.Entry<Path, String> e : report.entrySet()) {
            Files.writeString(seenMarker(e.getKey()), e.getValue());
        }
    }

    private Path seenMarker(Path signalFile) {
        return home.file(FmHome.seenName(signalFile.getFileName().toString()));
    }

    private Map<Path, String> changed(Map<Path, String> scan) {
        Map<Path, String> out = new LinkedHashMap<>();
        for (Map.Entry<Path, String> e : scan.entrySet()) {
            String seen = StateFiles.readSmall(seenMarker(e.getKey()));
            if (seen == null || !seen.strip().equals(e.getValue())) out.put(e.getKey(), e.getValue());
        }
        return out;
    }

    /** Every signal file in name order with its signature; unreadable entries are skipped. */
    private Map<Path, String> scan() throws IOException {
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(home.state)) {
            for (Path p : dir) {
                String name = p.getFileName().toString();
                if (!name.startsWith(".") && (name.endsWith(".status") || name.endsWith(".turn-ended"))) files.add(p);
            }
        }
        files.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
        Map<Path, String> out = new LinkedHashMap<>();
        for (Path f : files) {
            try {
                BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
                if (!a.isRegularFile()) continue;
                out.put(f, a.size() + ":" + a.lastModifiedTime().to(TimeUnit.SECONDS));
            } catch (IOException gone) {
                // deleted since the listing, or a dangling link: no signal to read
            }
        }
        return out;
    }
}
