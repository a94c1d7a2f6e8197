import java.io.IOException;
import java.util.Optional;

/** PLACEHOLDER until the panes phase lands: the watcher's step 5 (watcher.md "Panes"). */
final class Panes {
    /** Writes a wake's suppression marker; called only after the queue append succeeded. */
    interface MarkerCommit { void write() throws IOException; }

    /** A due pane wake: {@code line} is the reason line and the queue payload; key = window, kind = stale. */
    record PaneWake(String window, String line, MarkerCommit commit) {}

    Panes(FmHome home, Knobs knobs, Runnable beat) {}

    Optional<PaneWake> poll() throws IOException { return Optional.empty(); }
}
