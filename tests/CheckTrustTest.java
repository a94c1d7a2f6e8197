import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Strict modes for check scripts, through the real fm-watch.java with real files,
 * modes and owners: a check others could have written is not run, is no wake, queues
 * nothing, and is named on stderr in one line once per (file, owner, mode), across sweeps
 * and across watcher cycles; once fixed it runs on the next sweep.
 *
 * Every home sweeps on every poll (FM_CHECK_INTERVAL=0); sweeps are counted by distinct
 * mtimes of .last-check, which each sweep touches. A refused check would touch its
 * {@code .ran} file (outside STATE) and print "ran", which is a wake.
 */
class CheckTrustTest {
    static final Duration LIMIT = Duration.ofSeconds(90);
    /** Sweeps each refused state must survive without the line coming back. */
    static final int SWEEPS = 5;

    @AutoClose private final TestKit kit = new TestKit();
    private Rig rig;

    @BeforeEach
    void setUp() throws IOException {
        rig = new Rig(kit);
    }

    // ------------------------------------------------------------------ scripts

    /** 0666, then (a new mode, so a new line) 0777; `chmod go-w` lets it run. */
    @Test
    void aWorldWritableCheckIsRefusedOnceThenRunsAfterChmod() throws Exception {
        Path check = rig.writableCheckRefused(0666);

        Cycle second = rig.start();
        second.sweeps(SWEEPS);
        rig.mode(check, 0777);
        String again = rig.writable(check, 0777);
        second.sweeps(SWEEPS);
        rig.assertNoCheckRan();
        rig.mode(check, 0755); // chmod go-w
        second.wakesWithCheck(check, again);
    }

    @Test
    void aGroupWritableCheckIsRefused() throws Exception {
        Path check = rig.writableCheckRefused(0664);
        rig.secondCycleRunsAfter(check, () -> rig.mode(check, 0644));
    }

    /** As root, "root or the watcher's user" is one user: only a third owner tests the rule. */
    @Test
    void aCheckOwnedByAnotherUserIsRefusedEvenAt0755() throws Exception {
        assumeTrue(isRoot(), "changing a file's owner needs root");
        Path check = rig.check(rig.state, "a.check.sh");
        rig.mode(check, 0755);
        rig.chown(check, "nobody", false);

        rig.firstCycle(rig.line(check, "it is not owned by you (uid 0) or root", check, 0755,
                "read it, then chown root " + check + ", or remove it"));
        rig.secondCycleRunsAfter(check, () -> rig.chown(check, "root", false));
    }

    // ------------------------------------------------------------------ links

    @Test
    void aLinkToAWorldWritableFileIsRefusedAndNamesTheTarget() throws Exception {
        Path elsewhere = kit.tempDir("fm-target");
        Path target = rig.check(elsewhere, "real.sh");
        rig.mode(target, 0666);
        Path link = Files.createSymbolicLink(rig.state.resolve("a.check.sh"), target);

        rig.firstCycle(rig.line(link, "its target " + target + " is writable by group or others", target, 0666,
                "chmod go-w " + target));
        rig.secondCycleRunsAfter(link, target, () -> rig.mode(target, 0644));
    }

    /**
     * The target is fine (0644, root) but sits in a directory anyone may write: anyone could
     * replace it. The directory rule applies to it as to the state directory; +t fixes it.
     */
    @Test
    void aLinkIntoADirectoryOthersMayWriteIsRefusedUntilSticky() throws Exception {
        Path open = kit.tempDir("fm-open");
        Path target = rig.check(open, "real.sh");
        rig.mode(open, 0777);
        Path link = Files.createSymbolicLink(rig.state.resolve("a.check.sh"), rig.state.relativize(target));

        rig.firstCycle(rig.line(link, "directory " + open + " is writable by group or others without the sticky bit",
                open, 0777, "chmod +t " + open + ", or chmod go-w " + open));
        rig.secondCycleRunsAfter(link, target, () -> rig.mode(open, 01777));
    }

    /** A link someone else made may point at any script of ours; the link's owner counts. */
    @Test
    void aLinkOwnedByAnotherUserIsRefusedEvenToAGoodScript() throws Exception {
        assumeTrue(isRoot(), "changing a link's owner needs root");
        Path target = rig.check(kit.tempDir("fm-target"), "real.sh");
        Path link = Files.createSymbolicLink(rig.state.resolve("a.check.sh"), target);
        rig.chown(link, "nobody", true);

        rig.firstCycle(rig.line(link, "link " + link + " is not owned by you (uid 0) or root", link, 0777,
                "chown -h root " + link + ", or remove it"));
        rig.secondCycleRunsAfter(link, target, () -> rig.chown(link, "root", true));
    }

    // ------------------------------------------------------------------ the state directory

    /** 0777 without the sticky bit: every check is refused in one line; +t fixes it. */
    @Test
    void aStateDirectoryOthersMayWriteRefusesEveryCheckUntilSticky() throws Exception {
        Path check = rig.check(rig.state, "a.check.sh");
        rig.mode(rig.state, 0777);
        rig.firstCycle(rig.everyCheckRefused(rig.state, 0777));
        assertEquals(0, rig.countLines(), "the good check ran although its directory is refused");
        rig.secondCycleRunsAfter(check, () -> rig.mode(rig.state, 01777));
        assertTrue(rig.countLines() > 0, "the good check did not run once the directory was sticky");
    }

    /**
     * Who can rename a directory above STATE can swap STATE between the verdict and bash, so
     * the walk checks every directory from "/" down, as OpenSSH does; here the home is 0777.
     */
    @Test
    void aDirectoryAboveStateThatOthersMayWriteRefusesEveryCheck() throws Exception {
        Path check = rig.check(rig.state, "a.check.sh");
        rig.mode(rig.home, 0777);
        rig.firstCycle(rig.everyCheckRefused(rig.home, 0777));
        rig.secondCycleRunsAfter(check, () -> rig.mode(rig.home, 0755));
    }

    /** 1777 (as /tmp): others may add files but not replace ours, so our checks run, silently. */
    @Test
    void aStickyStateDirectoryOthersMayWriteRunsOurChecks() throws Exception {
        Path check = rig.check(rig.state, "a.check.sh");
        rig.mode(rig.state, 01777);

        TestKit.Result r = rig.start().finish();

        assertEquals("check: " + check + ": ran\n", r.stdout(), r.stderr());
        assertEquals("", r.stderr());
    }

    // ------------------------------------------------------------------ the marker

    /**
     * In a state directory others may add files to (1777), another user could plant the
     * marker to silence us, or a link there to make us write elsewhere. A marker that is not
     * ours is neither believed nor written, and a link is never followed.
     */
    @Test
    void aMarkerSomeoneElsePlantedNeitherSilencesUsNorIsWrittenThrough() throws Exception {
        assumeTrue(isRoot(), "changing a file's owner needs root");
        Path check = rig.check(rig.state, "a.check.sh");
        rig.mode(check, 0666);
        rig.mode(rig.state, 01777);
        String line = rig.writable(check, 0666);
        Path marker = rig.state.resolve(".check-refusals");

        rig.firstCycle(line);
        String remembered = Files.readString(marker);
        rig.chown(marker, "nobody", false); // the same words, now in someone else's file
        rig.firstCycle(line);
        assertEquals(remembered, Files.readString(marker));
        assertEquals("nobody", Files.getOwner(marker).getName());

        Path victim = Files.writeString(rig.home.resolve("victim"), "mine\n");
        Files.delete(marker);
        Files.createSymbolicLink(marker, victim);
        rig.chown(marker, "nobody", true);
        rig.firstCycle(line);
        assertEquals("mine\n", Files.readString(victim));
        assertTrue(Files.isSymbolicLink(marker));
    }

    // ------------------------------------------------------------------ the knob

    @Test
    void strictZeroRunsAWorldWritableCheck() throws Exception {
        Path check = rig.check(rig.state, "a.check.sh");
        rig.mode(check, 0666);
        rig.env.put("FM_CHECK_STRICT", "0");

        TestKit.Result r = rig.start().finish();

        assertEquals("check: " + check + ": ran\n", r.stdout(), r.stderr());
        assertEquals("", r.stderr());
        assertTrue(Files.exists(rig.ran(check)));
    }

    /** "off" looks like an intent to turn it off: it stays on, and the knob note says so once. */
    @Test
    void aGarbageStrictValueKeepsTheVerificationOnWithOneNote() throws Exception {
        Path check = rig.check(rig.state, "a.check.sh");
        rig.mode(check, 0666);
        rig.env.put("FM_CHECK_STRICT", "off");

        rig.firstCycle("fm: ignoring FM_CHECK_STRICT='off' (not 0 or 1); using 1",
                rig.writable(check, 0666));
    }

    // ------------------------------------------------------------------ the API fm-status uses

    @Test
    void refusalsListsWhatTheWatcherWouldRefuseWithFileReasonAndFix() throws Exception {
        Path good = rig.check(rig.state, "a.check.sh");
        Path bad = rig.check(rig.state, "b.check.sh");
        rig.mode(bad, 0646);
        assertNotNull(good);

        List<CheckTrust.Refusal> refused = CheckTrust.refusals(rig.state);

        assertEquals(1, refused.size(), refused.toString());
        CheckTrust.Refusal r = refused.get(0);
        assertEquals(bad, r.check());
        assertEquals(bad, r.file());
        assertEquals("it is writable by group or others (" + rig.facts(bad, 0646) + ")", r.reason());
        assertEquals("chmod go-w " + bad, r.fix());
        assertFalse(r.everyCheck());
        rig.mode(bad, 0644);
        assertEquals(List.of(), CheckTrust.refusals(rig.state));
        assertEquals(List.of(), CheckTrust.refusals(rig.home.resolve("no-such-state")));
    }

    // ------------------------------------------------------------------ plumbing

    static boolean isRoot() throws IOException {
        return "root".equals(Files.getOwner(Path.of("/proc/self")).getName());
    }

    interface Step { void run() throws IOException; }

    /**
     * This class's helpers over one {@link TestKit.Home} whose watcher sweeps every poll, has a
     * good check that counts sweeps, and never wakes by itself.
     */
    static final class Rig {
        final TestKit.Home fixture;
        final Path home;
        final Path state;
        final Path count;
        final Map<String, String> env;
        private int ends;

        Rig(TestKit kit) throws IOException {
            fixture = kit.home("fm-trust", Map.of("FM_POLL", "0.1", "FM_CHECK_INTERVAL", "0", "FM_SIGNAL_GRACE", "0.2",
                    "FM_HEARTBEAT", "3600", "FM_HEARTBEAT_MAX", "7200", "PATH", "/usr/local/bin:/usr/bin:/bin"));
            home = fixture.home;
            state = fixture.state;
            env = fixture.env;
            count = home.resolve("count");
            // A trusted check that prints nothing: it shows the other checks still run.
            fixture.write("0-good.check.sh", "echo x >> '" + count + "'\n");
        }

        /** A check that leaves a trace outside STATE and wakes with "ran" if it ever runs. */
        Path check(Path dir, String name) throws IOException {
            Path p = dir.resolve(name);
            Files.writeString(p, "touch '" + ran(p) + "'\necho ran\n");
            mode(p, 0755);
            return p;
        }

        Path ran(Path check) { return home.resolve(check.getFileName() + ".ran"); }

        void mode(Path p, int mode) throws IOException { Files.setAttribute(p, "unix:mode", mode); }

        void chown(Path p, String user, boolean link) throws IOException {
            UserPrincipal who = p.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(user);
            LinkOption[] how = link ? new LinkOption[] {LinkOption.NOFOLLOW_LINKS} : new LinkOption[0];
            Files.getFileAttributeView(p, PosixFileAttributeView.class, how).setOwner(who);
        }

        /** "owner <name> uid <n>, mode <mmmm>" as the file is now (its mode as the test expects it). */
        String facts(Path p, int mode) throws IOException {
            Map<String, Object> a = Files.readAttributes(p, "unix:uid,owner,mode", LinkOption.NOFOLLOW_LINKS);
            assertEquals(mode, (Integer) a.get("mode") & 07777, "the test set another mode on " + p);
            return "owner " + a.get("owner") + " uid " + a.get("uid") + ", mode " + String.format("%04o", mode);
        }

        /** A check in STATE at {@code mode}, which group or others may write: the first cycle refuses it. */
        Path writableCheckRefused(int mode) throws Exception {
            Path check = check(state, "a.check.sh");
            mode(check, mode);
            firstCycle(writable(check, mode));
            return check;
        }

        /** The refusal of {@code check}, at {@code mode}, as writable by group or others. */
        String writable(Path check, int mode) throws IOException {
            return line(check, "it is writable by group or others", check, mode, "chmod go-w " + check);
        }

        String line(Path check, String problem, Path file, int mode, String fix) throws IOException {
            return "watcher: refusing check " + check + ": " + problem + " (" + facts(file, mode) + "); fix: " + fix;
        }

        /** The line refusing every check because {@code dir}, at {@code mode}, is writable by others and not sticky. */
        String everyCheckRefused(Path dir, int mode) throws IOException {
            return "watcher: refusing every check in " + state + ": directory " + dir + " is writable by group or others"
                    + " without the sticky bit (" + facts(dir, mode) + "); fix: chmod +t " + dir + ", or chmod go-w " + dir;
        }

        Cycle start() throws IOException {
            return new Cycle(this, fixture.start("fm-watch.java"));
        }

        /**
         * A cycle with the refusal in place: several sweeps, nothing run, nothing queued, then
         * a signal ends it; stderr is exactly {@code lines}, each once.
         */
        void firstCycle(String... lines) throws Exception {
            Cycle c = start();
            c.sweeps(SWEEPS);
            TestKit.Result r = c.endWithSignal();
            assertEquals(String.join("\n", lines) + "\n", r.stderr());
            assertNoCheckRan();
            for (List<String> rec : fixture.records()) assertEquals("signal", rec.get(1), "a refused check was queued: " + rec);
        }

        /**
         * A fresh cycle does not repeat what the first said (the marker remembers), then runs
         * the check on the sweep after {@code fix}.
         */
        void secondCycleRunsAfter(Path check, Step fix) throws Exception {
            secondCycleRunsAfter(check, check, fix);
        }

        void secondCycleRunsAfter(Path check, Path script, Step fix) throws Exception {
            Cycle c = start();
            c.sweeps(SWEEPS);
            assertNoCheckRan();
            fix.run();
            c.wakesWithCheck(check, script);
            assertFalse(Files.exists(state.resolve(".check-refusals")), "nothing is refused, yet the marker remembers");
        }

        void assertNoCheckRan() throws IOException {
            try (var s = Files.list(home)) {
                assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".ran")).toList(),
                        "a refused check ran");
            }
        }

        int countLines() throws IOException {
            return Files.exists(count) ? Files.readAllLines(count).size() : 0;
        }

    }

    /** One running watcher cycle, its output collected as it comes. */
    static final class Cycle {
        final Rig rig;
        final Process process;
        private final StringBuilder out = new StringBuilder();
        private final StringBuilder err = new StringBuilder();
        private final Set<FileTime> seen = new HashSet<>();
        private final Thread outPump;
        private final Thread errPump;

        Cycle(Rig rig, Process process) {
            this.rig = rig;
            this.process = process;
            outPump = TestKit.pump(process.getInputStream(), out);
            errPump = TestKit.pump(process.getErrorStream(), err);
        }

        /** Waits until {@code n} more sweeps are seen (distinct .last-check mtimes) while the watcher runs. */
        void sweeps(int n) {
            int target = seen.size() + n;
            Path last = rig.state.resolve(".last-check");
            boolean ok = TestKit.waitFor(LIMIT, () -> {
                try {
                    seen.add(Files.getLastModifiedTime(last));
                } catch (IOException e) {
                    // no sweep yet
                }
                return seen.size() >= target || !process.isAlive();
            });
            assertTrue(process.isAlive(), "the watcher exited: " + stdout() + " / " + stderr());
            assertTrue(ok, "only " + seen.size() + " sweeps within " + LIMIT);
        }

        TestKit.Result endWithSignal() throws Exception {
            // A file of its own per end: "end 1" then "end 2" in one second would share a signature.
            Path status = Files.writeString(rig.state.resolve("end-" + (++rig.ends) + ".status"), "end\n");
            TestKit.Result r = finish();
            assertEquals(0, r.exit(), r.stderr());
            assertEquals("signal: " + status + "\n", r.stdout(), r.stderr());
            return r;
        }

        /** The fixed check runs on the next sweep: its wake, its trace, its record; stderr exactly {@code lines}. */
        void wakesWithCheck(Path check, Path script, String... lines) throws Exception {
            TestKit.Result r = finish();
            assertEquals(0, r.exit(), r.stderr());
            assertEquals("check: " + check + ": ran\n", r.stdout(), r.stderr());
            assertEquals(lines.length == 0 ? "" : String.join("\n", lines) + "\n", r.stderr());
            assertTrue(Files.exists(rig.ran(script)), "the fixed check did not run");
            List<List<String>> q = rig.fixture.records();
            assertEquals(List.of("check", check.toString(), "check: " + check + ": ran"), q.get(q.size() - 1).subList(1, 4));
        }

        void wakesWithCheck(Path check, String... lines) throws Exception {
            wakesWithCheck(check, check, lines);
        }

        TestKit.Result finish() throws InterruptedException {
            if (!process.waitFor(LIMIT.toMillis(), TimeUnit.MILLISECONDS)) {
                fail("the watcher did not wake within " + LIMIT + ": " + stdout() + " / " + stderr());
            }
            // The pumps end at end of stream; nothing of the watcher's holds its pipes after it exits.
            outPump.join(LIMIT.toMillis());
            errPump.join(LIMIT.toMillis());
            assertFalse(outPump.isAlive() || errPump.isAlive(), "the watcher's output never ended");
            return new TestKit.Result(process.exitValue(), stdout(), stderr());
        }

        private String stdout() { synchronized (out) { return out.toString(); } }
        private String stderr() { synchronized (err) { return err.toString(); } }
    }
}
