//SOURCES Advice.java DrainFile.java FmHome.java Knobs.java StateFiles.java

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The guard's check (docs/arm-guard.md "The guard"), shared by fm-guard.java and the drain: when
 * tasks are in flight, a missing or old beacon gets the WATCHER DOWN banner and queued wakes
 * get a warning. It only reads a few file attributes: no locks, nothing that can block.
 */
final class Guard {
    static final String MARK = "\u25CF";
    static final String RULE = MARK + "\u2501".repeat(72);
    // Advice names the commands so that the line can be pasted anywhere (lib/Advice.java): this
    // checkout's scripts by absolute path, or what FM_ARM_COMMAND / FM_DRAIN_COMMAND say.
    static String how(String arm) {
        return "run " + arm + " as the harness-tracked background task (never a shell & that gets reaped).";
    }

    static String queued(String drain) {
        return "WARNING: queued wakes pending - drain them with " + drain + " before anything else.";
    }

    private Guard() {}

    /** Prints the check's lines, if any, on {@code err}. */
    static void warn(FmHome home, Knobs knobs, PrintStream err) {
        for (String line : check(home, knobs)) err.println(line);
        err.flush();
    }

    /** The lines the guard prints now; empty when all is well or no task is in flight. */
    static List<String> check(FmHome home, Knobs knobs) {
        List<String> out = new ArrayList<>();
        Advice advice = Advice.of(home, knobs);
        String arm = advice.arm();
        int tasks;
        try {
            tasks = FmHome.countTasks(home.state);
        } catch (IOException e) {
            out.add("fm-guard: cannot list " + home.state + " (" + e.getClass().getSimpleName()
                    + "); check its permissions, then run " + arm + " to learn the watcher's state");
            return out;
        }
        if (tasks == 0) return out;
        boolean queued = queueNonEmpty(home.wakeQueue()) || leftoverRecords(home.state);
        Duration grace = knobs.guardGrace();
        Optional<Duration> beat = StateFiles.age(home.beacon());
        if (beat.isEmpty() || beat.get().compareTo(grace) >= 0) {
            String last = beat.map(a -> StateFiles.secs(a) + "s ago").orElse("never");
            out.add(RULE);
            out.add(MARK + "  WATCHER DOWN - SUPERVISION IS OFF");
            out.add(MARK + "  " + tasks + " task(s) in flight, but no watcher has a fresh beacon (last beat: "
                    + last + ", grace " + seconds(grace) + "s).");
            out.add(MARK + "  Only " + arm + " reports the true state of the watcher; trust its status line, not memory.");
            out.add(MARK + "  " + (queued ? "After draining queued wakes, re-arm the watcher: " : "Re-arm it NOW: ") + how(arm));
            out.add(RULE);
        }
        if (queued) out.add(queued(advice.drain()));
        return out;
    }

    private static boolean queueNonEmpty(Path queue) {
        try {
            return Files.size(queue) > 0;
        } catch (IOException e) {
            return false; // missing: nothing queued (a drain may be between its move and recreate)
        }
    }

    /**
     * Records an interrupted drain left in its private file wait as surely as queued ones (the
     * next drain prints them first), so they count as queued wakes. A live drain's file does
     * not: that drain is printing it now. One directory listing, plus /proc reads only when a
     * private file exists.
     */
    private static boolean leftoverRecords(Path state) {
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(state, DrainFile.PREFIX + "*")) {
            for (Path p : dir) {
                if (Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS) && sizeOf(p) > 0
                        && DrainFile.parse(p).ownerGone()) return true;
            }
        } catch (IOException e) {
            // unreadable: the queue check above is all we can say
        }
        return false;
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return 0; // gone meanwhile: a drain just finished with it
        }
    }

    /** Whole seconds when the knob is whole, else as given (0.5). */
    private static String seconds(Duration d) {
        if (d.toNanos() % 1_000_000_000L == 0) return Long.toString(d.getSeconds());
        return java.math.BigDecimal.valueOf(d.toNanos(), 9).stripTrailingZeros().toPlainString();
    }
}
