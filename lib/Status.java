//SOURCES ../FmLock.java CheckTrust.java FmHome.java FmProc.java Guard.java Health.java Identity.java JsonWriter.java Knobs.java Ledger.java PendingWakes.java StateFiles.java

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
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
import java.util.OptionalLong;

/**
 * The supervision verdict of fm-status: one look at the state directory, turned into
 * {@code supervision: <verdict> - <sentence>}, facts as {@code name: ...} lines, and at most one
 * {@code next:} line. It only reads: no lock, no signal, no file written or created.
 *
 * The verdict comes from the arm's own definition of a healthy watcher ({@link Health}) and the
 * guard's count of tasks in flight ({@link Guard#countTasks}), so all three commands agree:
 * ok (healthy), idle (no task, no live watcher), DOWN (tasks, no live watcher), SLOW and WEDGED
 * (our watcher, beacon past FM_GUARD_GRACE / FM_WATCHER_STALE_GRACE), BLOCKED (something no tool
 * may touch is in the way). Any pending queued wake makes the exit 1 and the next step a drain.
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

    static final String STATUS = "jbang fm-status.java";
    /** How advice names the arm and the drain (FM_ARM_COMMAND, FM_DRAIN_COMMAND: an adopted home's own scripts). */
    private String arm = "jbang fm-watch-arm.java";
    private String drain = "jbang fm-wake-drain.java";
    static final Duration WINDOW = Duration.ofHours(24);
    /** Cycles shown, newest last. */
    static final int SHOWN_CYCLES = 5;
    /** A watcher whose lock is younger than this may still be writing who it is. */
    private static final Duration STARTING = FmLock.MID_ACQUIRE_FLOOR;

    private Verdict verdict;
    private String sentence;
    private String next;
    /** The name: value lines, in order; json mirrors them. */
    private final List<String> facts = new ArrayList<>();
    private final Map<String, Object> json = new LinkedHashMap<>();
    /** Records wait in the queue (or it cannot be read): exit 1, and drain first. */
    private boolean queued;

    private Status() {}

    Verdict verdict() { return verdict; }

    int exit() {
        return verdict.exit != 0 || queued ? 1 : 0;
    }

    /** The text form: verdict line, facts, and the next step if any. */
    List<String> lines() {
        List<String> out = new ArrayList<>();
        out.add("supervision: " + verdict.word + " - " + sentence);
        out.addAll(facts);
        if (next != null) out.add("next: " + next);
        return out;
    }

    String json() {
        Map<String, Object> all = new LinkedHashMap<>();
        all.put("verdict", verdict.word);
        all.put("exit", exit());
        all.put("sentence", sentence);
        all.put("next", next);
        all.putAll(json);
        return JsonWriter.write(all);
    }

    /** No home at all: say so in the status's own form. */
    static Status unresolved(String why) {
        Status s = new Status();
        s.verdict = Verdict.BLOCKED;
        s.sentence = why;
        s.next = "export FM_HOME=<the home that holds fm-watch.java>  # then run " + STATUS + " again";
        s.json.put("watcher", null);
        s.json.put("tasks", null);
        s.json.put("queue", null);
        s.json.put("cycles", List.of());
        s.json.put("gaps", null);
        return s;
    }

    // ------------------------------------------------------------------ the look

    static Status of(FmHome home, Knobs knobs) {
        Status s = new Status();
        s.arm = knobs.armCommand();
        s.drain = knobs.drainCommand();
        s.look(home, knobs);
        return s;
    }

    private void look(FmHome home, Knobs knobs) {
        long now = System.currentTimeMillis();
        String unusable = unusableState(home.state);
        if (unusable != null) {
            verdict = Verdict.BLOCKED;
            sentence = "the state directory " + home.state + " is unusable (" + unusable + ")";
            next = "ls -ld " + sh(home.state) + "  # fix it (or set FM_STATE_OVERRIDE), then run " + STATUS + " again";
            facts.add("state: " + home.state + ": " + unusable);
            json.put("watcher", null);
            json.put("tasks", null);
            json.put("queue", null);
            json.put("cycles", List.of());
            json.put("gaps", null);
            return;
        }
        boolean stateExists = Files.isDirectory(home.state);
        Health h = settled(home, knobs);
        int tasks = tasks(home.state);
        String lockTrouble = lockTrouble(home, h);

        // The lock and the beacon.
        facts.add("lock: " + describeLock(home, h));
        Optional<Duration> beacon = h.beaconAge();
        facts.add("beacon: " + beacon.map(a -> StateFiles.secs(a) + "s old").orElse("none")
                + " (fresh under " + secs(knobs.guardGrace()) + "s, wedged from " + secs(knobs.watcherStaleGrace()) + "s)");
        facts.add("tasks: " + tasks + " in flight");
        json.put("watcher", watcherJson(home, h, knobs));
        json.put("tasks", tasks);

        // The queue: anything pending is to be drained first.
        PendingWakes q = PendingWakes.of(home);
        facts.add("queue: " + q.describe());
        json.put("queue", q.json());

        List<Map<String, Object>> blind = blind(home);
        if (!blind.isEmpty()) {
            List<String> parts = new ArrayList<>();
            for (Map<String, Object> b : blind) parts.add(b.get("window") + " (" + b.get("failures") + " failed captures in a row)");
            facts.add("blind: " + String.join(", ", parts));
        }
        json.put("blind", blind);
        // Checks the watcher refuses to run (strict modes): one line each, with its fix.
        List<Map<String, Object>> refusedJson = new ArrayList<>();
        if (knobs.checkStrict()) {
            for (CheckTrust.Refusal r : CheckTrust.refusals(home.state)) {
                facts.add("refused: " + r.check() + ": " + r.reason() + "; fix: " + r.fix());
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("check", r.check().toString());
                m.put("file", r.file().toString());
                m.put("reason", r.reason());
                m.put("fix", r.fix());
                refusedJson.add(m);
            }
        }
        json.put("refusedChecks", refusedJson);

        // The ledger: the last cycles and the gaps between them.
        Ledger.Read read = Ledger.read(home.state);
        Optional<Instant> beat = Optional.ofNullable(StateFiles.mtime(home.beacon()));
        List<Ledger.Cycle> cycles = Ledger.cycles(read.entries(), now, beat);
        boolean liveNow = h.state() == Health.State.HEALTHY || h.state() == Health.State.SLOW
                || h.state() == Health.State.WEDGED;
        long from = now - WINDOW.toMillis();
        Ledger.Gaps gaps = Ledger.gaps(cycles, from, now, liveNow);
        List<Map<String, Object>> shown = new ArrayList<>();
        for (Ledger.Cycle c : cycles.subList(Math.max(0, cycles.size() - SHOWN_CYCLES), cycles.size())) {
            facts.add("cycle: " + describe(c));
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("start", iso(c.started()));
            m.put("pid", c.pid());
            m.put("via", c.via());
            m.put("end", c.how());
            m.put("until", iso(c.until()));
            m.put("seconds", (c.until() - c.started()) / 1000);
            shown.add(m);
        }
        json.put("cycles", shown);
        facts.add("gaps: " + describe(gaps, from, cycles.isEmpty()));
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("since", cycles.isEmpty() ? null : iso(gaps.since()));
        g.put("count", gaps.count());
        g.put("totalSeconds", gaps.totalMs() / 1000);
        g.put("longestSeconds", gaps.longestMs() / 1000);
        g.put("currentSeconds", gaps.currentMs() > 0 ? gaps.currentMs() / 1000 : null);
        json.put("gaps", g);
        String ledgerNote = ledgerNote(home, read);
        if (ledgerNote != null) facts.add("ledger: " + ledgerNote);
        Map<String, Object> l = new LinkedHashMap<>();
        l.put("path", home.state.resolve(Ledger.NAME).toString());
        l.put("records", read.entries().size());
        l.put("unreadableLines", read.unreadable());
        l.put("problem", read.problem());
        json.put("ledger", l);

        judge(home, knobs, h, tasks, lockTrouble, stateExists);
        queued = q.pending() != 0;
        if (queued) next = drain + "  # the queue is the lossless record: drain and handle it first";
        if (next == null && !refusedJson.isEmpty()) {
            next = refusedJson.get(0).get("fix") + "  # the watcher refuses to run " + refusedJson.get(0).get("check")
                    + " until it is fixed";
        }
    }

    /** The verdict, its sentence and its next step, from the facts gathered. */
    private void judge(FmHome home, Knobs knobs, Health h, int tasks, String lockTrouble, boolean stateExists) {
        String inFlight = tasks + " task(s) in flight";
        String lock = sh(home.watchLock());
        if (lockTrouble != null) {
            verdict = Verdict.BLOCKED;
            sentence = lockTrouble + "; " + inFlight;
            next = "ls -la " + lock + "  # nothing removes it automatically; move it aside by hand only if no firstmate"
                    + " tool is using it, then run " + arm;
            return;
        }
        long pid = h.pid().orElse(-1);
        String age = h.beaconAge().map(a -> StateFiles.secs(a) + "s").orElse("missing");
        String itsBeacon = h.beaconAge().map(a -> "its beacon is " + StateFiles.secs(a) + "s old").orElse("it has no beacon");
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
                next = STATUS + "  # again in " + left + "s: if the beacon is still not fresh, " + arm
                        + " then replaces the wedged watcher";
            }
            case WEDGED -> {
                verdict = Verdict.WEDGED;
                sentence = "this home's watcher pid " + pid + " is alive but " + itsBeacon + " (stale from "
                        + secs(knobs.watcherStaleGrace()) + "s); " + inFlight;
                next = arm + "  # replaces only this home's wedged watcher; run it as the harness-tracked background task";
            }
            case FOREIGN -> {
                verdict = Verdict.BLOCKED;
                sentence = "pid " + pid + " holds the watcher lock but is not provably this home's watcher ("
                        + whyForeign(home, h) + "); " + inFlight;
                next = Identity.fromAnotherPidNamespace(h.lock().identity())
                        ? "cat " + lock + "/pid-identity  # its holder runs in another pid namespace (another container"
                                + " sharing this home?): look there, and remove the lock by hand only if that container is gone;"
                                + " pid " + pid + " here is another process, never kill it"
                        : "ls -la " + lock + "/ && tr '\\0' ' ' < /proc/" + pid + "/cmdline  # find out what pid " + pid
                                + " is; never kill it: if it is not this home's firstmate watcher, ask the person";
            }
            case ABSENT, DEAD -> {
                String why = h.state() == Health.State.ABSENT ? "no lock"
                        : h.pid().isPresent() ? "the lock names pid " + pid + ", which is "
                                + (FmProc.alive(pid) ? "now another process" : "dead")
                        : "a lock with no readable pid";
                if (tasks == 0) {
                    verdict = Verdict.IDLE;
                    sentence = stateExists ? "no task in flight and no live watcher (" + why + "); nothing to supervise"
                            : "no state directory yet (" + home.state + "); nothing to supervise";
                } else {
                    verdict = Verdict.DOWN;
                    sentence = inFlight + " and no live watcher (" + why + "; last beat "
                            + h.beaconAge().map(a -> StateFiles.secs(a) + "s ago").orElse("never") + ")";
                    next = arm + "  # as the harness-tracked background task, never a shell &";
                }
            }
        }
    }

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
            return reason(e);
        }
        if (!a.isDirectory()) return "not a directory";
        try (DirectoryStream<Path> d = Files.newDirectoryStream(state)) {
            d.iterator().hasNext();
        } catch (IOException | RuntimeException e) {
            return "cannot list it: " + reason(e);
        }
        if (!Files.isWritable(state)) return "not writable, so no watcher can take its lock or beat";
        return null;
    }

    private static int tasks(Path state) {
        try {
            return Guard.countTasks(state);
        } catch (IOException e) {
            return 0; // listed a moment ago; gone since
        }
    }

    // ------------------------------------------------------------------ the lock

    private static String describeLock(FmHome home, Health h) {
        FmLock.Snapshot s = h.lock();
        if (s.form() == FmLock.Form.ABSENT) return "none";
        if (s.form() == FmLock.Form.OTHER) return home.watchLock() + " is not a lock";
        if (h.pid().isEmpty()) return "no readable pid" + lockAge(s);
        long pid = h.pid().getAsLong();
        StringBuilder b = new StringBuilder("pid " + pid + " " + liveness(s, pid));
        b.append(", fm-home ").append(match(home.home.toString(), home.watchLock().resolve("fm-home")));
        b.append(", watcher-path ").append(match(home.watcherPath.toString(), home.watchLock().resolve("watcher-path")));
        b.append(", identity ").append(identity(s, pid));
        b.append("; written by ").append(writer(s));
        return b.toString();
    }

    private static String lockAge(FmLock.Snapshot s) {
        if (s.lockTime() == null) return "";
        return " (lock " + StateFiles.secs(Duration.between(s.lockTime(), Instant.now()).abs()) + "s old)";
    }

    private static String liveness(FmLock.Snapshot s, long pid) {
        if (Identity.fromAnotherPidNamespace(s.identity())) return "(in another pid namespace: not visible from here)";
        return switch (s.holder()) {
            case DEAD -> "(dead)";
            case OTHER -> "(alive, but a later process that reused the pid)";
            case SAME, UNKNOWN -> "(alive)";
        };
    }

    private static String match(String expected, Path file) {
        String v = StateFiles.firstLine(file);
        if (v == null) return "missing";
        return expected.equals(v) ? "matches" : "differs (" + v + ")";
    }

    private static String identity(FmLock.Snapshot s, long pid) {
        if (s.identity() == null) return "missing";
        if (Identity.fromAnotherPidNamespace(s.identity())) return "written in another pid namespace";
        return switch (Identity.of(pid, s.identity())) {
            case SAME -> "matches";
            case OTHER -> "differs";
            case DEAD, UNKNOWN -> "unverifiable";
        };
    }

    private static String writer(FmLock.Snapshot s) {
        if (s.identity() == null) return "unknown (no pid-identity)";
        return Identity.ours(s.identity()) ? "the Java tools" : "another implementation (the bash tools?)";
    }

    private static String whyForeign(FmHome home, Health h) {
        List<String> why = new ArrayList<>();
        String m = match(home.home.toString(), home.watchLock().resolve("fm-home"));
        if (!m.equals("matches")) why.add("fm-home " + m);
        String w = match(home.watcherPath.toString(), home.watchLock().resolve("watcher-path"));
        if (!w.equals("matches")) why.add("watcher-path " + w);
        if (why.isEmpty()) why.add("identity " + identity(h.lock(), h.pid().getAsLong()));
        return String.join(", ", why);
    }

    private static Map<String, Object> watcherJson(FmHome home, Health h, Knobs knobs) {
        FmLock.Snapshot s = h.lock();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("state", h.state().name());
        m.put("lock", s.form().name().toLowerCase());
        m.put("pid", h.pid().isPresent() ? (Object) h.pid().getAsLong() : null);
        m.put("alive", h.pid().isPresent() && s.holderAlive());
        m.put("fmHome", field(home.home.toString(), home.watchLock().resolve("fm-home")));
        m.put("watcherPath", field(home.watcherPath.toString(), home.watchLock().resolve("watcher-path")));
        m.put("identity", h.pid().isPresent() ? identity(s, h.pid().getAsLong()) : s.identity() == null ? "missing" : "unverifiable");
        m.put("writtenBy", s.identity() == null ? "unknown" : Identity.ours(s.identity()) ? "java" : "other");
        m.put("beaconAgeSeconds", h.beaconAge().map(StateFiles::secs).orElse(null));
        m.put("guardGraceSeconds", knobs.guardGrace().toMillis() / 1000.0);
        m.put("staleGraceSeconds", knobs.watcherStaleGrace().toMillis() / 1000.0);
        return m;
    }

    private static String field(String expected, Path file) {
        String v = StateFiles.firstLine(file);
        return v == null ? "missing" : expected.equals(v) ? "matches" : "differs";
    }

    // ------------------------------------------------------------------ blind windows

    /** Windows of tasks in flight whose captures are failing right now (their .blind-<key> count). */
    private static List<Map<String, Object>> blind(FmHome home) {
        List<Map<String, Object>> out = new ArrayList<>();
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
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("window", window);
            m.put("failures", Long.parseLong(count.strip()));
            out.add(m);
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

    private static String iso(long epochMs) {
        return Instant.ofEpochSecond(Math.floorDiv(epochMs, 1000)).toString();
    }

    private static String secs(Duration d) {
        if (d.toNanos() % 1_000_000_000L == 0) return Long.toString(d.getSeconds());
        return java.math.BigDecimal.valueOf(d.toNanos(), 9).stripTrailingZeros().toPlainString();
    }

    /** A path as one shell word. */
    static String sh(Path p) {
        String s = p.toString();
        return s.matches("[A-Za-z0-9_./:@%+=,-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }

    static String reason(Exception e) {
        if (e instanceof AccessDeniedException) return "permission denied";
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) return f.getReason();
        return e.getMessage() != null ? e.getMessage().replaceAll("[\\r\\n]+", " ") : e.getClass().getSimpleName();
    }
}
