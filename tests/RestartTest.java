import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * `fm-watch-arm.java --restart` removes a lock only from a holder that is dead, proven another
 * process (a reused pid, docs/lock.md "Identity"), or proven ours and gone after our signal; a
 * live holder it cannot prove either way keeps its lock and the arm says FAILED with one reason
 * line.
 */
class RestartTest {
    private static final Duration LIMIT = Duration.ofSeconds(60);
    @AutoClose private final TestKit kit = new TestKit();
    private final TestKit.Home fixture = kit.home("fm-restart", TestKit.QUIET, "FM_ARM_CONFIRM_TIMEOUT", "3");
    private final Path lock = fixture.state.resolve(".watch.lock");

    /** This home's and this checkout's names, as a watcher writes them right after its lock. */
    private void nameThisHome() throws IOException {
        Files.writeString(lock.resolve("fm-home"), fixture.home + "\n");
        Files.writeString(lock.resolve("watcher-path"), TestKit.root().resolve("fm-watch.java").toRealPath() + "\n");
    }

    @Test
    void restartLeavesALiveHolderWithoutAnIdentityAloneAndFails() throws Exception {
        TestKit.Lines holder = new TestKit.Lines(kit.start(
                TestKit.command("FmLock.java", "try-acquire", lock.toString(), "--hold", "300"), Map.of(), null));
        assertEquals("acquired pid=" + holder.process.pid(), holder.next(LIMIT), holder.err.toString());
        Path owner = Files.readSymbolicLink(lock);
        nameThisHome();
        Files.deleteIfExists(lock.resolve("pid-identity")); // as if it had not written it yet
        TestKit.Result r = kit.run(TestKit.command("fm-watch-arm.java", "--restart"), fixture.env(), fixture.home, LIMIT);
        assertEquals("watcher: FAILED - no live watcher with a fresh beacon\n", r.stdout(), r.stderr());
        assertNotEquals(0, r.exit());
        List<String> err = r.stderr().lines().toList();
        assertEquals(1, err.size(), r.stderr());
        assertTrue(err.get(0).contains("pid " + holder.process.pid()), err.get(0));
        assertTrue(holder.process.isAlive(), "an unproven holder was signalled");
        assertEquals(owner, Files.readSymbolicLink(lock), "an unproven live holder lost its lock");
        assertEquals(OptionalLong.of(holder.process.pid()), FmLock.holderPid(lock));
    }

    /**
     * A Java holder can prove itself from the moment its link exists: frozen right after linking,
     * before anything else, its owner directory already holds its identity, so neither a clock
     * step (its pid file moved back) nor --restart can take its lock.
     */
    @Test
    void aJavaHolderCarriesItsIdentityFromTheMomentItLinks() throws Exception {
        try (Debuggee d = LockRaceTest.fmLock(kit, "try-acquire", lock.toString(), "--hold", "300")) {
            d.stopAt("FmLock", "readLink", 1); // create(): link made, its read-back still to come
            d.go();
            d.awaitStop();
            Path owner = Files.readSymbolicLink(lock);
            assertEquals(FmProc.identity(d.pid()).orElseThrow() + "\n", Files.readString(owner.resolve("pid-identity")));
            Files.setLastModifiedTime(lock.resolve("pid"),
                    FileTime.from(FmProc.startOf(d.pid()).orElseThrow().minusSeconds(10)));
            FmLock.Attempt a = FmLock.tryAcquire(lock, Duration.ZERO);
            a.held().ifPresent(FmLock.Held::close);
            assertFalse(a.acquired(), "a holder frozen after linking was robbed");
            TestKit.Result r = kit.run(TestKit.command("fm-watch-arm.java", "--restart"), fixture.env(), fixture.home, LIMIT);
            assertEquals("watcher: FAILED - no live watcher with a fresh beacon\n", r.stdout(), r.stderr());
            assertEquals(owner, Files.readSymbolicLink(lock));
            d.go();
            d.awaitOutput("acquired pid=" + d.pid());
        }
    }
}
