//SOURCES FmLock.java BashHome.java FmHome.java FmProc.java Identity.java Knobs.java StateFiles.java

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The one definition of a healthy watcher (docs/arm-guard.md), used by the arm for every decision.
 *
 * Healthy: the lock names a live process, its fm-home and watcher-path are this home's and
 * this checkout's (or this home's bash watcher, BashHome), its pid-identity is that process's
 * identity now (so a recycled pid is never healthy), and the beacon is younger than
 * FM_GUARD_GRACE. Our own watcher whose beacon is past FM_WATCHER_STALE_GRACE is WEDGED: the
 * only state in which the arm may signal it.
 */
record Health(State state, OptionalLong pid, Optional<Duration> beaconAge, FmLock.Snapshot lock) {

    enum State {
        /** No lock at all. */
        ABSENT,
        /** A lock whose pid is missing, unreadable, or names no live process (or a recycled one). */
        DEAD,
        /** A live holder that is not provably this home's watcher (wrong metadata or identity). */
        FOREIGN,
        /** This home's watcher, beacon fresh. */
        HEALTHY,
        /** This home's watcher, beacon older than FM_GUARD_GRACE but not yet FM_WATCHER_STALE_GRACE. */
        SLOW,
        /** This home's watcher, beacon missing or older than FM_WATCHER_STALE_GRACE. */
        WEDGED
    }

    static Health of(FmHome home, Knobs knobs) {
        Path lockPath = home.watchLock();
        FmLock.Snapshot s = FmLock.Snapshot.of(lockPath);
        Optional<Duration> beacon = StateFiles.age(home.beacon());
        if (s.form() == FmLock.Form.ABSENT) return new Health(State.ABSENT, OptionalLong.empty(), beacon, s);
        OptionalLong pid = s.pid();
        if (pid.isEmpty() || !s.holderAlive()) return new Health(State.DEAD, pid, beacon, s);
        if (!isOurs(home, lockPath, pid.getAsLong())) return new Health(State.FOREIGN, pid, beacon, s);
        if (beacon.isPresent() && beacon.get().compareTo(knobs.guardGrace()) < 0) {
            return new Health(State.HEALTHY, pid, beacon, s);
        }
        if (beacon.isPresent() && beacon.get().compareTo(knobs.watcherStaleGrace()) < 0) {
            return new Health(State.SLOW, pid, beacon, s);
        }
        return new Health(State.WEDGED, pid, beacon, s);
    }

    /** The lock's metadata names this home, this checkout's watcher, and the live process itself. */
    static boolean isOurs(FmHome home, Path lockPath, long pid) {
        if (!namesThisHome(home, lockPath)) return false;
        String recorded = StateFiles.firstLine(lockPath.resolve("pid-identity"));
        return Identity.of(pid, recorded) == Identity.Verdict.SAME;
    }

    /** fm-home and watcher-path are this home's, ours or its bash watcher (the identity aside). */
    static boolean namesThisHome(FmHome home, Path lockPath) {
        String h = StateFiles.firstLine(lockPath.resolve("fm-home"));
        String w = StateFiles.firstLine(lockPath.resolve("watcher-path"));
        if (home.home.toString().equals(h) && home.watcherPath.toString().equals(w)) return true;
        // Adopted homes: the home's bash watcher (lib/BashHome.java) is this home's watcher too,
        // unless the identity verdict is UNKNOWN: a live bash watcher whose ps line proves
        // nothing (after a wall-clock step, or without /proc) must keep its lock, and --restart
        // clears only locks that name this home (FmLock.clearStale also refuses a live holder).
        if (!BashHome.namesBashWatcher(home, Knobs.fromEnvironment(), h, w)) return false;
        OptionalLong pid = FmProc.parsePid(StateFiles.readSmall(lockPath.resolve("pid")));
        return pid.isEmpty() || Identity.of(pid.getAsLong(),
                StateFiles.firstLine(lockPath.resolve("pid-identity"))) != Identity.Verdict.UNKNOWN;
    }

    boolean healthy() { return state == State.HEALTHY; }

    long beaconSeconds() { return beaconAge.map(StateFiles::secs).orElse(-1L); }
}
