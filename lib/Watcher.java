//SOURCES FmLock.java FmHome.java FmProc.java Knobs.java Progress.java StateFiles.java WakeQueue.java Wake.java
//SOURCES Checks.java Signals.java Panes.java Heartbeat.java SignalWatch.java Ledger.java

import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * One watcher cycle (docs/watcher.md), usable in-process: {@link #start} takes this home's
 * singleton lock (or says who holds it), {@link #cycle} polls until the first due wake.
 *
 * Per wake the order is fixed (docs/state.md): queue append, then the wake's suppression marker,
 * then the heartbeat streak, then the reason line. A failed append leaves every marker alone
 * and returns 1, so the next watcher reports the same wake.
 *
 * The //SOURCES lines above let a script pull in the whole cycle with {@code //SOURCES Watcher.java}.
 *
 * The beacon is touched only from this thread, between phases and in every slice of a wait:
 * a watcher that is stopped or wedged lets it go stale, which is what the guard looks for.
 */
final class Watcher {
    /** No wait inside the cycle is shorter than this, so FM_POLL=0 cannot spin a core. */
    static final Duration MIN_PAUSE = Duration.ofMillis(50);
    private static final long MY_PID = ProcessHandle.current().pid();

    private final FmHome home;
    private final Knobs knobs;
    private final Duration beatEvery;
    private final Duration idleBeatEvery;

    Watcher(FmHome home, Knobs knobs) {
        this.home = home;
        this.knobs = knobs;
        Duration half = atLeastMinPause(knobs.beaconMaxAge().dividedBy(2));
        this.beatEvery = half.compareTo(Duration.ofSeconds(1)) < 0 ? half : Duration.ofSeconds(1);
        this.idleBeatEvery = half;
    }

    private static Duration atLeastMinPause(Duration d) {
        return d.compareTo(MIN_PAUSE) < 0 ? MIN_PAUSE : d;
    }

    // ------------------------------------------------------------------ start (steps 1-4)

    /**
     * Start steps 1-4: create STATE, take the singleton lock, record who we are in it, and
     * make sure every exit path (including TERM, INT, HUP) releases it. When another process
     * holds the lock, the result says which of docs/watcher.md's three answers applies.
     */
    static Start start(FmHome home, Knobs knobs) throws IOException {
        return start(home, knobs, "watch");
    }

    /** As {@link #start(FmHome, Knobs)}; {@code via} says in the cycle ledger who started it and why. */
    static Start start(FmHome home, Knobs knobs, String via) throws IOException {
        home.ensureState();
        FmLock.Attempt attempt = FmLock.tryAcquire(home.watchLock(), knobs.lockStaleAfter());
        // The beacon as this start found it: the last sign of life of the cycle before.
        Instant prevBeat = StateFiles.mtime(home.beacon());
        if (!attempt.acquired()) Ledger.refused(home.state, via, prevBeat);
        if (attempt.refusal().isPresent()) {
            return new Start(Start.Outcome.NOT_A_LOCK, null, "watcher: " + attempt.refusal().get());
        }
        if (!attempt.acquired()) return Start.refused(home, knobs, attempt.holder());
        // Every exit path releases it: FmLock's one shutdown hook closes whatever is still held.
        FmLock.Held held = attempt.held().get();
        Start started = Start.held(held);
        try {
            held.writeMeta("fm-home", home.home.toString());
            held.writeMeta("watcher-path", home.watcherPath.toString());
            Optional<String> identity = FmProc.identity(MY_PID);
            if (identity.isPresent()) held.writeMeta("pid-identity", identity.get());
            StateFiles.touch(home.beacon());
            StateFiles.createIfMissing(home.lastHeartbeat());
        } catch (IOException e) {
            started.close();
            throw new IOException("cannot record this watcher in " + home.state + ": " + e.getMessage(), e);
        }
        Ledger.open(home.state, via, prevBeat);
        return started;
    }

    /** What {@link #start} found: the lock, or one of docs/watcher.md's answers when a peer holds it. */
    static final class Start implements AutoCloseable {
        enum Outcome {
            /** We hold the lock; run {@link Watcher#cycle}. */
            HELD,
            /** A peer is watching this home (or is mid-acquire): stdout, exit 0. */
            PEER_RUNNING,
            /** A live holder whose beacon is older than FM_WATCHER_STALE_GRACE: stderr, exit 1. */
            PEER_STALE_BEACON,
            /** A live holder, no beacon at all, and a lock older than that grace: stderr, exit 1. */
            PEER_NO_BEACON,
            /** The lock path holds a regular file: nothing can take it; stderr, exit 1. */
            NOT_A_LOCK
        }

        private final Outcome outcome;
        private final FmLock.Held lock;
        private final String line;

        private Start(Outcome outcome, FmLock.Held lock, String line) {
            this.outcome = outcome;
            this.lock = lock;
            this.line = line;
        }

        static Start held(FmLock.Held lock) {
            return new Start(Outcome.HELD, lock, null);
        }

        static Start refused(FmHome home, Knobs knobs, OptionalLong reported) {
            // A pid that is already dead is a lock being reclaimed by someone else right now:
            // that someone becomes the watcher, so this is "running, pid unknown".
            OptionalLong pid = reported.isPresent() && FmProc.alive(reported.getAsLong()) ? reported
                    : OptionalLong.empty();
            if (FmLock.Snapshot.of(home.watchLock()).form() == FmLock.Form.OTHER) {
                return new Start(Outcome.NOT_A_LOCK, null, "watcher: " + FmLock.notALock(home.watchLock()));
            }
            if (pid.isEmpty() && !FmLock.foreignFiles(home.watchLock()).isEmpty()) {
                return new Start(Outcome.NOT_A_LOCK, null, "watcher: " + FmLock.cluttered(home.watchLock()));
            }
            if (pid.isEmpty()) return new Start(Outcome.PEER_RUNNING, null, "watcher: already running");
            long p = pid.getAsLong();
            Duration grace = knobs.watcherStaleGrace();
            Optional<Duration> beaconAge = StateFiles.age(home.beacon());
            if (beaconAge.isPresent() && beaconAge.get().compareTo(grace) >= 0) {
                return new Start(Outcome.PEER_STALE_BEACON, null, "watcher: lock held by live pid " + p
                        + " but heartbeat is stale for " + StateFiles.secs(beaconAge.get()) + "s (>" + seconds(grace)
                        + "s); inspect or stop that watcher before re-arming.");
            }
            Instant lockTime = FmLock.Snapshot.of(home.watchLock()).lockTime();
            if (beaconAge.isEmpty() && lockTime != null
                    && Duration.between(lockTime, Instant.now()).compareTo(grace) >= 0) {
                return new Start(Outcome.PEER_NO_BEACON, null, "watcher: lock held by live pid " + p
                        + " but no heartbeat exists; inspect or stop that watcher before re-arming.");
            }
            return new Start(Outcome.PEER_RUNNING, null, "watcher: already running pid " + p);
        }

        Outcome outcome() { return outcome; }
        boolean acquired() { return outcome == Outcome.HELD; }
        /** A live peer holds the lock but looks wedged: one of the two loud refusals. */
        boolean peerStale() { return outcome == Outcome.PEER_STALE_BEACON || outcome == Outcome.PEER_NO_BEACON; }
        /** A refusal that belongs on stderr with exit 1. */
        boolean refusedLoudly() { return peerStale() || outcome == Outcome.NOT_A_LOCK; }
        Optional<FmLock.Held> lock() { return Optional.ofNullable(lock); }
        /** The status line of a refusal (empty when held). */
        Optional<String> line() { return Optional.ofNullable(line); }
        int exitCode() { return refusedLoudly() ? 1 : 0; }

        /** Prints a refusal's line where docs/watcher.md says it goes; nothing when held. */
        void report(PrintStream out, PrintStream err) {
            if (line == null) return;
            PrintStream where = refusedLoudly() ? err : out;
            where.println(line);
            where.flush();
        }

        /** Releases the lock if we hold it (a no-op when it no longer names us). */
        @Override
        public void close() {
            if (lock == null) return;
            lock.close();
        }
    }

    private static String seconds(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 == 0 ? Long.toString(ms / 1000) : Double.toString(ms / 1000.0);
    }

    // ------------------------------------------------------------------ the cycle

    /** {@link #firstPoll} found nothing to report (or lost the lock): the caller decides. */
    static final int NO_WAKE = -1;
    /** Set once a wake's reason line is out. */
    private boolean delivered;

    /**
     * Polls until the first due wake (prints its line on {@code out}, returns 0), until another
     * watcher takes the lock (returns 0 silently), or until a failure (one line on stderr,
     * returns 1). The caller still owns {@code lock} and releases it afterwards.
     */
    int cycle(FmLock.Held lock, PrintStream out) {
        int code = polls(lock, out, false);
        if (!delivered) Ledger.end(code == 0 ? "evicted" : "error");
        return code;
    }

    /**
     * Only the cycle's first poll, for an arm that holds the lock but could not confirm health:
     * an immediate wake still wins (printed, 0); a failure is 1 (said on stderr); nothing due, or
     * the lock lost, is {@link #NO_WAKE}, with the cycle left open for the caller to end.
     */
    int firstPoll(FmLock.Held lock, PrintStream out) {
        int code = polls(lock, out, true);
        if (code == 0 && !delivered) {
            Ledger.end("evicted");
            return NO_WAKE;
        }
        if (code == 1) Ledger.end("error");
        return code;
    }

    private int polls(FmLock.Held lock, PrintStream out, boolean once) {
        Runnable beat = this::beatQuietly;
        Checks checks = new Checks(home, knobs, beatEvery, beat);
        Signals signals = new Signals(home, knobs, this::linger);
        Heartbeat heartbeat = new Heartbeat(home, knobs);
        Panes panes = new Panes(home, knobs, beat);
        Duration poll = knobs.poll();
        try (SignalWatch nudge = SignalWatch.open(home.state)) {
            while (true) {
                if (evicted(lock)) return 0;
                if (Thread.currentThread().isInterrupted()) {
                    fail("interrupted before any wake was due; nothing was reported", new InterruptedException());
                    return 1;
                }
                StateFiles.touch(home.beacon());
                Optional<Wake> wake = checks.poll();
                if (wake.isEmpty()) {
                    beat.run();
                    wake = signals.poll();
                }
                if (wake.isEmpty()) {
                    beat.run();
                    wake = panes.poll();
                }
                if (wake.isEmpty()) {
                    beat.run();
                    wake = heartbeat.poll();
                }
                if (wake.isPresent()) return deliver(lock, wake.get(), heartbeat, out);
                if (once) return NO_WAKE;
                betweenPolls(poll, nudge);
            }
        } catch (IOException | RuntimeException e) {
            fail(e.getMessage() == null ? e.toString() : e.getMessage(), e);
            return 1;
        }
    }

    /** The ordering rule of docs/state.md, and nothing after an eviction (the new holder reports it). */
    private int deliver(FmLock.Held lock, Wake wake, Heartbeat heartbeat, PrintStream out) {
        if (evicted(lock)) return 0;
        // Fenced: a signal releases the watcher lock only after the append and the markers are
        // done, so a successor never reports this wake while we are still recording it.
        try {
            if (!lock.fenced(() -> record(wake, heartbeat))) return 1;
        } catch (FmLock.Closing stopping) {
            return 1; // ended by a signal before anything was recorded: the wake stays due
        } catch (IOException e) {
            fail(e.getMessage(), e);
            return 1;
        }
        // Ended in the ledger before the line is out, so whoever reads the line finds it there.
        Ledger.end("wake:" + (wake.entries().isEmpty() ? "unknown" : wake.entries().get(0).kind()));
        out.println(wake.line());
        out.flush();
        delivered = true;
        return 0;
    }

    /** Append, then markers (docs/state.md's order); false, with the line on stderr, when the append failed. */
    private boolean record(Wake wake, Heartbeat heartbeat) {
        try {
            new WakeQueue(home, knobs).append(wake.entries());
        } catch (IOException e) {
            fail(e.getMessage() + "; the wake was not recorded and stays due for the next watcher", e);
            return false;
        }
        // The wake is durable now. A marker that cannot be written only means the same wake is
        // reported again later (the drain folds it), so the line is still printed, with a warning.
        try {
            wake.commit().write();
            heartbeat.recordWake(wake.heartbeat());
        } catch (IOException e) {
            fail("wake queued, but a marker could not be written (" + e.getMessage()
                    + "); fix it or this wake repeats", e);
        }
        return true;
    }

    /** The lock no longer names us: another watcher took over, so we leave without a word. */
    private boolean evicted(FmLock.Held lock) {
        // stillHeld reads the link and the pid it leads to: a replaced lock of either form fails it.
        return !lock.stillHeld();
    }

    /**
     * Sleeps FM_POLL in slices of half FM_BEACON_MAX_AGE (an idle watcher wakes rarely: that
     * is most of its life), ending early when a signal file changes. Waits inside a poll (the
     * linger, a check) beat at least every second.
     */
    private void betweenPolls(Duration poll, SignalWatch nudge) {
        long start = System.nanoTime();
        long end = start + Math.max(poll.toNanos(), MIN_PAUSE.toNanos());
        while (!Thread.currentThread().isInterrupted()) {
            long left = end - System.nanoTime();
            if (left <= 0) return;
            long slice = Math.min(left, idleBeatEvery.toNanos());
            if (nudge.await(Duration.ofNanos(slice))) {
                // A burst of events must not turn into a busy loop: keep the floor.
                long floorLeft = start + MIN_PAUSE.toNanos() - System.nanoTime();
                if (floorLeft > 0) FmProc.sleepQuietly(Math.max(1, floorLeft / 1_000_000));
                return;
            }
            beatQuietly();
        }
    }

    /** The signal linger: the full grace, in slices, each one a sign of life. */
    private void linger(Duration grace) {
        if (grace.toSeconds() >= 2) {
            Progress.note("a status file changed; waiting " + grace.toSeconds()
                    + " s (FM_SIGNAL_GRACE) for more before the wake\u2026");
        }
        long end = System.nanoTime() + grace.toNanos();
        while (!Thread.currentThread().isInterrupted()) {
            long left = end - System.nanoTime();
            if (left <= 0) return;
            FmProc.sleepQuietly(Math.max(1, Math.min(left, beatEvery.toNanos()) / 1_000_000));
            beatQuietly();
        }
    }

    private void beatQuietly() {
        try {
            StateFiles.touch(home.beacon());
        } catch (IOException e) {
            // the next poll's own touch reports a state directory that went away
            if (knobs.debug()) System.err.println("watcher: could not touch " + home.beacon() + ": " + e);
        }
    }

    private void fail(String message, Throwable cause) {
        System.err.println("watcher: " + StateFiles.oneLine(message));
        if (knobs.debug()) cause.printStackTrace();
        System.err.flush();
    }
}
