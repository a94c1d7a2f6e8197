//SOURCES FmLock.java FmHome.java FmProc.java Health.java Knobs.java Ledger.java Progress.java Watcher.java

import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The arm (docs/arm-guard.md): makes sure this home has exactly one healthy watcher and says so
 * in one status line. The watcher cycle runs inside the arm's own JVM, so the lock's pid is
 * the arm's pid and that process really is the watcher: `--restart`, the identity check and
 * the signals a harness sends to the arm all reach the watcher itself.
 */
final class Arm {
    static final Duration STEP = Duration.ofMillis(100);
    static final Duration TERM_GRACE = Duration.ofSeconds(5);

    private final FmHome home;
    private final Knobs knobs;
    private final PrintStream out;
    private final PrintStream err;

    Arm(FmHome home, Knobs knobs, PrintStream out, PrintStream err) {
        this.home = home;
        this.knobs = knobs;
        this.out = out;
        this.err = err;
    }

    /** Runs the arm; the result is the process exit status. */
    int run(boolean attach, boolean restart) throws IOException, InterruptedException {
        home.ensureState();
        // A live holder --restart had to leave alone: the reason if the arm ends FAILED.
        String leftAlone = restart ? stopOurWatcher() : null;
        String problem = leftAlone;
        long deadline = System.nanoTime() + knobs.armConfirmTimeout().toNanos();
        boolean wedgeHandled = false;
        String via = restart ? "restart" : "arm"; // for the cycle ledger
        while (true) {
            Health h = Health.of(home, knobs);
            if (h.healthy()) return attach ? attached(h) : say(healthyLine(h), 0);
            if (h.state() == Health.State.WEDGED && !wedgeHandled) {
                wedgeHandled = true;
                if (!replaceWedged(h)) continue; // it beat again, or changed: look afresh
                via = "replace:" + h.pid().getAsLong();
            }
            // Anything else goes through the lock: a dead or recycled holder is reclaimed there,
            // a live one keeps it (and is never signalled by us).
            Watcher.Start start = Watcher.start(home, knobs, via);
            if (start.lock().isPresent()) return runOwnWatcher(start.lock().get());
            problem = start.refusedLoudly() ? start.line().orElse(null) : leftAlone;
            if (start.outcome() == Watcher.Start.Outcome.NOT_A_LOCK) break; // waiting cannot help
            if (System.nanoTime() > deadline) break;
            Thread.sleep(STEP.toMillis());
        }
        if (problem != null) err.println(problem);
        return say("watcher: FAILED - no live watcher with a fresh beacon", 1);
    }

    /** We hold the lock: confirm through the shared definition, report, then be the watcher. */
    private int runOwnWatcher(FmLock.Held lock) {
        Health mine = Health.of(home, knobs);
        long me = ProcessHandle.current().pid();
        if (!mine.healthy() || mine.pid().orElse(-1) != me) {
            // An immediate wake wins over confirmation (docs/arm-guard.md): the first poll runs anyway,
            // and a wake it finds is printed and is a success. Only an empty first poll fails.
            int first = new Watcher(home, knobs).firstPoll(lock, out);
            if (first == 0) {
                lock.close();
                return 0;
            }
            Ledger.end("unconfirmed");
            lock.close();
            if (first == 1) return say("watcher: FAILED - no live watcher with a fresh beacon", 1);
            err.println("watcher: started pid=" + me + " but could not confirm it (state " + mine.state()
                    + ") and its first poll found no wake; check FM_GUARD_GRACE and the state directory");
            return say("watcher: FAILED - no live watcher with a fresh beacon", 1);
        }
        say("watcher: started pid=" + me + " (beacon fresh" + (noTaskInFlight() ? "; no task in flight" : "") + ")", 0);
        try {
            return new Watcher(home, knobs).cycle(lock, out);
        } finally {
            lock.close();
        }
    }

    /**
     * A watcher for a home with no task in flight wakes only for heartbeats: worth saying, since
     * a wrong FM_HOME or a fleet not registered yet looks exactly like this. Unreadable: say nothing.
     */
    private boolean noTaskInFlight() {
        try {
            return FmHome.countTasks(home.state) == 0;
        } catch (IOException e) {
            return false;
        }
    }

    /** --attach: stay while that watcher (or a healthy successor) is healthy, then exit 0. */
    private int attached(Health h) throws InterruptedException {
        long pid = h.pid().getAsLong();
        say("watcher: attached pid=" + pid + " (beacon " + h.beaconSeconds() + "s)", 0);
        Duration poll = knobs.armAttachPoll();
        while (true) {
            Thread.sleep(Math.max(10, poll.toMillis()));
            Health now = Health.of(home, knobs);
            if (!now.healthy()) return 0;
            if (now.pid().getAsLong() != pid) {
                pid = now.pid().getAsLong();
                say("watcher: attached pid=" + pid + " (beacon " + now.beaconSeconds() + "s)", 0);
            }
        }
    }

    /**
     * Our own watcher with a stale beacon. A laptop waking from sleep resumes within a poll, so
     * first wait up to twice FM_BEACON_MAX_AGE for a fresh beat; then TERM, KILL after 5 s.
     * Returns false when there was nothing to replace after all (it beat, or the lock changed).
     */
    private boolean replaceWedged(Health seen) throws InterruptedException {
        long pid = seen.pid().getAsLong();
        Duration wait = knobs.beaconMaxAge().multipliedBy(2);
        Progress.note("waiting up to " + seconds(wait) + " s for pid " + pid + "'s beacon\u2026");
        long until = System.nanoTime() + wait.toNanos();
        while (System.nanoTime() < until) {
            Thread.sleep(STEP.toMillis());
            Health now = Health.of(home, knobs);
            if (now.state() != Health.State.WEDGED || now.pid().orElse(-1) != pid) return false;
        }
        Health last = Health.of(home, knobs);
        if (last.state() != Health.State.WEDGED || last.pid().orElse(-1) != pid) return false;
        say("watcher: replacing wedged pid=" + pid + " (beacon "
                + (last.beaconAge().isPresent() ? last.beaconSeconds() + "s" : "never") + ")", 0);
        stop(pid);
        return true;
    }

    /**
     * --restart: signal only a watcher proven ours (the identity verdict SAME); clear a stale lock that
     * names this home only when its holder is gone: dead, or a live process whose pid the
     * recorded identity proves reused, which is never signalled (FmLock.clearStale re-checks
     * under the steal mutex). A live holder nothing proves either way (no identity yet, another
     * pid namespace, a clock-shifted line) is left alone; the returned line says so if the arm
     * then fails.
     */
    private String stopOurWatcher() {
        FmLock.Snapshot s = FmLock.Snapshot.of(home.watchLock());
        OptionalLong pid = s.pid();
        if (s.form() == FmLock.Form.ABSENT) return null;
        if (pid.isPresent() && Health.isOurs(home, home.watchLock(), pid.getAsLong())) {
            stop(pid.getAsLong());
            return null;
        }
        // The recorded pid is not proven our watcher: never signal it.
        if (Health.namesThisHome(home, home.watchLock()) && FmLock.clearStale(home.watchLock(), s)) {
            FmLock.debug("cleared a stale watcher lock naming pid " + (pid.isPresent() ? pid.getAsLong() : -1));
            return null;
        }
        if (pid.isPresent() && s.holderAlive()) {
            return "watcher: --restart left " + home.watchLock() + " to its live holder pid " + pid.getAsLong()
                    + ": it cannot be proven this home's watcher, so it was not signalled";
        }
        return null;
    }

    /** TERM, then KILL after 5 s; each signal only after re-proving the process is our watcher. */
    private void stop(long pid) {
        Optional<ProcessHandle> h = ProcessHandle.of(pid);
        if (h.isEmpty() || !Health.isOurs(home, home.watchLock(), pid)) return;
        Progress.note("stopping pid " + pid + ": TERM, then KILL if it is still running after "
                + seconds(TERM_GRACE) + " s\u2026");
        h.get().destroy();
        long until = System.nanoTime() + TERM_GRACE.toNanos();
        while (h.get().isAlive() && System.nanoTime() < until) FmProc.sleepQuietly(STEP.toMillis());
        if (h.get().isAlive() && Health.isOurs(home, home.watchLock(), pid)) {
            h.get().destroyForcibly();
            long killed = System.nanoTime() + TERM_GRACE.toNanos();
            while (h.get().isAlive() && System.nanoTime() < killed) FmProc.sleepQuietly(STEP.toMillis() / 2);
        }
    }

    /** Whole seconds, or one decimal when a knob asks for less than ten. */
    private static String seconds(Duration d) {
        double s = d.toMillis() / 1000.0;
        return s == Math.rint(s) || s >= 10 ? Long.toString(Math.round(s)) : String.format(java.util.Locale.ROOT, "%.1f", s);
    }

    private static String healthyLine(Health h) {
        return "watcher: healthy pid=" + h.pid().getAsLong() + " (beacon " + h.beaconSeconds() + "s)";
    }

    private int say(String line, int code) {
        out.println(line);
        out.flush();
        return code;
    }
}
