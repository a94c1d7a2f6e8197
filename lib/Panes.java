//SOURCES ChildProcesses.java FmHome.java Knobs.java StateFiles.java Wake.java

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The watcher's pane phase (docs/watcher.md "Panes"): captures every supervised tmux window and
 * reports the first one that stopped progressing, or that could not be read for
 * FM_BLIND_CAPTURE_POLLS polls in a row.
 *
 * Markers per window, {@code <key>} = {@link FmHome#windowKey}:
 * {@code .hash-<key>} the progress hash, {@code .count-<key>} how many polls it repeated,
 * {@code .stale-<key>} the progress hash already reported (all three from docs/state.md), and two
 * of ours: {@code .frames-<key>} the last FM_PANE_CYCLE_MEMORY distinct capture hashes, oldest
 * first, one per line; {@code .blind-<key>} the number of consecutive failed captures.
 *
 * Knobs: FM_BUSY_REGEX, FM_PANE_CYCLE_MEMORY, FM_BLIND_CAPTURE_POLLS, FM_BEACON_MAX_AGE.
 */
final class Panes {
    /** A healthy tmux answers in milliseconds; anything slower than this is a hung server. */
    static final Duration CAPTURE_LIMIT = Duration.ofSeconds(5);
    static final int CAPTURE_MAX_BYTES = 1 << 20;
    /** Polls a progress hash must repeat before the pane counts as stale. */
    static final int STALE_AFTER_REPEATS = 2;
    /** How many trailing non-blank lines may carry the busy footer. */
    static final int BUSY_TAIL_LINES = 6;
    /** Keeps .frames-* small whatever FM_PANE_CYCLE_MEMORY says (no spinner has 1000 frames). */
    static final int MEMORY_CAP = 1000;
    private static final int META_MAX_BYTES = 64 * 1024;
    private static final int MARKER_MAX_BYTES = 64 * 1024;
    private static final long COUNT_CAP = 999_999_999L;
    private static final Pattern HASH = Pattern.compile("[0-9a-f]{32}");
    private static final Pattern COUNT = Pattern.compile("[0-9]{1,9}");

    private final FmHome home;
    private final Runnable beat;
    private final Pattern busy;
    private final int memory;
    private final int blindPolls;
    private final Duration beatEvery;
    /** Set for the rest of the process once tmux turned out to run only the first command of a call. */
    private static volatile boolean onePerCall;

    Panes(FmHome home, Knobs knobs, Runnable beat) {
        this.home = home;
        this.beat = beat;
        this.busy = knobs.busyRegex();
        this.memory = Math.min(knobs.paneCycleMemory(), MEMORY_CAP);
        this.blindPolls = knobs.blindCapturePolls();
        Duration half = knobs.beaconMaxAge().dividedBy(2);
        this.beatEvery = half.compareTo(Duration.ofSeconds(1)) > 0 ? Duration.ofSeconds(1) : half;
    }

    /**
     * One pass over the windows, in .meta name order. It stops at the first due wake: the
     * watcher exits on it, and the windows after it are simply observed by the next
     * watcher's first poll (their counts lag one poll; nothing is lost or reported twice).
     */
    Optional<Wake> poll() throws IOException {
        List<String> windows = windows();
        List<Optional<String>> captures = captureAll(windows);
        for (int i = 0; i < windows.size(); i++) {
            beat.run();
            String window = windows.get(i);
            String key = FmHome.windowKey(window);
            Optional<String> capture = captures.get(i);
            Optional<Wake> wake = capture.isPresent() ? judge(window, key, capture.get()) : blind(window, key);
            if (wake.isPresent()) return wake;
        }
        return Optional.empty();
    }

    /**
     * Captures every window with as few tmux clients as possible: one client runs
     * {@code capture-pane} for each window in turn, each followed by a separator line, since
     * launching a client costs far more CPU than the capture itself. tmux stops a command
     * sequence at the first failure, so a missing window is counted blind and the sequence
     * resumes after it. Every window lives on the same server: once a client hangs past the
     * limit, the windows it had not answered count as failed without waiting again. A "tmux"
     * that answers a sequence with success and no separator at all gets one client per window.
     */
    private List<Optional<String>> captureAll(List<String> windows) {
        List<Optional<String>> out = new ArrayList<>();
        boolean serverGone = false;
        while (out.size() < windows.size()) {
            if (serverGone) {
                out.add(Optional.empty());
                continue;
            }
            if (onePerCall) {
                ChildProcesses.Outcome o = ChildProcesses.run(List.of("tmux", "capture-pane", "-p", "-t", windows.get(out.size()), "-S",
                        "-40"), CAPTURE_LIMIT, CAPTURE_MAX_BYTES, beatEvery, beat);
                out.add(o.ok() ? Optional.of(o.stdout()) : Optional.empty());
                serverGone = o.timedOut() || o.failedToStart();
                continue;
            }
            List<String> rest = windows.subList(out.size(), windows.size());
            String separator = "fm-capture-end-" + Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong());
            List<String> cmd = new ArrayList<>(List.of("tmux"));
            for (String w : rest) {
                if (cmd.size() > 1) cmd.add(";");
                cmd.addAll(List.of("capture-pane", "-p", "-t", w, "-S", "-40", ";", "display-message", "-p", "-t", w,
                        separator));
            }
            int room = (int) Math.min(Integer.MAX_VALUE / 2, (long) CAPTURE_MAX_BYTES * rest.size());
            ChildProcesses.Outcome o = ChildProcesses.run(cmd, CAPTURE_LIMIT, room, beatEvery, beat);
            List<String> answered = splitCaptures(o.stdout(), separator);
            if (answered.isEmpty() && o.ok()) {
                // Success without a single separator: not tmux, but a stand-in that runs only the
                // first command of a call (firstmate's own test doubles do). Counting its windows
                // blind would raise false alarms; one capture per call works with it.
                onePerCall = true;
                continue;
            }
            for (String c : answered) out.add(Optional.of(c));
            if (answered.size() == rest.size()) break;
            if (o.timedOut() || o.failedToStart()) {
                serverGone = true; // hung, or no tmux at all: the rest are blind
            } else {
                out.add(Optional.empty()); // the window the sequence stopped at
            }
        }
        return out;
    }

    /** The captures that a separator line completed, in order; a trailing partial one is dropped. */
    static List<String> splitCaptures(String stdout, String separator) {
        List<String> done = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        int from = 0;
        while (from < stdout.length()) {
            int nl = stdout.indexOf('\n', from);
            String line = nl < 0 ? stdout.substring(from) : stdout.substring(from, nl);
            if (nl < 0) break; // an unfinished last line belongs to no completed capture
            if (line.equals(separator)) {
                done.add(current.toString());
                current.setLength(0);
            } else {
                current.append(line).append('\n');
            }
            from = nl + 1;
        }
        return done;
    }

    /**
     * The distinct windows of the ship tasks, first seen first. In each meta the first
     * {@code window=} and {@code kind=} lines count; a meta without a window is ignored, and so
     * is a dot-named one (a shell's {@code *.meta} would not match it either).
     */
    private List<String> windows() throws IOException {
        List<Path> metas = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(home.state, "*.meta")) {
            for (Path p : dir) if (!p.getFileName().toString().startsWith(".")) metas.add(p);
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new IOException("cannot list " + home.state + " (" + e.getClass().getSimpleName()
                    + "); check the state directory's permissions", e);
        }
        metas.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
        LinkedHashSet<String> windows = new LinkedHashSet<>();
        for (Path meta : metas) {
            String window = null;
            String kind = null;
            for (String line : readPrefix(meta, META_MAX_BYTES).split("\n")) {
                if (line.endsWith("\r")) line = line.substring(0, line.length() - 1);
                if (window == null && line.startsWith("window=")) window = line.substring(7);
                if (kind == null && line.startsWith("kind=")) kind = line.substring(5).strip();
            }
            if (window != null && !window.isEmpty() && !"secondmate".equals(kind)) windows.add(window);
        }
        return new ArrayList<>(windows);
    }

    private Optional<Wake> blind(String window, String key) throws IOException {
        Path marker = home.file(".blind-" + key);
        long failures = Math.min(readCount(marker) + 1, COUNT_CAP);
        if (failures != blindPolls) {
            StateFiles.write(marker, failures + "\n");
            return Optional.empty();
        }
        // The count that raises the alarm is stored by the commit, after the queue append: a
        // watcher that dies in between reaches it again on the next failure and re-reports.
        String line = "stale: " + window + " (pane unreadable - " + failures
                + " consecutive capture failures; supervision cannot see this window)";
        return Optional.of(Wake.of("stale", window, line, () -> StateFiles.write(marker, failures + "\n")));
    }

    private Optional<Wake> judge(String window, String key, String captured) throws IOException {
        delete(home.file(".blind-" + key));
        String text = stripTrailingNewlines(captured);
        String hash = md5(text);
        Path hashFile = home.file(".hash-" + key);
        Path countFile = home.file(".count-" + key);
        Path staleFile = home.file(".stale-" + key);
        Optional<String> previous = readHash(hashFile);
        List<String> recent = readFrames(home.file(".frames-" + key));
        // A frame seen among the recent distinct ones is animation, not progress.
        String progress = recent.contains(hash) && previous.isPresent() ? previous.get() : hash;
        remember(home.file(".frames-" + key), recent, hash);
        long count;
        if (previous.isPresent() && previous.get().equals(progress)) {
            count = Math.min(readCount(countFile) + 1, COUNT_CAP);
        } else {
            StateFiles.write(hashFile, progress + "\n");
            count = 0;
        }
        StateFiles.write(countFile, count + "\n");
        if (count < STALE_AFTER_REPEATS || looksBusy(text)) return Optional.empty();
        if (readHash(staleFile).filter(progress::equals).isPresent()) return Optional.empty();
        return Optional.of(Wake.of("stale", window, "stale: " + window, () -> StateFiles.write(staleFile, progress + "\n")));
    }

    /** Moves {@code hash} to the newest end of the memory, keeping the newest {@link #memory}. */
    private void remember(Path file, List<String> recent, String hash) throws IOException {
        if (!recent.isEmpty() && recent.get(recent.size() - 1).equals(hash)) return;
        List<String> next = new ArrayList<>(recent);
        next.remove(hash);
        next.add(hash);
        List<String> kept = next.subList(Math.max(0, next.size() - memory), next.size());
        StateFiles.write(file, String.join("\n", kept) + "\n");
    }

    private boolean looksBusy(String text) {
        String[] lines = text.split("\n");
        int seen = 0;
        for (int i = lines.length - 1; i >= 0 && seen < BUSY_TAIL_LINES; i--) {
            if (lines[i].isBlank()) continue;
            seen++;
            if (busy.matcher(lines[i]).find()) return true;
        }
        return false;
    }

    /** What a shell's {@code $(...)} keeps of a command's output. */
    static String stripTrailingNewlines(String s) {
        int end = s.length();
        while (end > 0 && s.charAt(end - 1) == '\n') end--;
        return s.substring(0, end);
    }

    static String md5(String text) {
        try {
            byte[] digest = MessageDigest.getInstance("MD5").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JDK has no MD5", e);
        }
    }

    // --- markers: unreadable or garbage content reads as absent; a failed write names the file ---

    /** The newest {@link #memory} valid, distinct hashes of the memory file, oldest first. */
    private List<String> readFrames(Path file) {
        LinkedHashSet<String> hashes = new LinkedHashSet<>();
        for (String line : read(file, MARKER_MAX_BYTES).orElse("").split("\n")) {
            String h = line.strip();
            if (!HASH.matcher(h).matches()) continue;
            hashes.remove(h);
            hashes.add(h);
        }
        List<String> all = new ArrayList<>(hashes);
        return new ArrayList<>(all.subList(Math.max(0, all.size() - memory), all.size()));
    }

    private static Optional<String> readHash(Path file) {
        return read(file, MARKER_MAX_BYTES).map(String::strip).filter(s -> HASH.matcher(s).matches());
    }

    private static long readCount(Path file) {
        return read(file, MARKER_MAX_BYTES).map(String::strip).filter(s -> COUNT.matcher(s).matches())
                .map(Long::parseLong).orElse(0L);
    }

    private static Optional<String> read(Path file, int maxBytes) {
        return Optional.ofNullable(StateFiles.read(file, maxBytes));
    }

    /** The start of a task's meta: a window= line sits near the top, whatever else the file holds. */
    private static String readPrefix(Path file, int maxBytes) {
        try (InputStream in = Files.newInputStream(file)) {
            return new String(in.readNBytes(maxBytes), StandardCharsets.UTF_8);
        } catch (IOException | SecurityException e) {
            return "";
        }
    }

    private static void delete(Path file) throws IOException {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new IOException("cannot remove " + file + " (" + e.getClass().getSimpleName()
                    + "); remove it by hand", e);
        }
    }
}
