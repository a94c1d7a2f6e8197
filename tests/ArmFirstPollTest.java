import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * docs/arm-guard.md: "If the watcher wakes before it could be confirmed ... the arm prints that line
 * and exits 0". FM_GUARD_GRACE=0 makes confirmation impossible (no beacon is ever fresh), so the
 * arm holds the lock, cannot confirm, and must still run the cycle's first poll.
 */
class ArmFirstPollTest {
    @AutoClose private final TestKit kit = new TestKit();
    /** No beacon is ever fresh enough to confirm (see above). */
    private final TestKit.Home fixture = kit.home("fm-arm-first", TestKit.QUIET, "FM_GUARD_GRACE", "0",
            "FM_ARM_CONFIRM_TIMEOUT", "2");
    private final Path state = fixture.state;

    @Test
    void aWakeInTheFirstPollWinsOverConfirmation() throws Exception {
        Path check = Files.writeString(state.resolve("merge.check.sh"), "echo merged\n");
        TestKit.Result r = kit.run(TestKit.command("fm-watch-arm.java"), fixture.env(), fixture.home, Duration.ofSeconds(120));
        assertEquals(new TestKit.Result(0, "check: " + check + ": merged\n", ""), r);
        assertEquals(List.of("check\t" + check + "\tcheck: " + check + ": merged"), queue());
        assertFalse(Files.exists(state.resolve(".watch.lock"), LinkOption.NOFOLLOW_LINKS), "the lock is released");
        assertTrue(ledger().get(ledger().size() - 1).endsWith(" how=wake:check"), ledger().toString());
    }

    @Test
    void aSignalWaitingAtStartIsReportedToo() throws Exception {
        Path status = Files.writeString(state.resolve("t1.status"), "done: x\n");
        TestKit.Result r = kit.run(TestKit.command("fm-watch-arm.java"), fixture.env(), fixture.home, Duration.ofSeconds(120));
        assertEquals(new TestKit.Result(0, "signal: " + status + "\n", ""), r);
    }

    @Test
    void anEmptyFirstPollIsStillFailed() throws Exception {
        TestKit.Result r = kit.run(TestKit.command("fm-watch-arm.java"), fixture.env(), fixture.home, Duration.ofSeconds(120));
        assertEquals(1, r.exit(), r.stderr());
        assertEquals("watcher: FAILED - no live watcher with a fresh beacon\n", r.stdout());
        List<String> err = r.stderr().lines().toList();
        assertEquals(1, err.size(), r.stderr());
        assertTrue(err.get(0).matches("watcher: started pid=\\d+ but could not confirm it \\(state WEDGED\\) and its first"
                + " poll found no wake; check FM_GUARD_GRACE and the state directory"), err.get(0));
        assertFalse(Files.exists(state.resolve(".watch.lock"), LinkOption.NOFOLLOW_LINKS), "the lock is released");
        assertTrue(Files.exists(state.resolve(".last-check")), "the first poll ran its check sweep");
        assertEquals(List.of(), queue());
        assertTrue(ledger().get(ledger().size() - 1).endsWith(" how=unconfirmed"), ledger().toString());
    }

    private List<String> queue() throws IOException {
        Path q = state.resolve(".wake-queue");
        if (!Files.exists(q)) return List.of();
        return Files.readAllLines(q).stream().map(l -> l.split("\t", 3)[2]).toList();
    }

    private List<String> ledger() throws IOException {
        return Files.readAllLines(state.resolve(Ledger.NAME));
    }
}
