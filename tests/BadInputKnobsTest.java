import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every knob of docs/overview.md (and our FM_QUEUE_LOCK_WAIT) set to garbage ("abc"), a negative
 * number ("-3") and zero ("0"), one knob at a time, the others sane. Knobs.java's one rule:
 * a value that is not a usable number falls back to the default and is reported once, on
 * stderr, as {@code fm: ignoring FM_X='v' (why); using D}, by the command that reads it, when
 * it reads it. Zero is a valid value wherever the minimum is 0.
 *
 * Each knob runs through the command that reads it (fm-watch.java with the heartbeat overdue,
 * so it must wake at once; fm-guard.java with a task in flight and a fresh beacon; the arm;
 * the arm with --attach; a watcher refused by a live holder), its three values side by side.
 * The commands that do not read a knob get all such knobs bad at once and must not notice.
 */
class BadInputKnobsTest {
    private static final String BUSY_DEFAULT = "esc (to )?interrupt|Working\\.\\.\\.";

    /** Who reads a knob in the scenarios below. */
    enum Reader { WATCHER, GUARD, REFUSED_WATCHER, ARM, ATTACHED_ARM }

    /** A knob, the reason and default its fallback line names, and whether 0 is valid. */
    record Knob(String name, String why, String dflt, boolean zeroValid, Reader reader, List<String> values) {
        @Override
        public String toString() { return name; }
    }

    private static final List<String> VALUES = List.of("abc", "-3", "0");

    static Stream<Knob> knobs() {
        String seconds = "not a number >= 0";
        return Stream.of(
                new Knob("FM_POLL", seconds, "15", true, Reader.WATCHER, VALUES),
                new Knob("FM_SIGNAL_GRACE", seconds, "30", true, Reader.WATCHER, VALUES),
                new Knob("FM_CHECK_INTERVAL", seconds, "300", true, Reader.WATCHER, VALUES),
                new Knob("FM_CHECK_TIMEOUT", seconds, "30", true, Reader.WATCHER, VALUES),
                new Knob("FM_HEARTBEAT", seconds, "600", true, Reader.WATCHER, VALUES),
                new Knob("FM_HEARTBEAT_MAX", seconds, "7200", true, Reader.WATCHER, VALUES),
                new Knob("FM_BUSY_REGEX", "not a valid regular expression", BUSY_DEFAULT, true, Reader.WATCHER,
                        List.of("abc", "-3", "0", "(")),
                new Knob("FM_LOCK_STALE_AFTER", seconds, "2", true, Reader.WATCHER, VALUES),
                new Knob("FM_GUARD_GRACE", seconds, "300", true, Reader.GUARD, VALUES),
                new Knob("FM_WATCHER_STALE_GRACE", seconds, "300", true, Reader.REFUSED_WATCHER, VALUES),
                new Knob("FM_ARM_CONFIRM_TIMEOUT", seconds, "10", true, Reader.ARM, VALUES),
                new Knob("FM_ARM_ATTACH_POLL", "not a number >= 0.01", "0.5", false, Reader.ATTACHED_ARM, VALUES),
                new Knob("FM_BEACON_MAX_AGE", "not a number >= 0.1", "10", false, Reader.WATCHER, VALUES),
                new Knob("FM_PANE_CYCLE_MEMORY", "not a whole number >= 1", "4", false, Reader.WATCHER, VALUES),
                new Knob("FM_BLIND_CAPTURE_POLLS", "not a whole number >= 1", "3", false, Reader.WATCHER, VALUES),
                new Knob("FM_QUEUE_LOCK_WAIT", seconds, "120", true, Reader.WATCHER, VALUES));
    }

    @AutoClose private final TestKit kit = new TestKit();

    /** Each knob through the command that reads it: one line for a bad value, the default used. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("knobs")
    void aBadKnobNeverCrashesAndIsReportedOnceByItsReader(Knob knob) throws Exception {
        List<Run> runs = new ArrayList<>();
        for (String value : knob.values()) {
            Started s = switch (knob.reader()) {
                case WATCHER -> watcher(knob, value);
                case GUARD -> guard(knob, value);
                case REFUSED_WATCHER -> refusedWatcher(knob, value);
                case ARM -> arm(knob, value);
                case ATTACHED_ARM -> attachedArm(knob, value);
            };
            runs.add(new Run(value, s));
        }
        for (Run run : runs) run.check(knob);
    }

    /**
     * The watcher and the guard with every knob they do not read set to the bad value at once:
     * they neither complain nor change course (a knob is judged where it is used).
     */
    @ParameterizedTest(name = "every other knob = {0}")
    @ValueSource(strings = {"abc", "-3", "0"})
    void knobsACommandDoesNotReadLeaveItAlone(String value) throws Exception {
        TestKit.Home w = BadInputTest.heartbeatDue(BadInputTest.home(kit));
        TestKit.Home g = BadInputTest.home(kit);
        g.write("t.meta", "window=fleet:t\n");
        g.write(".last-watcher-beat", "");
        for (Knob k : knobs().toList()) {
            if (k.reader() != Reader.WATCHER) w.env.put(k.name(), value);
            if (k.reader() != Reader.GUARD) g.env.put(k.name(), value);
        }
        Process watcher = w.start("fm-watch.java");
        Process guard = g.start("fm-guard.java");
        TestKit.Result rw = TestKit.finish(watcher, BadInputTest.LIMIT);
        TestKit.Result rg = TestKit.finish(guard, BadInputTest.LIMIT);
        assertEquals(new TestKit.Result(0, "heartbeat\n", ""), rw);
        assertEquals(new TestKit.Result(0, "", ""), rg);
    }

    // ------------------------------------------------------------------ the scenarios

    /** A started command, run by the knob's reader with {@code value}, and what it must print. */
    private record Run(String value, Started started) {
        void check(Knob knob) throws Exception {
            Reader who = knob.reader();
            TestKit.Result r = started.lines() == null ? TestKit.finish(started.process(), BadInputTest.LIMIT)
                    : attachFinish(started);
            String where = knob.name() + "='" + value + "' in " + who + ": exit " + r.exit() + "\nstdout:\n" + r.stdout()
                    + "\nstderr:\n" + r.stderr();
            BadInputTest.assertClean(r.stderr());
            List<String> complaints = r.stderr().lines().filter(l -> l.startsWith("fm: ignoring ")).toList();
            List<String> others = r.stderr().lines().filter(l -> !l.startsWith("fm: ignoring ")).toList();
            assertEquals(expectedComplaint(knob, value).map(List::of).orElse(List.of()), complaints, where);
            boolean zeroApplies = value.equals("0") && knob.zeroValid();
            switch (who) {
                case WATCHER -> {
                    assertEquals("heartbeat\n", r.stdout(), where);
                    assertEquals(0, r.exit(), where);
                    assertEquals(List.of(), others, where);
                }
                case GUARD -> {
                    assertEquals("", r.stdout(), where);
                    assertEquals(0, r.exit(), where);
                    // FM_GUARD_GRACE=0: no beacon is ever fresh, so the guard always warns.
                    if (zeroApplies) {
                        assertTrue(others.size() == 6 && others.get(1).contains("WATCHER DOWN")
                                && others.get(2).endsWith("grace 0s)."), where);
                    } else {
                        assertEquals(List.of(), others, where);
                    }
                }
                case REFUSED_WATCHER -> {
                    long holder = started.peer();
                    if (zeroApplies) {
                        // FM_WATCHER_STALE_GRACE=0: any live holder's beacon counts as stale.
                        assertEquals("", r.stdout(), where);
                        assertEquals(1, r.exit(), where);
                        assertEquals(1, others.size(), where);
                        assertTrue(others.get(0).matches("watcher: lock held by live pid " + holder + " but heartbeat is"
                                + " stale for \\d+s \\(>0s\\); inspect or stop that watcher before re-arming\\."), where);
                    } else {
                        assertEquals("watcher: already running pid " + holder + "\n", r.stdout(), where);
                        assertEquals(0, r.exit(), where);
                        assertEquals(List.of(), others, where);
                    }
                }
                case ARM -> {
                    assertTrue(r.stdout().matches("watcher: started pid=" + started.process().pid() + " \\(beacon fresh(; no task in flight)?\\)\nheartbeat\n"),
                            where + ": " + r.stdout());
                    assertEquals(0, r.exit(), where);
                    assertEquals(List.of(), others, where);
                }
                case ATTACHED_ARM -> {
                    assertTrue(r.stdout().matches("watcher: attached pid=" + started.peer() + " \\(beacon \\d+s\\)\n"), where);
                    assertEquals(0, r.exit(), where);
                    assertEquals(List.of(), others, where);
                }
            }
        }
    }

    /** The attached arm: its first line, then the peer's wake, then its exit. */
    private static TestKit.Result attachFinish(Started s) throws Exception {
        s.lines().next(BadInputTest.LIMIT);
        Files.writeString(s.endsPeer(), "done\n");
        int exit = s.lines().exit(BadInputTest.LIMIT);
        StringBuilder out = new StringBuilder();
        for (String l : s.lines().all(Duration.ofSeconds(10))) out.append(l).append('\n');
        return new TestKit.Result(exit, out.toString(), s.lines().err());
    }

    /**
     * A process under test and, for the scenarios that need them, the peer it faces, its stdout
     * read line by line, and the status file that ends the peer's cycle.
     */
    record Started(Process process, long peer, TestKit.Lines lines, Path endsPeer) {
        Started(Process process, long peer) { this(process, peer, null, null); }
    }

    private static Optional<String> expectedComplaint(Knob knob, String value) {
        boolean usable = knob.name().equals("FM_BUSY_REGEX") ? !value.equals("(") : value.equals("0") && knob.zeroValid();
        if (usable) return Optional.empty();
        return Optional.of("fm: ignoring " + knob.name() + "='" + value + "' (" + knob.why() + "); using " + knob.dflt());
    }

    private TestKit.Home home(Knob knob, String value) throws IOException {
        TestKit.Home h = BadInputTest.home(kit);
        h.env.put(knob.name(), value);
        return h;
    }

    /** The heartbeat is overdue even for the default interval, so any sane cycle wakes at once. */
    private Started watcher(Knob knob, String value) throws IOException {
        TestKit.Home h = BadInputTest.heartbeatDue(BadInputTest.home(kit));
        if (!knob.name().equals("FM_HEARTBEAT")) h.env.put("FM_HEARTBEAT", "0.3");
        h.env.put(knob.name(), value);
        return new Started(h.start("fm-watch.java"), -1);
    }

    /** A task in flight and a fresh beacon: silent unless the grace itself says otherwise. */
    private Started guard(Knob knob, String value) throws IOException {
        TestKit.Home h = home(knob, value);
        h.write("t.meta", "window=fleet:t\n");
        h.write(".last-watcher-beat", "");
        return new Started(h.start("fm-guard.java"), -1);
    }

    /** A live process holds the lock and the beacon is fresh: the watcher weighs the stale grace. */
    private Started refusedWatcher(Knob knob, String value) throws Exception {
        TestKit.Home h = home(knob, value);
        Process holder = kit.sleeper();
        assertTrue(TestKit.waitFor(Duration.ofSeconds(10), () -> FmProc.startOf(holder.pid()).isPresent()));
        BadInputTest.lockDir(h.state, (holder.pid() + "\n").getBytes(), java.time.Instant.now());
        h.write(".last-watcher-beat", "");
        return new Started(h.start("fm-watch.java"), holder.pid());
    }

    private Started arm(Knob knob, String value) throws IOException {
        TestKit.Home h = BadInputTest.heartbeatDue(home(knob, value));
        return new Started(h.start("fm-watch-arm.java"), -1);
    }

    /**
     * A healthy watcher (a sane arm) first; the arm under test attaches to it. Once it says so,
     * a status write ends that watcher's cycle, and the attached arm must follow it out.
     */
    private Started attachedArm(Knob knob, String value) throws Exception {
        TestKit.Home h = BadInputTest.home(kit);
        TestKit.Lines first = new TestKit.Lines(h.start("fm-watch-arm.java"));
        String started = first.next(BadInputTest.LIMIT);
        assertTrue(started.startsWith("watcher: started pid="), started);
        h.env.put(knob.name(), value);
        TestKit.Lines attached = new TestKit.Lines(h.start("fm-watch-arm.java", "--attach"));
        return new Started(attached.process, first.process.pid(), attached, h.state.resolve("t.status"));
    }
}
