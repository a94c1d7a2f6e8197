import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * The bash tools' pid-identity line, as ps itself writes it, judged against live
 * processes: proven the same, proven different (a recycled pid), or nothing.
 */
class BashIdentityTest {
    private static final Duration LIMIT = Duration.ofSeconds(30);
    @AutoClose private final TestKit kit = new TestKit();

    /** What the bash tools record: {@code ps -p <pid> -o lstart= -o command=}, leading blanks removed. */
    private String psLine(long pid, Map<String, String> env) throws IOException {
        Map<String, String> e = new HashMap<>(env);
        TestKit.Result r = kit.run(List.of("ps", "-p", Long.toString(pid), "-o", "lstart=", "-o", "command="), e, null, LIMIT);
        assertEquals(0, r.exit(), "ps failed: " + r.stderr());
        String line = r.stdout().replaceFirst("^[ \t]+", "");
        assertTrue(line.endsWith("\n"), line);
        return line.substring(0, line.length() - 1);
    }

    private String psLine(long pid) throws IOException {
        return psLine(pid, Map.of("LC_ALL", "C"));
    }

    private Process started(String... cmd) throws IOException {
        Process p = kit.start(List.of(cmd), Map.of(), null);
        assertTrue(TestKit.waitFor(LIMIT, () -> BashIdentity.commandLine(p.pid()).map(c -> c.startsWith(cmd[0])).orElse(false)),
                "never saw the exec of " + String.join(" ", cmd));
        return p;
    }

    @Test
    void aLineWrittenByPsProvesThatLiveProcess() throws Exception {
        Process p = started("sleep", "3601");
        String line = psLine(p.pid());
        assertTrue(line.endsWith(" sleep 3601"), line);
        assertEquals(Optional.of(true), BashIdentity.matches(line, p.pid()));
        // The lock and the arm ask the one identity verdict: the bash format reaches it there.
        assertEquals(Identity.Verdict.SAME, Identity.of(p.pid(), line));
        // Under a UTF-8 locale ps writes the same line, and it proves the same.
        assertEquals(Optional.of(true), BashIdentity.matches(psLine(p.pid(), Map.of("LC_ALL", "C.UTF-8")), p.pid()));
    }

    @Test
    void argumentsPsEscapesStillProveTheProcess() throws Exception {
        // A tab, a newline and non-ASCII letters: ps prints them as '?', a space, or '??' per byte.
        Process p = started("sh", "-c", "sleep 3600", "h\u00e9me\tx", "a\nb");
        for (String locale : List.of("C", "C.UTF-8")) {
            String line = psLine(p.pid(), Map.of("LC_ALL", locale));
            assertEquals(Optional.of(true), BashIdentity.matches(line, p.pid()), locale + ": " + line);
        }
    }

    @Test
    void aLineOfAnotherProcessProvesTheLiveOneIsNotIt() throws Exception {
        // The line names no pid: checking A's line against B's pid is exactly what a lock sees
        // when A died and the system gave its pid to B.
        Process a = started("sleep", "3602");
        Process b = started("sh", "-c", "sleep 3603");
        assertEquals(Optional.of(false), BashIdentity.matches(psLine(a.pid()), b.pid()));
        assertEquals(Identity.Verdict.OTHER, Identity.of(a.pid(), psLine(b.pid())));
        // Even a line whose start is B's own, to the second, is condemned by its command line.
        String bStart = psLine(b.pid()).substring(0, 24);
        assertEquals(Optional.of(false), BashIdentity.matches(bStart + " sleep 3602", b.pid()));
    }

    @Test
    void theSameCommandLineWithAnotherStartProvesNothing() throws Exception {
        // What a wall-clock step looks like: the command line agrees, the computed start does not.
        Process a = started("sleep", "3604");
        String line = psLine(a.pid());
        Instant aStart = a.info().startInstant().orElseThrow();
        ZoneId zone = ZoneId.systemDefault();
        // Computed starts lag the real ones by up to a second (the kernel's boot time is whole
        // seconds), so wait until a second before now is already in a later second than a's.
        assertTrue(TestKit.waitFor(Duration.ofSeconds(5), () -> {
            Instant past = Instant.now().minusSeconds(1);
            return past.isAfter(aStart) && !BashIdentity.lstart(past, zone).equals(BashIdentity.lstart(aStart, zone));
        }));
        Process b = started("sleep", "3604");
        assertNotEquals(line.substring(0, 24), psLine(b.pid()).substring(0, 24), "b must start in a later second");
        assertEquals(Optional.empty(), BashIdentity.matches(line, b.pid()));
        assertEquals(Optional.of(true), BashIdentity.matches(line, a.pid()));
    }

    @Test
    void theStartIsReadInTheLocalTimeZoneAsPsWritesIt() throws Exception {
        Process p = started("sleep", "3605");
        // Offsets of whole hours, half hours and a quarter hour, east and west.
        for (String tz : List.of("UTC", "Asia/Kolkata", "America/St_Johns", "Asia/Kathmandu", "Pacific/Honolulu")) {
            String line = psLine(p.pid(), Map.of("LC_ALL", "C", "TZ", tz));
            assertEquals(Optional.of(true), BashIdentity.matches(line, p.pid(), ZoneId.of(tz)), tz + ": " + line);
            // Read in another zone the start differs: that proves nothing (it never condemns).
            String other = tz.equals("UTC") ? "Asia/Kolkata" : "UTC";
            assertEquals(Optional.empty(), BashIdentity.matches(line, p.pid(), ZoneId.of(other)), tz + " read as " + other);
        }
    }

    @Test
    void aLineThatPsCutShortProvesNothing() throws Exception {
        Process p = started("sh", "-c", "sleep 3600", "x".repeat(300));
        String full = psLine(p.pid());
        String cut = psLine(p.pid(), Map.of("LC_ALL", "C", "COLUMNS", "60"));
        assertTrue(cut.length() < full.length() && full.startsWith(cut), cut);
        assertEquals(Optional.of(true), BashIdentity.matches(full, p.pid()));
        assertEquals(Optional.empty(), BashIdentity.matches(cut, p.pid()));
    }

    @Test
    void garbageAndOtherFormatsProveNothing() throws Exception {
        Process p = started("sleep", "3606");
        String real = psLine(p.pid());
        String lstart = real.substring(0, 24);
        for (String line : new String[] {null, "", "garbage", "sleep 3606", lstart, lstart + " ", lstart + "   ",
                "Xyz" + real.substring(3), real.replaceFirst(":", "-"), "fm-java-1 pid=" + p.pid() + " start=1",
                "fm-java-2 pid=" + p.pid() + " boot=x ticks=1", "\0" + real}) {
            assertEquals(Optional.empty(), BashIdentity.matches(line, p.pid()), "line: " + line);
        }
        // Leading blanks (a ps line before the bash tools strip it) are tolerated.
        assertEquals(Optional.of(true), BashIdentity.matches("   " + real, p.pid()));
        // A pid with no process, or no pid at all, proves nothing either.
        Process gone = started("sleep", "3607");
        String goneLine = psLine(gone.pid());
        gone.destroyForcibly().waitFor();
        assertEquals(Optional.empty(), BashIdentity.matches(goneLine, gone.pid()));
        assertEquals(Optional.empty(), BashIdentity.matches(real, 0));
        assertEquals(Optional.empty(), BashIdentity.matches(real, -1));
    }

    @Test
    void theLockReclaimsARecycledBashHolderAndKeepsAProvenOne() throws Exception {
        Path dir = kit.tempDir("fm-bash-id");
        Process holder = started("sleep", "3608");
        Process stranger = started("sh", "-c", "sleep 3609");
        // Directory form, as older bash tools write it, for a live pid; the pid file is written
        // after the process started, so only the identity line can tell.
        Path lock = dir.resolve(".watch.lock");
        Files.createDirectories(lock);
        Files.writeString(lock.resolve("pid"), stranger.pid() + "\n");
        Files.writeString(lock.resolve("pid-identity"), psLine(holder.pid()) + "\n");
        assertFalse(FmLock.Snapshot.of(lock).holderAlive(), "a pid now running another command is not the holder");
        Files.writeString(lock.resolve("pid-identity"), psLine(stranger.pid()) + "\n");
        assertTrue(FmLock.Snapshot.of(lock).holderAlive(), "the line ps wrote for the holder proves it alive");
        assertTrue(FmLock.Snapshot.of(lock).isHeldBy(Duration.ofSeconds(2)));
    }
}
