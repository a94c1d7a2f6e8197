//SOURCES FmLock.java FmHome.java Health.java Identity.java Knobs.java StateFiles.java

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How fm-status describes the watcher lock it found: the holder and whether it lives, the lock's
 * fm-home and watcher-path against this home and checkout, the identity, and who wrote it. Only
 * reads; the verdict itself is Health's and Status's.
 */
final class LockView {
    private LockView() {}

    /** The lock line: its holder, liveness, metadata against this home and checkout, and who wrote it. */
    static String describe(FmHome home, Health h) {
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

    /** Why a live holder is not provably this home's watcher: the metadata that differs, else its identity. */
    static String whyForeign(FmHome home, Health h) {
        List<String> why = new ArrayList<>();
        String m = match(home.home.toString(), home.watchLock().resolve("fm-home"));
        if (!m.equals("matches")) why.add("fm-home " + m);
        String w = match(home.watcherPath.toString(), home.watchLock().resolve("watcher-path"));
        if (!w.equals("matches")) why.add("watcher-path " + w);
        if (why.isEmpty()) why.add("identity " + identity(h.lock(), h.pid().getAsLong()));
        return String.join(", ", why);
    }

    /** fm-status --json's "watcher" object. */
    static Map<String, Object> json(FmHome home, Health h, Knobs knobs) {
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
}
