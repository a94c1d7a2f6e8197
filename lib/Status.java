//SOURCES FmLock.java Advice.java CheckTrust.java FmHome.java FmProc.java Health.java Identity.java JsonWriter.java Knobs.java Ledger.java LockView.java PendingWakes.java ShellWord.java StateFiles.java

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The supervision verdict of fm-status: one look at the state directory, turned into
 * {@code supervision: <verdict> - <sentence>}, facts as {@code name: ...} lines, and at most one
 * {@code next:} line. It only reads: no lock, no signal, no file written or created.
 *
 * Three steps, each once: {@link #gather} reads everything into one {@link Facts}; {@link #judge}
 * turns facts into the verdict, its sentence, the exit and the next step; {@link #text} and
 * {@link #json} print facts and judgement. The fleet view and the history reuse them.
 *
 * The verdict comes from the arm's own definition of a healthy watcher ({@link Health}) and the
 * guard's count of tasks in flight ({@link FmHome#countTasks}), so all three commands agree:
 * ok (healthy), idle (no task, no live watcher), DOWN (tasks, no live watcher), SLOW and WEDGED
 * (our watcher, beacon past FM_GUARD_GRACE / FM_WATCHER_STALE_GRACE), BLOCKED (something no tool
 * may touch is in the way). Any pending queued wake makes the exit 1 and the next step a drain.
 *
 * Its length is the verdict's: the three steps share one Facts record and cut apart along them
 * would trade one file for three that each need the other two.
 */
final class Status {
    enum Verdict {
        OK("ok", 0), IDLE("idle", 0), DOWN("DOWN", 1), SLOW("SLOW", 1), WEDGED("WEDGED", 1), BLOCKED("BLOCKED", 1);

        final String word;
        final int exit;

        Verdict(String word, int exit) {
            this.word = word;
            this.exit = exit;
        }
    }

    static final Duration WINDOW = Duration.ofHours(24);
    /** Cycles shown, newest last. */
    static final int SHOWN_CYCLES = 5;
    /** A watcher whose lock is younger than this may still be writing who it is. */
    private static final Duration STARTING = FmLock.MID_ACQUIRE_FLOOR;

    private Status() {}

    /** A window of a task in flight whose pane captures keep failing. */
    record Blind(String window, long failures) {}

    /**
     * Everything one look saw. {@code problem} set: the look stopped there (no home, or a state
     * directory that cannot be used) and the fields after {@code stateExists} are null.
     */
    record Facts(FmHome home, Knobs knobs, Advice advice, long now, String problem, boolean unresolved, boolean stateExists,
                 Health health, int tasks, String lockTrouble, PendingWakes queue, List<Blind> blind,
                 List<CheckTrust.Refusal> refused, Ledger.Read ledger, List<Ledger.Cycle> cycles, long gapsFrom,
                 Ledger.Gaps gaps, FmHome.Unresolved unresolvedBy, String adoptedUpdate) {
        /** Records wait in the queue (or it cannot be read): exit 1, and drain first. */
        boolean queued() { return queue != null && queue.pending() != 0; }
    }

    /** What the facts mean: the verdict, its sentence, the one next step (or null), the exit. */
    record Judgement(Verdict verdict, String sentence, String next, int exit) {}

    // ------------------------------------------------------------------ gather

    /** No home at all: facts that say only why. */
    static Facts unresolved(String why, Knobs knobs) {
        return unresolved(new FmHome.Unresolved(why), knobs);
    }

    /** No home at all, or one the user named that is not there: facts that say only why. */
    static Facts unresolved(FmHome.Unresolved why, Knobs knobs) {
        return new Facts(null, knobs, Advice.unresolved(knobs, FmHome.checkout().orElse(null)), System.currentTimeMillis(),
                why.getMessage(), true, false, null, 0, null, null, null, null, null, null, 0, null, why, null);
    }

    static Facts gather(FmHome home, Knobs knobs) {
        long now = System.currentTimeMillis();
        Advice advice = Advice.of(home, knobs);
        String unusable = unusableState(home.state);
        if (unusable != null) {
            return new Facts(home, knobs, advice, now, unusable, false, true, null, 0, null, null, null, null, null, null, 0, null, null,
                    adoptedUpdate(home));
        }
        boolean stateExists = Files.isDirectory(home.state);
        Health h = settled(home, knobs);
        int tasks = tasks(home.state);
        String lockTrouble = lockTrouble(home, h);
        PendingWakes q = PendingWakes.of(home);
        List<Blind> blind = blind(home);
        List<CheckTrust.Refusal> refused = knobs.checkStrict() ? CheckTrust.refusals(home.state) : List.of();
        Ledger.Read read = Ledger.read(home.state);
        Optional<Instant> beat = Optional.ofNullable(StateFiles.mtime(home.beacon()));
        List<Ledger.Cycle> cycles = Ledger.cycles(read.entries(), now, beat);
        boolean liveNow = h.state() == Health.State.HEALTHY || h.state() == Health.State.SLOW
                || h.state() == Health.State.WEDGED;
        long from = now - WINDOW.toMillis();
        Ledger.Gaps gaps = Ledger.gaps(cycles, from, now, liveNow);
        return new Facts(home, knobs, advice, now, null, false, stateExists, h, tasks, lockTrouble, q, blind, refused, read,
                cycles, from, gaps, null, adoptedUpdate(home));
    }

    /**
     * For an adopted home (fm-adopt's note in bin/.fm-adopt/), the command that updates it:
     * firstmate's own self-update skips a home whose tree is dirty, as an adopted one always is.
     * Null when the home is not adopted; the note's own line when it has one.
     */
    static String adoptedUpdate(FmHome home) {
        java.nio.file.Path note = home.home.resolve("bin/.fm-adopt/ADOPTED");
        if (!Files.isRegularFile(note)) return null;
        String text = StateFiles.readSmall(note);
        if (text != null) {
            for (String line : text.split("\n")) if (line.startsWith("Update: ")) return line.substring("Update: ".length()).strip();
        }
        return "";
    }

    // ------------------------------------------------------------------ judge

    /** The verdict, its sentence, the exit and the next step, from the facts alone. */
    static Judgement judge(Facts f) {
        Verdict verdict;
        String sentence;
        String next = null;
        Advice a = f.advice();
        if (f.unresolved() && f.unresolvedBy() != null && f.unresolvedBy().missing != null) {
            // A home (or a state directory's parent) the user named is not there: look, correct the knob.
            java.nio.file.Path missing = f.unresolvedBy().missing;
            java.nio.file.Path where = missing.getParent() != null ? missing.getParent() : missing;
            return new Judgement(Verdict.BLOCKED, f.problem(), "ls -la " + ShellWord.of(where) + "  # " + missing
                    + " is not there: correct " + f.unresolvedBy().knob + ", then run " + a.status() + " again", 1);
        }
        if (f.unresolved()) {
            return new Judgement(Verdict.BLOCKED, f.problem(), !f.problem().startsWith(FmHome.UNPLACED) ? null :
                    "<checkout>/" + Advice.STATUS + "  # run the commands by their path in the checkout (or a symlink"
                            + " to one), or as <checkout>/jbang <path>: FM_HOME names the state home, not the checkout", 1);
        }
        if (f.problem() != null) {
            return new Judgement(Verdict.BLOCKED, "the state directory " + f.home().state + " is unusable (" + f.problem() + ")",
                    "ls -ld " + ShellWord.of(f.home().state) + "  # fix it (or set FM_STATE_OVERRIDE), then run " + a.status() + " again", 1);
        }
        FmHome home = f.home();
        Knobs knobs = f.knobs();
        Health h = f.health();
        String inFlight = f.tasks() + " task(s) in flight";
        String lock = ShellWord.of(home.watchLock());
        long pid = h.pid().orElse(-1);
        String age = h.beaconAge().map(x -> StateFiles.secs(x) + "s").orElse("missing");
        String itsBeacon = h.beaconAge().map(x -> "its beacon is " + StateFiles.secs(x) + "s old").orElse("it has no beacon");
        if (f.lockTrouble() != null) {
            verdict = Verdict.BLOCKED;
            sentence = f.lockTrouble() + "; " + inFlight;
            next = "ls -la " + lock + "  # nothing removes it automatically; move it aside by hand only if no firstmate"
                    + " tool is using it, then run " + a.arm();
        } else {
            switch (h.state()) {
                case HEALTHY -> {
                    verdict = Verdict.OK;
                    sentence = "this home's watcher pid " + pid + " is healthy (beacon " + age + " old); " + inFlight;
                }
                case SLOW -> {
                    verdict = Verdict.SLOW;
                    long left = Math.max(1, StateFiles.secs(knobs.watcherStaleGrace().minus(h.beaconAge().orElse(Duration.ZERO))));
                    sentence = "this home's watcher pid " + pid + " is alive but " + itsBeacon + " (fresh under "
                            + secs(knobs.guardGrace()) + "s); " + inFlight;
                    next = a.status() + "  # again in " + left + "s: if the beacon is still not fresh, " + a.arm()
                            + " then replaces the wedged watcher";
                }
                case WEDGED -> {
                    verdict = Verdict.WEDGED;
                    sentence = "this home's watcher pid " + pid + " is alive but " + itsBeacon + " (stale from "
                            + secs(knobs.watcherStaleGrace()) + "s); " + inFlight;
                    next = a.arm() + "  # replaces only this home's wedged watcher; run it as the harness-tracked background task";
                }
                case FOREIGN -> {
                    verdict = Verdict.BLOCKED;
                    sentence = "pid " + pid + " holds the watcher lock but is not provably this home's watcher ("
                            + LockView.whyForeign(home, h) + "); " + inFlight;
                    next = Identity.fromAnotherPidNamespace(h.lock().identity())
                            ? "cat " + lock + "/pid-identity  # its holder runs in another pid namespace (another container"
                                    + " sharing this home?): look there, and remove the lock by hand only if that container is gone;"
                                    + " pid " + pid + " here is another process, never kill it"
                            : "ls -la " + lock + "/ && tr '\\0' ' ' < /proc/" + pid + "/cmdline  # find out what pid " + pid
                                    + " is; never kill it: if it is not this home's firstmate watcher, ask the person";
                }
                default -> { // ABSENT, DEAD
                    String why = h.state() == Health.State.ABSENT ? "no lock"
                            : h.pid().isPresent() ? "the lock names pid " + pid + ", which is "
                                    + (FmProc.alive(pid) ? "now another process" : "dead")
                            : "a lock with no readable pid";
                    if (f.tasks() == 0) {
                        verdict = Verdict.IDLE;
                        sentence = f.stateExists() ? "no task in flight and no live watcher (" + why + "); nothing to supervise"
                                : "no state directory yet (" + home.state + "); nothing to supervise";
                    } else {
                        verdict = Verdict.DOWN;
                        sentence = inFlight + " and no live watcher (" + why + "; last beat "
                                + h.beaconAge().map(x -> StateFiles.secs(x) + "s ago").orElse("never") + ")";
                        next = a.arm() + "  # as the harness-tracked background task, never a shell &";
                    }
                }
            }
        }
        if (f.queued()) {
            // The first line carries every reason the exit is not 0: a verdict of ok with exit 1 would mislead.
            PendingWakes q = f.queue();
            sentence += q.problem() != null ? "; the wake queue cannot be read, drain it"
                    : "; " + q.pending() + (q.pending() == 1 ? " wake" : " wakes") + " queued, drain them";
            next = a.drain() + "  # the queue is the lossless record: drain and handle it first";
        }
        if (next == null && !f.refused().isEmpty()) {
            CheckTrust.Refusal r = f.refused().get(0);
            next = r.fix() + "  # the watcher refuses to run " + r.check() + " until it is fixed";
        }
        return new Judgement(verdict, sentence, next, verdict.exit != 0 || f.queued() ? 1 : 0);
    }

    // ------------------------------------------------------------------ print

    /** The text form: verdict line, facts, and the next step if any. */
    static List<String> text(Facts f, Judgement j) {
        List<String> out = new ArrayList<>();
        out.add("supervision: " + j.verdict().word + " - " + j.sentence());
        out.addAll(factLines(f));
        if (j.next() != null) out.add("next: " + j.next());
        return out;
    }

    /** The name: value lines, in order; {@link #json} carries the same facts. */
    static List<String> factLines(Facts f) {
        List<String> out = new ArrayList<>();
        if (f.unresolved()) return out;
        if (f.problem() != null) {
            out.add("state: " + f.home().state + ": " + f.problem());
            return out;
        }
        FmHome home = f.home();
        Health h = f.health();
        out.add("lock: " + LockView.describe(home, h));
        out.add("beacon: " + h.beaconAge().map(a -> StateFiles.secs(a) + "s old").orElse("none")
                + " (fresh under " + secs(f.knobs().guardGrace()) + "s, wedged from " + secs(f.knobs().watcherStaleGrace()) + "s)");
        out.add("tasks: " + f.tasks() + " in flight");
        out.add("queue: " + f.queue().describe());
        if (!f.blind().isEmpty()) {
            List<String> parts = new ArrayList<>();
            for (Blind b : f.blind()) parts.add(b.window() + " (" + b.failures() + " failed captures in a row)");
            out.add("blind: " + String.join(", ", parts));
        }
        for (CheckTrust.Refusal r : f.refused()) out.add("refused: " + r.check() + ": " + r.reason() + "; fix: " + r.fix());
        for (Ledger.Cycle c : shown(f.cycles())) out.add("cycle: " + describe(c));
        out.add("gaps: " + describe(f.gaps(), f.gapsFrom(), f.cycles().isEmpty()));
        String ledgerNote = ledgerNote(home, f.ledger());
        if (ledgerNote != null) out.add("ledger: " + ledgerNote);
        if (f.adoptedUpdate() != null) {
            out.add("adopted: this home's bin/fm-*.sh run these commands (bin/.fm-adopt/); firstmate's self-update"
                    + " (bin/fm-update.sh) skips it while adopted" + (f.adoptedUpdate().isEmpty() ? ""
                    : ": update it with " + f.adoptedUpdate()));
        }
        return out;
    }

    static String json(Facts f, Judgement j) {
        return JsonWriter.write(jsonMap(f, j));
    }

    /** The JSON object as a map (the fleet view nests it). */
    static Map<String, Object> jsonMap(Facts f, Judgement j) {
        Map<String, Object> all = new LinkedHashMap<>();
        all.put("verdict", j.verdict().word);
        all.put("exit", j.exit());
        all.put("sentence", j.sentence());
        all.put("next", j.next());
        if (f.problem() != null) {
            all.put("watcher", null);
            all.put("tasks", null);
            all.put("queue", null);
            all.put("cycles", List.of());
            all.put("gaps", null);
            return all;
        }
        FmHome home = f.home();
        all.put("watcher", LockView.json(home, f.health(), f.knobs()));
        if (f.adoptedUpdate() != null) {
            Map<String, Object> adopted = new LinkedHashMap<>();
            adopted.put("selfUpdateSkips", true);
            adopted.put("update", f.adoptedUpdate().isEmpty() ? null : f.adoptedUpdate());
            all.put("adopted", adopted);
        }
        all.put("tasks", f.tasks());
        all.put("queue", f.queue().json());
        List<Map<String, Object>> blind = new ArrayList<>();
        for (Blind b : f.blind()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("window", b.window());
            m.put("failures", b.failures());
            blind.add(m);
        }
        all.put("blind", blind);
        List<Map<String, Object>> refused = new ArrayList<>();
        for (CheckTrust.Refusal r : f.refused()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("check", r.check().toString());
            m.put("file", r.file().toString());
            m.put("reason", r.reason());
            m.put("fix", r.fix());
            refused.add(m);
        }
        all.put("refusedChecks", refused);
        List<Map<String, Object>> cycles = new ArrayList<>();
        for (Ledger.Cycle c : shown(f.cycles())) cycles.add(cycleJson(c));
        all.put("cycles", cycles);
        Ledger.Gaps gaps = f.gaps();
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("since", f.cycles().isEmpty() ? null : iso(gaps.since()));
        g.put("count", gaps.count());
        g.put("totalSeconds", gaps.totalMs() / 1000);
        g.put("longestSeconds", gaps.longestMs() / 1000);
        g.put("currentSeconds", gaps.currentMs() > 0 ? gaps.currentMs() / 1000 : null);
        all.put("gaps", g);
        Ledger.Read read = f.ledger();
        Map<String, Object> l = new LinkedHashMap<>();
        l.put("path", home.state.resolve(Ledger.NAME).toString());
        l.put("records", read.entries().size());
        l.put("unreadableLines", read.unreadable());
        l.put("problem", read.problem());
        all.put("ledger", l);
        return all;
    }

    private static List<Ledger.Cycle> shown(List<Ledger.Cycle> cycles) {
        return cycles.subList(Math.max(0, cycles.size() - SHOWN_CYCLES), cycles.size());
    }

    static Map<String, Object> cycleJson(Ledger.Cycle c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("start", iso(c.started()));
        m.put("pid", c.pid());
        m.put("via", c.via());
        m.put("end", c.how());
        m.put("until", iso(c.until()));
        m.put("seconds", (c.until() - c.started()) / 1000);
        return m;
    }

    // ------------------------------------------------------------------ the look

    /**
     * Health, given a moment to settle when a watcher is caught between taking the lock and
     * writing who it is (a few milliseconds): otherwise a starting watcher would read BLOCKED.
     */
    private static Health settled(FmHome home, Knobs knobs) {
        long until = System.nanoTime() + STARTING.toNanos() + Duration.ofMillis(500).toNanos();
        while (true) {
            Health h = Health.of(home, knobs);
            if (!starting(home, h) || System.nanoTime() > until) return h;
            FmProc.sleepQuietly(50);
        }
    }

    private static boolean starting(FmHome home, Health h) {
        Instant t = h.lock().lockTime();
        if (t == null || Duration.between(t, Instant.now()).compareTo(STARTING) >= 0) return false;
        if (h.state() == Health.State.DEAD && h.pid().isEmpty()) return true;
        return h.state() == Health.State.FOREIGN && StateFiles.firstLine(home.watchLock().resolve("pid-identity")) == null;
    }

    /** The lock is something no tool may remove: not a lock, or cluttered with files of no protocol. */
    private static String lockTrouble(FmHome home, Health h) {
        if (h.lock().form() == FmLock.Form.OTHER) return home.watchLock() + " is not a lock (a regular file or other non-directory)";
        // A dead holder's lock is reclaimed by the next arm, unless files of no protocol keep it in place.
        if (h.state() != Health.State.DEAD) return null;
        List<String> foreign = FmLock.foreignFiles(home.watchLock());
        if (foreign.isEmpty()) return null;
        return home.watchLock() + " holds files the lock protocol does not own (" + String.join(", ", foreign) + ")";
    }

    /** Null when STATE is usable (or simply not there yet); else what is wrong with it. */
    private static String unusableState(Path state) {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(state, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            return StateFiles.reason(e);
        }
        if (!a.isDirectory()) return "not a directory";
        try (DirectoryStream<Path> d = Files.newDirectoryStream(state)) {
            d.iterator().hasNext();
        } catch (IOException | RuntimeException e) {
            return "cannot list it: " + StateFiles.reason(e);
        }
        if (!Files.isWritable(state)) return "not writable, so no watcher can take its lock or beat";
        return null;
    }

    private static int tasks(Path state) {
        try {
            return FmHome.countTasks(state);
        } catch (IOException e) {
            return 0; // listed a moment ago; gone since
        }
    }

    // ------------------------------------------------------------------ blind windows

    /** Windows of tasks in flight whose captures are failing right now (their .blind-<key> count). */
    private static List<Blind> blind(FmHome home) {
        List<Blind> out = new ArrayList<>();
        List<Path> metas = new ArrayList<>();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(home.state, "*.meta")) {
            for (Path p : d) if (!p.getFileName().toString().startsWith(".")) metas.add(p);
        } catch (IOException e) {
            return out;
        }
        metas.sort(null);
        List<String> seen = new ArrayList<>();
        for (Path meta : metas) {
            String window = windowOf(meta);
            if (window == null || seen.contains(window)) continue;
            seen.add(window);
            String count = StateFiles.firstLine(home.file(".blind-" + FmHome.windowKey(window)));
            if (count == null || !count.strip().matches("[1-9][0-9]{0,8}")) continue;
            out.add(new Blind(window, Long.parseLong(count.strip())));
        }
        return out;
    }

    private static String windowOf(Path meta) {
        try (InputStream in = Files.newInputStream(meta)) {
            String head = new String(in.readNBytes(64 * 1024), StandardCharsets.UTF_8);
            for (String line : head.split("\n")) {
                if (line.startsWith("window=")) {
                    String w = line.substring(7).replaceAll("\r$", "");
                    return w.isEmpty() ? null : w;
                }
            }
        } catch (IOException | RuntimeException e) {
            // unreadable meta: the watcher cannot read it either
        }
        return null;
    }

    // ------------------------------------------------------------------ the ledger

    private static String describe(Ledger.Cycle c) {
        String head = iso(c.started()) + " pid " + c.pid() + " via " + c.via() + ", ";
        long ran = c.until() - c.started();
        return switch (c.how()) {
            case "refused" -> head + "refused (another watcher held the lock)";
            case "running" -> head + "running for " + human(ran);
            case "killed" -> head + "killed (no end recorded and its process is gone; last sign of life "
                    + iso(c.until()) + ", " + human(ran) + " after its start)";
            default -> head + "ran " + human(ran) + ", ended " + c.how();
        };
    }

    private static String describe(Ledger.Gaps g, long from, boolean noCycles) {
        if (noCycles) return "unknown (no cycle recorded yet)";
        String window = g.since() > from ? "since " + iso(g.since()) + " (the ledger's first record)" : "in the last 24h";
        if (g.count() == 0) return "none " + window;
        String s = g.count() + " " + window + ", total " + human(g.totalMs()) + ", longest " + human(g.longestMs());
        if (g.currentMs() > 0) s += "; unsupervised now for " + human(g.currentMs());
        return s;
    }

    private static String ledgerNote(FmHome home, Ledger.Read read) {
        if (read.problem() != null) return read.problem() + "; cycles and gaps are unknown";
        if (!read.exists()) return "none yet at " + home.state.resolve(Ledger.NAME) + " (each watcher cycle adds to it)";
        if (read.unreadable() > 0) return read.unreadable() + " unreadable line(s) skipped in " + home.state.resolve(Ledger.NAME);
        return null;
    }

    // ------------------------------------------------------------------ small helpers

    /** 45s, 4m05s, 3h07m: the age of things at a glance. */
    static String human(long ms) {
        long s = Math.max(0, ms) / 1000;
        if (s < 60) return s + "s";
        if (s < 3600) return (s / 60) + "m" + String.format("%02d", s % 60) + "s";
        return (s / 3600) + "h" + String.format("%02d", (s % 3600) / 60) + "m";
    }

    static String iso(long epochMs) {
        return Instant.ofEpochSecond(Math.floorDiv(epochMs, 1000)).toString();
    }

    private static String secs(Duration d) {
        if (d.toNanos() % 1_000_000_000L == 0) return Long.toString(d.getSeconds());
        return java.math.BigDecimal.valueOf(d.toNanos(), 9).stripTrailingZeros().toPlainString();
    }
}
