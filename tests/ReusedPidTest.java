import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A recorded identity that does not name the live process under the lock's pid (an unparsable
 * line included) means the pid was reused: the lock is stale, the process is never signalled,
 * and the arm (with or without --restart) starts a fresh watcher. The lock here is made as the
 * bash tools make it, by a shell: mkdir, then each metadata file with echo, after the process
 * under its pid started, so the pid file's time says nothing against that process.
 */
class ReusedPidTest {
    private static final Duration LIMIT = Duration.ofSeconds(60);
    @AutoClose private final TestKit kit = new TestKit();
    private final TestKit.Home fixture = kit.home("fm-reused", TestKit.QUIET, "FM_ARM_CONFIRM_TIMEOUT", "3");
    private final Path home = fixture.home;
    private final Path lock = fixture.state.resolve(".watch.lock");

    /** A live {@code sleep 300} that will stand under the lock's pid. */
    private Process live() throws Exception {
        Process p = kit.start(List.of("sleep", "300"), Map.of(), null);
        assertTrue(TestKit.waitFor(LIMIT, () -> FmProc.startTicks(p.pid()).isPresent()));
        return p;
    }

    /** The bash tools' way: a directory lock, its files written with echo; identity as given (null: none). */
    private void bashLock(long pid, String watcherPath, String identity) throws Exception {
        String script = "mkdir \"$1\" && echo \"$2\" > \"$1/pid\" && echo \"$3\" > \"$1/fm-home\""
                + " && echo \"$4\" > \"$1/watcher-path\"" + (identity == null ? "" : " && echo \"$5\" > \"$1/pid-identity\"");
        TestKit.Result r = kit.run(List.of("sh", "-c", script, "sh", lock.toString(), Long.toString(pid), home.toString(),
                watcherPath, identity == null ? "" : identity), Map.of(), null, LIMIT);
        assertEquals(0, r.exit(), r.stderr());
    }

    private String watcherPath(String which) throws IOException {
        return which.equals("bash") ? home.resolve("bin/fm-watch.sh").toString()
                : TestKit.root().resolve("fm-watch.java").toRealPath().toString();
    }

    /**
     * Upstream's restart-rejects-reused-pid scenario, with the watcher path of this home's bash
     * watcher (as upstream writes it) and of ours.
     */
    @ParameterizedTest
    @ValueSource(strings = {"bash", "java"})
    void restartReplacesALockWhoseIdentityNamesAnotherProcess(String which) throws Exception {
        Process sleeper = live();
        bashLock(sleeper.pid(), watcherPath(which), "stale watcher identity");
        TestKit.Lines arm = new TestKit.Lines(kit.start(TestKit.command("fm-watch-arm.java", "--restart"), fixture.env(), home));
        String line = arm.next(LIMIT);
        assertEquals("watcher: started pid=" + arm.process.pid() + " (beacon fresh; no task in flight)", line, arm.err.toString());
        assertTrue(sleeper.isAlive(), "the process under a reused pid was signalled");
        assertEquals(OptionalLong.of(arm.process.pid()), FmLock.holderPid(lock));
        assertEquals("", arm.err.toString());
    }

    /** A plain arm reclaims the same lock through the lock's own rule: nobody needs --restart. */
    @Test
    void aPlainArmReclaimsItToo() throws Exception {
        Process sleeper = live();
        bashLock(sleeper.pid(), watcherPath("bash"), "stale watcher identity");
        TestKit.Lines arm = new TestKit.Lines(kit.start(TestKit.command("fm-watch-arm.java"), fixture.env(), home));
        assertEquals("watcher: started pid=" + arm.process.pid() + " (beacon fresh; no task in flight)", arm.next(LIMIT), arm.err.toString());
        assertTrue(sleeper.isAlive());
    }

    /** The lock alone agrees: a contender reclaims it, whatever the stale threshold. */
    @Test
    void theLockReclaimsItFromALiveProcessThatDidNotWriteIt() throws Exception {
        Process sleeper = live();
        bashLock(sleeper.pid(), watcherPath("bash"), "stale watcher identity");
        TestKit.Result r = kit.run(TestKit.command("FmLock.java", "try-acquire", lock.toString()),
                Map.of("FM_LOCK_STALE_AFTER", "3600"), null, LIMIT);
        assertTrue(r.stdout().startsWith("acquired pid="), r.stdout() + r.stderr());
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(sleeper.isAlive());
    }

    /**
     * The rows that prove nothing keep the live holder: no identity yet, an empty file (its
     * writer between truncating and writing), a line of ours cut short. Neither --restart nor a
     * contender touches it, and the arm fails with one reason line naming the pid.
     */
    @ParameterizedTest
    @ValueSource(strings = {"<none>", "", "fm-java-2 pid=", "fm-ja"})
    void anUnprovenHolderIsLeftAlone(String identity) throws Exception {
        Process sleeper = live();
        bashLock(sleeper.pid(), watcherPath("java"), identity.equals("<none>") ? null : identity);
        TestKit.Result r = kit.run(TestKit.command("fm-watch-arm.java", "--restart"), fixture.env(), home, LIMIT);
        assertEquals("watcher: FAILED - no live watcher with a fresh beacon\n", r.stdout(), r.stderr());
        List<String> err = r.stderr().lines().toList();
        assertEquals(1, err.size(), r.stderr());
        assertTrue(err.get(0).contains("pid " + sleeper.pid()), err.get(0));
        TestKit.Result rival = kit.run(TestKit.command("FmLock.java", "try-acquire", lock.toString()),
                Map.of("FM_LOCK_STALE_AFTER", "0"), null, LIMIT);
        assertEquals("held pid=" + sleeper.pid() + "\n", rival.stdout(), rival.stderr());
        assertTrue(sleeper.isAlive());
        assertEquals(OptionalLong.of(sleeper.pid()), FmLock.holderPid(lock));
    }
}
