//SOURCES WakeQueue.java

import java.io.IOException;
import java.util.List;

/**
 * What every watcher phase (checks, signals, panes, heartbeat) returns when a wake is due:
 * the records to queue, the marker commit that suppresses the wake, and the reason line.
 * The watcher applies docs/state.md's ordering to it: append, then commit, then print.
 */
record Wake(List<WakeQueue.Entry> entries, Commit commit, String line, boolean heartbeat) {
    /** Advances the wake's suppression marker; runs only after the queue append succeeded. */
    interface Commit { void write() throws IOException; }

    /** One record whose payload is the reason line itself (every kind but signal). */
    static Wake of(String kind, String key, String line, Commit commit) {
        return new Wake(List.of(new WakeQueue.Entry(kind, key, line)), commit, line, kind.equals("heartbeat"));
    }
}
