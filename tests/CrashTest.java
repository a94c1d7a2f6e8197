import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Crash anywhere: first each hard moment is hit on purpose, at a process provably in it (a
 * watcher inside a check that waits on a gate file we hold, one lingering over a signal as
 * its own thread dump shows, a drain blocked mid-print on a pipe we do not read); then
 * crewmates keep writing status lines while arms, watchers and drains are started and
 * SIGKILLed at random moments (starting up, holding the lock, lingering over a signal,
 * inside a check, and by timing between a queue append and its marker). Afterwards
 * one quiet watcher cycle and a drain must account for every status file's last content, and
 * at no sampled moment may two watchers have been alive beyond the self-eviction window.
 *
 * The seed is printed; CRASH_TEST_SEED=<n> repeats the same random choices (not the same
 * thread timing, which is the point of the test).
 */
class CrashTest {
    private static final Duration CHAOS = Duration.ofSeconds(30);
    /** Writers stop this long before the chaos does, so their last writes race with kills too. */
    private static final Duration QUIET_WRITERS = Duration.ofSeconds(4);
    private static final int TASKS = 4;
    private static final double POLL = 0.2;
    /** A watcher that lost the lock must be gone within one poll; 2 s more for a loaded machine. */
    private static final Duration EVICTION_WINDOW = Duration.ofMillis((long) (POLL * 1000) + 2000);
    private static final int MAX_LIVE_WATCHERS = 6;
    private static final int MAX_LIVE_DRAINS = 2;

    @AutoClose private final TestKit kit = new TestKit();
    /** The temp home: a check sweep every second, no heartbeat, time for a slow arm to confirm. */
    private final TestKit.Home fixture = kit.home("fm-crash", Map.of("FM_POLL", Double.toString(POLL),
            "FM_CHECK_INTERVAL", "1", "FM_CHECK_TIMEOUT", "5", "FM_HEARTBEAT", "100000", "FM_HEARTBEAT_MAX", "100000",
            "FM_ARM_CONFIRM_TIMEOUT", "30"));
    private final Path home = fixture.home;
    private final Path state = fixture.state;
    private Random random;
    private final ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<String> drained = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<String> reasonLines = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Watched> watched = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Process> drains = new ConcurrentLinkedQueue<>();
    private final AtomicInteger killedHolding = new AtomicInteger();
    private final AtomicInteger killedInCheck = new AtomicInteger();
    private final AtomicInteger killedDrains = new AtomicInteger();
    private final AtomicInteger killedDrainsAfterTake = new AtomicInteger();
    private final Map<Plan, AtomicInteger> killed = new java.util.concurrent.ConcurrentHashMap<>();
    private final List<Writer> writers = new ArrayList<>();
    private final AtomicInteger drainRuns = new AtomicInteger();
    /** The moments the aimed phase reached, each proven at the instant of its kill. */
    private final List<String> aimed = new java.util.concurrent.CopyOnWriteArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        String seedText = System.getenv("CRASH_TEST_SEED");
        long seed = seedText != null ? Long.parseLong(seedText) : System.nanoTime();
        System.out.println("CrashTest seed " + seed);
        random = new Random(seed);
    }

    @Test
    void killingAnythingAtAnyMomentLosesNoWakeAndNeverLeavesTwoWatchers() throws Exception {
        for (String s : List.of("fm-watch-arm.java", "fm-watch.java", "fm-wake-drain.java")) TestKit.javaCommand(s);
        // A check that takes a while, sometimes has news, and marks (by its JVM's pid) that it runs.
        // The watcher runs each check in a session of its own (setsid execs bash in place), so
        // the check's parent is the JVM.
        // While the gate file exists the check cannot end: a watcher seen inside it stays there.
        Files.writeString(state.resolve("poll.check.sh"), "jvm=$PPID\n"
                + "touch \"$FM_HOME/in-check.$jvm\"\n"
                + "while [ -e \"$FM_HOME/check-gate\" ]; do sleep 0.05; done\n"
                + "sleep 0.$((RANDOM % 9))\n"
                + "if [ $((RANDOM % 4)) -eq 0 ]; then echo ready; fi\n"
                + "rm -f \"$FM_HOME/in-check.$jvm\"\n");
        AtomicBoolean sampling = new AtomicBoolean(true);
        Thread sampler = daemon("crash-sampler", () -> sample(sampling));
        killInsideACheck("fm-watch-arm.java");
        killInsideACheck("fm-watch.java");
        killWhileLingering();
        killADrainMidPrint();
        assertEquals(List.of("in check fm-watch-arm.java", "in check fm-watch.java", "lingering", "drain mid-print"),
                aimed, "an aimed kill missed its moment");
        for (int i = 0; i < TASKS; i++) writers.add(new Writer(state.resolve("t" + i + ".status"), random.nextLong()));

        long end = System.nanoTime() + CHAOS.toNanos();
        long writersStop = end - QUIET_WRITERS.toNanos();
        long nextDrain = System.nanoTime();
        while (System.nanoTime() < end) {
            if (System.nanoTime() > writersStop) for (Writer w : writers) w.stop();
            if (live() < MAX_LIVE_WATCHERS) launchWatcher();
            if (System.nanoTime() > nextDrain && liveDrains() < MAX_LIVE_DRAINS) {
                launchDrain();
                nextDrain = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500 + random.nextInt(2000));
            }
            Thread.sleep(300 + random.nextInt(900));
        }
        for (Writer w : writers) w.join();
        killEverything();
        sampling.set(false);
        sampler.join(10_000);

        long calm = System.nanoTime();
        freshArmStartsAfterAllTheKills();
        settle();
        long settled = (System.nanoTime() - calm) / 1_000_000;

        System.out.println(summary(settled));
        assertEquals(List.of(), new ArrayList<>(violations), "two watchers alive at once, or a writer or drain failed");
        assertNoWatcherLeftAndQueueEmpty();
        List<String> failed = watched.stream().flatMap(w -> w.lines.stream()).filter(l -> l.contains("FAILED")).toList();
        assertEquals(List.of(), failed, "an arm could not confirm a watcher amid the crashes");
        assertEveryPrintedWakeWasDrained();
        for (Writer w : writers) assertLastContentReported(w);
        // The test must have done what it claims, or it proves nothing; the aimed phase made
        // sure of each of these, so they hold whatever the random phase happened to hit.
        assertTrue(killedHolding.get() >= 3, "only " + killedHolding.get() + " watchers killed holding the lock");
        assertTrue(killedInCheck.get() >= 2, "no watcher was killed inside a check");
        assertTrue(killed.containsKey(Plan.IN_LINGER), "no watcher was killed while lingering");
        assertTrue(killedDrains.get() >= 1, "no drain was killed");
        assertTrue(killedDrainsAfterTake.get() >= 1, "no drain was killed after taking its records");
    }

    // ------------------------------------------------------------------ aimed kills

    /**
     * A watcher (an arm, or a bare fm-watch.java) SIGKILLed inside its check: the check has
     * marked its JVM's pid and waits on the gate file, so it cannot have ended, and the
     * watcher holds the lock while it waits for it.
     */
    private void killInsideACheck(String script) throws Exception {
        Path gate = Files.writeString(home.resolve("check-gate"), "");
        Map<String, String> env = env(0.2);
        env.put("FM_CHECK_TIMEOUT", "600"); // the gate, not the timeout, decides when the check ends
        Watched w = new Watched(kit.start(TestKit.command(script), env, home), script.equals("fm-watch-arm.java"));
        watched.add(w);
        long pid = w.process.pid();
        assertTrue(TestKit.waitFor(Duration.ofSeconds(120), () -> !w.process.isAlive() || (inCheck(pid) && holds(pid))),
                script + " never ran its check: " + w.lines + " " + w.err());
        assertTrue(w.process.isAlive() && inCheck(pid) && holds(pid), script + " left before its check: " + w.lines + " " + w.err());
        w.process.destroyForcibly();
        assertTrue(w.process.waitFor(30, TimeUnit.SECONDS));
        killedHolding.incrementAndGet();
        killedInCheck.incrementAndGet();
        killed.computeIfAbsent(Plan.IN_CHECK, k -> new AtomicInteger()).incrementAndGet();
        aimed.add("in check " + script);
        Files.delete(gate); // the orphaned check ends now, as a killed watcher's check would
    }

    /**
     * A watcher SIGKILLed while it lingers over a pending signal: with no check to run and a
     * grace of ten minutes, its main thread's stack (jcmd Thread.print, by pid) shows the
     * linger, which cannot end before the kill lands.
     */
    private void killWhileLingering() throws Exception {
        Path check = state.resolve("poll.check.sh");
        Path parked = home.resolve("poll.check.sh.parked");
        Files.move(check, parked);
        Files.writeString(state.resolve("aim.status"), "working: aimed at a lingering watcher\n");
        Watched w = new Watched(kit.start(TestKit.command("fm-watch.java"), env(600), home), false);
        watched.add(w);
        long pid = w.process.pid();
        assertTrue(TestKit.waitFor(Duration.ofSeconds(120),
                () -> !w.process.isAlive() || (holds(pid) && TestKit.mainThreadIn(pid, "Watcher.linger"))),
                "the watcher never lingered: " + w.lines + " " + w.err());
        assertTrue(w.process.isAlive() && holds(pid), "the watcher left instead of lingering: " + w.lines + " " + w.err());
        w.process.destroyForcibly();
        assertTrue(w.process.waitFor(30, TimeUnit.SECONDS));
        killedHolding.incrementAndGet();
        killed.computeIfAbsent(Plan.IN_LINGER, k -> new AtomicInteger()).incrementAndGet();
        aimed.add("lingering");
        Files.move(parked, check);
    }

    /**
     * A drain SIGKILLed mid-print after taking its records: the queue holds far more distinct
     * records than a pipe and the drain's buffer take, and nobody reads its stdout until it is
     * dead, so once its private file exists it is stuck printing and cannot have finished.
     */
    private void killADrainMidPrint() throws Exception {
        List<WakeQueue.Entry> many = new ArrayList<>();
        for (int i = 0; i < 4000; i++) many.add(new WakeQueue.Entry("check", "aimed-" + i, "check: aimed record " + i + " " + "x".repeat(60)));
        new WakeQueue(FmHome.of(home, state, home.resolve("fm-watch.java")), new Knobs(Map.of())).append(many);
        drainRuns.incrementAndGet();
        Process p = kit.start(TestKit.command("fm-wake-drain.java"), Map.of("FM_HOME", home.toString()), home);
        drains.add(p);
        TestKit.pump(p.getErrorStream(), new StringBuilder());
        assertTrue(awaitTake(p), "the drain ended before taking the queue");
        assertTrue(p.isAlive());
        p.destroyForcibly();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        killedDrains.incrementAndGet();
        killedDrainsAfterTake.incrementAndGet();
        aimed.add("drain mid-print");
        // Nothing it printed is kept: its private file outlives it, so the next drain prints all again.
        p.getInputStream().close();
        drains.remove(p);
    }

    /** What the run did, so a pass can be judged by how much it exercised. */
    private String summary(long settleMs) {
        return "CrashTest: " + watched.size() + " arms/watchers (" + killedHolding.get() + " killed holding the lock, "
                + killedInCheck.get() + " of them inside a check; by plan " + killed + "), " + drainRuns.get()
                + " drains (" + killedDrains.get() + " killed, " + killedDrainsAfterTake.get()
                + " right after taking the queue), " + drained.size() + " drained records, " + reasonLines.size()
                + " reason lines, writes " + writers.stream().map(w -> w.count).toList() + ", settled bursts "
                + writers.stream().map(w -> w.settled.size()).toList() + ", fresh arm and settling " + settleMs + " ms";
    }

    // ------------------------------------------------------------------ the invariants

    /**
     * The invariant: each status file's last content has been reported in some drained record
     * after its last write. It is checked at the end of every burst (see Writer) and at the
     * very end. A signal record names its file but not the content it saw, so two facts stand
     * for it:
     *  1. the file's .seen marker holds that content's signature. Markers move only after the
     *     queue append of the wake whose scan saw the signature (docs/state.md's ordering rule), and
     *     the signature exists only since the last write;
     *  2. a drained signal record for the file has a sequence number above the queue's just
     *     before the last write (it was appended after that write) and, for a burst, at most the
     *     queue's when the marker was seen (it is the wake that moved the marker, or one before).
     * The final quiet cycle ended in a heartbeat (nothing pending), so 1 must hold at the end.
     * A record whose scan raced the last write could stand in for the one that saw it; that
     * window is narrow, and assertEveryPrintedWakeWasDrained covers every wake that printed.
     */
    private void assertLastContentReported(Writer w) throws IOException {
        assertEquals(signature(w.file), StateFiles.readSmall(state.resolve(FmHome.seenName(w.name))),
                w.name + ": the final content was never reported");
        long after = w.seqBeforeLastWrite;
        assertTrue(drainedBetween(w.name, after, Long.MAX_VALUE), w.name + ": no drained signal record appended after"
                + " its last write (queue seq was " + after + "); drained for it: " + drainedFor(w.name));
        for (long[] pause : w.settled) {
            assertTrue(drainedBetween(w.name, pause[0], pause[1]), w.name + ": marked seen after a burst, but no drained"
                    + " record has a sequence number in (" + pause[0] + ", " + pause[1] + "]: the wake that saw the"
                    + " burst's last write was lost, or the marker moved without one; drained for it: " + drainedFor(w.name));
        }
    }

    private List<String> drainedFor(String name) {
        return drained.stream().filter(l -> l.contains("\t" + name + "\t")).map(l -> l.replace('\t', ' ')).toList();
    }

    /**
     * A reason line is printed only after its records were appended, so each one must come out
     * of a drain: as that very payload, or, when a later wake for the same files was folded
     * over it in one drain (the drain keeps the last record per kind and key), as records for
     * every one of its keys.
     */
    private void assertEveryPrintedWakeWasDrained() {
        for (String l : drained) {
            String[] f = l.split("\t", -1);
            assertEquals(5, f.length, "malformed drained record: " + l);
            assertTrue(f[0].matches("\\d{10}") && f[1].matches("\\d+"), l);
            assertTrue(List.of("signal", "check", "heartbeat").contains(f[2]), l);
            if (f[2].equals("signal")) assertTrue(f[4].contains(" " + state.resolve(f[3])), l);
        }
        List<String> payloads = drained.stream().map(l -> l.split("\t", -1)[4]).toList();
        List<String> keys = drained.stream().map(l -> l.split("\t", -1)).map(f -> f[2] + " " + f[3]).toList();
        for (String line : reasonLines) {
            if (line.equals("heartbeat") || payloads.contains(line)) continue; // heartbeats fold into one
            assertTrue(line.startsWith("signal: "), "printed but never drained: " + line);
            for (String path : line.substring("signal: ".length()).split(" ")) {
                String key = "signal " + Path.of(path).getFileName();
                assertTrue(keys.contains(key), "printed but never drained: " + line + " (nothing for " + key + ")");
            }
        }
    }

    private void assertNoWatcherLeftAndQueueEmpty() throws IOException {
        assertFalse(Files.exists(state.resolve(".watch.lock"), LinkOption.NOFOLLOW_LINKS));
        assertEquals(0, Files.size(state.resolve(".wake-queue")), "the final drain left records");
        try (Stream<Path> s = Files.list(state)) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(WakeQueue.DRAINING_PREFIX)).toList());
        }
    }

    // ------------------------------------------------------------------ after the chaos

    /**
     * Every holder is dead now (many of them SIGKILLed mid-way): a fresh arm must take over at
     * once. A lock with a dead pid is reclaimed on the spot; only a pid-less one waits out the
     * 2 s mid-acquire floor. So: started within 5 s plus what a bare arm start costs right now.
     */
    private void freshArmStartsAfterAllTheKills() throws Exception {
        long t0 = System.nanoTime();
        TestKit.Result version = kit.run(TestKit.command("fm-watch-arm.java", "--version"), env(0.2), home,
                Duration.ofSeconds(60));
        assertEquals(0, version.exit(), version.stderr());
        Duration baseline = Duration.ofNanos(System.nanoTime() - t0);
        Watched fresh = new Watched(kit.start(TestKit.command("fm-watch-arm.java"), env(0.2), home), true);
        long started = System.nanoTime();
        assertTrue(fresh.holding.await(60, TimeUnit.SECONDS), "the fresh arm printed " + fresh.lines + " " + fresh.err());
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        assertTrue(fresh.lines.get(0).startsWith("watcher: started pid=" + fresh.process.pid() + " "), fresh.lines.toString());
        assertTrue(took.compareTo(baseline.plusSeconds(5)) < 0, "the fresh arm took " + took.toMillis()
                + " ms to start (a bare start takes " + baseline.toMillis() + " ms)");
        // Let it do its one cycle (there is news pending, or a due check); an idle one is stopped.
        if (!fresh.process.waitFor(20, TimeUnit.SECONDS)) {
            fresh.process.destroy();
            assertTrue(fresh.process.waitFor(20, TimeUnit.SECONDS));
        }
        runDrain(-1, false);
    }

    /**
     * Quiet now: no writers, no check. One watcher cycle at a time, each followed by a drain,
     * until a cycle ends with a heartbeat: its first poll found no signal pending, so every
     * file's last content has been reported and queued, and the drain after it took the rest.
     */
    private void settle() throws Exception {
        Files.delete(state.resolve("poll.check.sh"));
        Map<String, String> env = env(0.2);
        env.put("FM_HEARTBEAT", "2");
        env.put("FM_HEARTBEAT_MAX", "2");
        env.put("FM_CHECK_INTERVAL", "3600");
        for (int i = 0; i < 20; i++) {
            TestKit.Result r = kit.run(TestKit.command("fm-watch.java"), env, home, Duration.ofSeconds(60));
            assertEquals(0, r.exit(), r.stderr());
            reasonLines.addAll(r.lines());
            runDrain(-1, false);
            if (r.stdout().equals("heartbeat\n")) return;
        }
        fail("twenty quiet cycles and still no heartbeat: something keeps reporting");
    }

    // ------------------------------------------------------------------ chaos

    /** When a watcher gets its SIGKILL. */
    enum Plan {
        /** 0-1.5 s after the spawn: JVM start-up, taking or reclaiming the lock. */
        STARTING,
        /** While its check runs (the check marks its JVM's pid). */
        IN_CHECK,
        /** Holding the lock, a signal pending, no check running: lingering, by 0 to FM_SIGNAL_GRACE. */
        IN_LINGER,
        /** Right after its queue append grew the queue: around the marker write and the reason line. */
        AFTER_APPEND,
        /** 0-2 s after it first holds the lock: whatever it is doing then. */
        ANY_TIME,
        /** Never: it runs to its own wake (or reports healthy). */
        NONE
    }

    private static final Plan[] PLANS = {Plan.STARTING, Plan.STARTING, Plan.IN_CHECK, Plan.IN_LINGER, Plan.IN_LINGER,
            Plan.AFTER_APPEND, Plan.ANY_TIME, Plan.NONE, Plan.NONE, Plan.NONE};

    /** An arm (or a bare fm-watch.java) and the moment it is to be killed at. */
    private void launchWatcher() throws IOException {
        boolean arm = random.nextInt(4) != 0;
        double grace = 0.2 + random.nextInt(9) / 10.0;
        String script = arm ? "fm-watch-arm.java" : "fm-watch.java";
        Watched w = new Watched(kit.start(TestKit.command(script), env(grace), home), arm);
        watched.add(w);
        Plan plan = PLANS[random.nextInt(PLANS.length)];
        long chosen = random.nextInt(plan == Plan.STARTING ? 1500 : plan == Plan.IN_LINGER ? (int) (grace * 1000) : 2000);
        if (plan == Plan.NONE) return;
        daemon("crash-killer", () -> {
            if (plan != Plan.STARTING && !w.holding.await(15, TimeUnit.SECONDS)) return;
            long pid = w.process.pid();
            Duration limit = Duration.ofSeconds(15);
            boolean ready = switch (plan) {
                case IN_CHECK -> TestKit.waitFor(limit, () -> !w.process.isAlive() || inCheck(pid));
                case IN_LINGER -> TestKit.waitFor(limit, () -> !w.process.isAlive()
                        || (holds(pid) && !inCheck(pid) && writers.stream().anyMatch(x -> !x.markedSeen())));
                case AFTER_APPEND -> awaitAppend(w);
                default -> true;
            };
            long delay = plan == Plan.IN_CHECK || plan == Plan.AFTER_APPEND ? 0 : chosen;
            if (!ready || w.process.waitFor(delay, TimeUnit.MILLISECONDS)) return;
            boolean holding = holds(pid);
            boolean checking = inCheck(pid);
            w.process.destroyForcibly();
            if (holding) killedHolding.incrementAndGet();
            if (holding && checking) killedInCheck.incrementAndGet();
            if (holding) killed.computeIfAbsent(plan, k -> new AtomicInteger()).incrementAndGet();
        });
    }

    private boolean holds(long pid) {
        return FmLock.holderPid(state.resolve(".watch.lock")).orElse(-1) == pid;
    }

    private boolean inCheck(long pid) {
        return Files.exists(home.resolve("in-check." + pid));
    }

    /** Polls the queue's size every few ms while {@code w} holds the lock; true once it grew. */
    private boolean awaitAppend(Watched w) {
        Path queue = state.resolve(".wake-queue");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        long last = sizeOf(queue);
        while (System.nanoTime() < deadline && w.process.isAlive() && holds(w.process.pid())) {
            long now = sizeOf(queue);
            if (now > last) return true;
            last = now; // a drain emptied it meanwhile
            FmProc.sleepQuietly(3);
        }
        return false;
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return 0;
        }
    }

    /** A drain: 60% left alone, 20% SIGKILLed at a random moment, 20% right after it took the queue. */
    private void launchDrain() {
        int plan = random.nextInt(5);
        long killAfter = plan == 0 ? random.nextInt(1000) : plan == 1 ? 0 : -1;
        daemon("crash-drain", () -> runDrain(killAfter, plan == 1));
    }

    /**
     * Runs one drain, SIGKILLed after {@code killAfterMs} (never when negative; counted from the
     * moment its private file appears when {@code afterTake}), and keeps what it printed.
     */
    private void runDrain(long killAfterMs, boolean afterTake) {
        try {
            drainRuns.incrementAndGet();
            Process p = kit.start(TestKit.command("fm-wake-drain.java"), Map.of("FM_HOME", home.toString()), home);
            drains.add(p);
            StringBuilder out = new StringBuilder();
            Thread pump = TestKit.pump(p.getInputStream(), out);
            TestKit.pump(p.getErrorStream(), new StringBuilder());
            boolean ready = !afterTake || awaitTake(p);
            if (ready && killAfterMs >= 0 && !p.waitFor(killAfterMs, TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                killedDrains.incrementAndGet();
                if (afterTake) killedDrainsAfterTake.incrementAndGet();
            }
            p.waitFor(120, TimeUnit.SECONDS);
            pump.join(10_000);
            String text;
            synchronized (out) {
                text = out.toString();
            }
            // A killed drain may stop mid-line; only whole lines were printed.
            int last = text.lastIndexOf('\n');
            if (last >= 0) drained.addAll(List.of(text.substring(0, last).split("\n")));
            drains.remove(p);
        } catch (IOException e) {
            violations.add("could not run a drain: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Polls every few ms until the drain's private file exists; false when it ended first. */
    private boolean awaitTake(Process p) {
        String prefix = WakeQueue.DRAINING_PREFIX + p.pid() + ".";
        while (p.isAlive()) {
            try (Stream<Path> s = Files.list(state)) {
                if (s.anyMatch(f -> f.getFileName().toString().startsWith(prefix))) return true;
            } catch (IOException e) {
                return false;
            }
            FmProc.sleepQuietly(2);
        }
        return false;
    }

    private void killEverything() throws InterruptedException {
        for (Watched w : watched) w.process.destroyForcibly();
        for (Process p : drains) p.destroyForcibly();
        for (Watched w : watched) assertTrue(w.process.waitFor(30, TimeUnit.SECONDS));
        assertTrue(TestKit.waitFor(Duration.ofSeconds(60), drains::isEmpty), "drains still running");
        // Orphaned checks of killed watchers may still be finishing; they write nothing we judge.
    }

    /**
     * Every 100 ms: which of our processes holds the watcher lock. One that held it and is still
     * alive after losing it for longer than the eviction window is a second watcher.
     */
    private void sample(AtomicBoolean sampling) {
        while (sampling.get()) {
            long holder = FmLock.holderPid(state.resolve(".watch.lock")).orElse(-1);
            long now = System.nanoTime();
            for (Watched w : watched) {
                if (!w.process.isAlive()) continue;
                if (w.process.pid() == holder) {
                    w.held = true;
                    w.lostAt = -1;
                    w.holding.countDown();
                } else if (w.held) {
                    if (w.lostAt < 0) w.lostAt = now;
                    else if (now - w.lostAt > EVICTION_WINDOW.toNanos() && !w.reported) {
                        w.reported = true;
                        violations.add("pid " + w.process.pid() + " still alive " + (now - w.lostAt) / 1_000_000
                                + " ms after the lock passed to pid " + holder + "; its lines " + w.lines);
                    }
                }
            }
            FmProc.sleepQuietly(100);
        }
    }

    private int live() {
        return (int) watched.stream().filter(w -> w.process.isAlive()).count();
    }

    private int liveDrains() {
        return drains.size();
    }

    // ------------------------------------------------------------------ helpers

    /**
     * A crewmate: bursts (1-3 s) of unique status lines at random intervals (50-400 ms), each
     * followed by a pause until some watcher has marked the burst's last content seen. That
     * moment is checkable: the marker moves only after the append of a wake whose scan saw
     * that content, so a drained signal record for this file must carry a sequence number
     * above the queue's just before the last write and at most the queue's when the marker was
     * seen. The pause lasts until such a record was drained (bounded), so a later burst's wake
     * cannot fold it away inside one drain.
     */
    private final class Writer {
        final Path file;
        final String name;
        final Thread thread;
        final AtomicBoolean running = new AtomicBoolean(true);
        final List<long[]> settled = new java.util.concurrent.CopyOnWriteArrayList<>();
        volatile long seqBeforeLastWrite;
        volatile int count;

        Writer(Path file, long seed) throws IOException {
            this.file = file;
            this.name = file.getFileName().toString();
            Files.writeString(file, "working: started\n");
            Random r = new Random(seed);
            WakeQueue queue = new WakeQueue(FmHome.of(home, state, home.resolve("fm-watch.java")), new Knobs(Map.of()));
            thread = daemon("crash-writer", () -> {
                while (running.get()) {
                    long burstEnd = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1000 + r.nextInt(2000));
                    while (running.get() && System.nanoTime() < burstEnd) {
                        FmProc.sleepQuietly(50 + r.nextInt(351));
                        seqBeforeLastWrite = queue.readSeq();
                        try {
                            Files.writeString(file, "working: n=" + ++count + "\n", StandardOpenOption.APPEND);
                        } catch (IOException e) {
                            violations.add("writer " + name + " failed: " + e);
                            return;
                        }
                    }
                    long lo = seqBeforeLastWrite;
                    if (!TestKit.waitFor(Duration.ofSeconds(30), () -> !running.get() || markedSeen())) continue;
                    if (!running.get()) break;
                    long hi = queue.readSeq();
                    settled.add(new long[] {lo, hi});
                    TestKit.waitFor(Duration.ofSeconds(30), () -> !running.get() || drainedBetween(name, lo, hi));
                }
            });
        }

        boolean markedSeen() {
            try {
                return signature(file).equals(StateFiles.readSmall(state.resolve(FmHome.seenName(name))));
            } catch (IOException e) {
                return false;
            }
        }

        void stop() { running.set(false); }

        void join() throws InterruptedException {
            stop();
            thread.join(10_000);
        }
    }

    /** A drained signal record for {@code name} with a sequence number in (lo, hi]. */
    private boolean drainedBetween(String name, long lo, long hi) {
        for (String l : drained) {
            String[] f = l.split("\t", -1);
            if (f.length == 5 && f[2].equals("signal") && f[3].equals(name) && f[1].matches("\\d{1,18}")) {
                long seq = Long.parseLong(f[1]);
                if (seq > lo && seq <= hi) return true;
            }
        }
        return false;
    }

    /** One arm or watcher process: its stdout lines, and whether it is known to hold the lock. */
    private final class Watched {
        final Process process;
        /** Every stdout line so far, in order (recorded the moment it arrives). */
        final List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
        private final TestKit.Lines out;
        /** Released once it holds the lock (its "started" line, or the sampler saw its pid). */
        final CountDownLatch holding = new CountDownLatch(1);
        volatile boolean held;
        volatile long lostAt = -1;
        volatile boolean reported;

        Watched(Process p, boolean arm) {
            process = p;
            out = new TestKit.Lines(p, l -> {
                lines.add(l);
                if (arm && l.startsWith("watcher: started pid=")) {
                    held = true;
                    holding.countDown();
                }
                if (!l.startsWith("watcher: ")) reasonLines.add(l);
            });
        }

        /** Its stderr so far. */
        String err() { return out.err(); }
    }

    /** The fixture's environment with this signal grace (the one knob the cases vary). */
    private Map<String, String> env(double grace) {
        return fixture.env("FM_SIGNAL_GRACE", Double.toString(grace));
    }

    private static String signature(Path file) throws IOException {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        return a.size() + ":" + a.lastModifiedTime().to(TimeUnit.SECONDS);
    }

    private static Thread daemon(String name, ThrowingRunnable body) {
        Thread t = new Thread(() -> {
            try {
                body.run();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private interface ThrowingRunnable { void run() throws Exception; }
}
