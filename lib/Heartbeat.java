//SOURCES FmHome.java Knobs.java StateFiles.java Wake.java

import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Optional;

/**
 * Watcher step 6 and the streak every wake updates (docs/watcher.md "Heartbeat").
 *
 * The interval backs off while nothing else happens: FM_HEARTBEAT * 2^streak, capped at
 * FM_HEARTBEAT_MAX, where streak counts heartbeats in a row (garbage reads as 0; values
 * above 12 count as 12, and we never write more than 12).
 */
final class Heartbeat {
    static final int MAX_STREAK = 12;

    private final FmHome home;
    private final Duration base;
    private final Duration max;

    Heartbeat(FmHome home, Knobs knobs) {
        this.home = home;
        this.base = knobs.heartbeat();
        this.max = knobs.heartbeatMax();
    }

    /** The streak on disk: 0 when missing or not a plain decimal, at most {@link #MAX_STREAK}. */
    int streak() {
        String s = StateFiles.readSmall(home.heartbeatStreak());
        if (s == null) return 0;
        s = s.strip();
        if (!s.matches("[0-9]+")) return 0;
        return s.length() > 2 ? MAX_STREAK : Math.min(MAX_STREAK, Integer.parseInt(s));
    }

    Duration interval(int streak) {
        Duration backedOff = base.multipliedBy(1L << Math.min(streak, MAX_STREAK));
        return backedOff.compareTo(max) < 0 ? backedOff : max;
    }

    /** Due when .last-heartbeat is at least the backed-off interval old. */
    Optional<Wake> poll() throws IOException {
        Optional<Duration> age = StateFiles.age(home.lastHeartbeat());
        if (age.isEmpty()) {
            // Removed under a running watcher: count from now, as a fresh start does.
            StateFiles.createIfMissing(home.lastHeartbeat());
            return Optional.empty();
        }
        if (age.get().compareTo(interval(streak())) < 0) return Optional.empty();
        return Optional.of(Wake.of("heartbeat", "heartbeat", "heartbeat", () -> StateFiles.touch(home.lastHeartbeat())));
    }

    /** A heartbeat extends the streak; any other wake ends it. */
    void recordWake(boolean wasHeartbeat) throws IOException {
        int next = wasHeartbeat ? Math.min(MAX_STREAK, streak() + 1) : 0;
        Files.writeString(home.heartbeatStreak(), next + "\n");
    }
}
