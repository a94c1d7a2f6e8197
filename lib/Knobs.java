import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The environment knobs of docs/overview.md, read once per use.
 *
 * One rule for every knob: a value that is not a usable number (garbage, negative, or
 * below the knob's minimum) falls back to the default and is reported once per process
 * on stderr as {@code fm: ignoring FM_X='v' (...); using D}. A watcher never dies of a
 * bad knob, and nothing is refused half-way through touching state.
 */
final class Knobs {
    private final Map<String, String> env;
    // Which knobs this process already complained about: a JVM-wide fact, guarded by itself.
    private static final Set<String> REPORTED = new HashSet<>();

    Knobs(Map<String, String> env) { this.env = env; }

    static Knobs fromEnvironment() { return new Knobs(System.getenv()); }

    String raw(String name) {
        String v = env.get(name);
        return v == null || v.isEmpty() ? null : v;
    }

    /** Seconds with fractions, as a shell {@code sleep} takes them; must be at least {@code min}. */
    Duration seconds(String name, double dflt, double min) {
        String v = raw(name);
        if (v == null) return toDuration(dflt);
        try {
            String t = v.trim();
            if (!t.matches("[0-9]*\\.?[0-9]+|[0-9]+\\.")) throw new NumberFormatException();
            double d = Double.parseDouble(t);
            if (d < min || d > 1e9) throw new NumberFormatException();
            return toDuration(d);
        } catch (NumberFormatException e) {
            complain(name, v, "not a number >= " + fmt(min), fmt(dflt));
            return toDuration(dflt);
        }
    }

    long integer(String name, long dflt, long min) {
        String v = raw(name);
        if (v == null) return dflt;
        String t = v.trim();
        try {
            if (!t.matches("[0-9]{1,9}")) throw new NumberFormatException();
            long n = Long.parseLong(t);
            if (n < min) throw new NumberFormatException();
            return n;
        } catch (NumberFormatException e) {
            complain(name, v, "not a whole number >= " + min, Long.toString(dflt));
            return dflt;
        }
    }

    Pattern regex(String name, String dflt) {
        String v = raw(name);
        if (v != null) {
            try {
                return Pattern.compile(v, Pattern.CASE_INSENSITIVE);
            } catch (PatternSyntaxException e) {
                complain(name, v, "not a valid regular expression", dflt);
            }
        }
        return Pattern.compile(dflt, Pattern.CASE_INSENSITIVE);
    }

    // --- the knobs of docs/overview.md, with their defaults ---
    Duration poll()              { return seconds("FM_POLL", 15, 0); }
    Duration signalGrace()       { return seconds("FM_SIGNAL_GRACE", 30, 0); }
    Duration checkInterval()     { return seconds("FM_CHECK_INTERVAL", 300, 0); }
    Duration checkTimeout()      { return seconds("FM_CHECK_TIMEOUT", 30, 0); }
    Duration heartbeat()         { return seconds("FM_HEARTBEAT", 600, 0); }
    Duration heartbeatMax()      { return seconds("FM_HEARTBEAT_MAX", 7200, 0); }
    Pattern busyRegex()          { return regex("FM_BUSY_REGEX", "esc (to )?interrupt|Working\\.\\.\\."); }
    Duration lockStaleAfter()    { return seconds("FM_LOCK_STALE_AFTER", 2, 0); }
    Duration guardGrace()        { return seconds("FM_GUARD_GRACE", 300, 0); }
    Duration watcherStaleGrace() {
        return raw("FM_WATCHER_STALE_GRACE") == null ? guardGrace()
                : seconds("FM_WATCHER_STALE_GRACE", guardGrace().toMillis() / 1000.0, 0);
    }
    Duration armConfirmTimeout() { return seconds("FM_ARM_CONFIRM_TIMEOUT", 10, 0); }
    Duration armAttachPoll()     { return seconds("FM_ARM_ATTACH_POLL", 0.5, 0.01); }
    Duration beaconMaxAge()      { return seconds("FM_BEACON_MAX_AGE", 10, 0.1); }
    int paneCycleMemory()        { return (int) integer("FM_PANE_CYCLE_MEMORY", 4, 1); }
    int blindCapturePolls()      { return (int) integer("FM_BLIND_CAPTURE_POLLS", 3, 1); }
    boolean debug()              { return "1".equals(raw("FM_DEBUG")); }

    /**
     * FM_CHECK_STRICT: only 0 turns the check verification off. Turning a safety off must be
     * deliberate, so any other value keeps it on; a value other than 1 (say "off" or "false",
     * which look like an intent to turn it off) gets the usual one-line note.
     */
    boolean checkStrict() {
        String v = raw("FM_CHECK_STRICT");
        if (v == null) return true;
        String t = v.trim();
        if (t.equals("0")) return false;
        if (!t.equals("1")) complain("FM_CHECK_STRICT", v, "not 0 or 1", "1");
        return true;
    }

    // --- ours: what advice lines call the commands, and the bash watcher of a home ---
    /** How advice lines name the arm; an adopted home's shims set {@code bin/fm-watch-arm.sh}; null: the checkout's (Advice). */
    String armCommand()          { return text("FM_ARM_COMMAND", null); }
    /** How advice lines name the drain; an adopted home's shims set {@code bin/fm-wake-drain.sh}; null: the checkout's (Advice). */
    String drainCommand()        { return text("FM_DRAIN_COMMAND", null); }
    /** The bash watcher script that counts as this home's watcher; null: {@code <FM_HOME>/bin/fm-watch.sh}. */
    String bashWatcher()         { return raw("FM_BASH_WATCHER"); }

    /** A free-text knob printed inside one line: control characters would break it, so they become '?'. */
    String text(String name, String dflt) {
        String v = raw(name);
        return v == null ? dflt : v.replaceAll("\\p{Cntrl}", "?");
    }

    private static void complain(String name, String value, String why, String dflt) {
        synchronized (REPORTED) {
            if (!REPORTED.add(name)) return;
        }
        String shown = value.length() > 40 ? value.substring(0, 40) + "..." : value;
        System.err.println("fm: ignoring " + name + "='" + shown.replaceAll("\\p{Cntrl}", "?")
                + "' (" + why + "); using " + dflt);
    }

    private static Duration toDuration(double s) { return Duration.ofNanos(Math.round(s * 1e9)); }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}
