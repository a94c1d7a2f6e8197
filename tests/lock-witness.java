//usr/bin/env true; exec "$(dirname "$0")/../jbang" "$0" "$@"
//JAVA 17+
//SOURCES ../lib/FmLock.java
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData
//MAIN LockWitness

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Test helper for LockRaceTest's contention test: one contender process.
 *   lock-witness.java <lock> <witness> <seconds> <halt-per-mille>
 * Loops for <seconds>: try the lock once (FM_LOCK_STALE_AFTER applies); when won, enter the
 * critical section by creating <witness>, stay a moment, leave it, release. With probability
 * <halt-per-mille>/1000 per win it dies while holding (Runtime.halt, exit 99), as a crashed
 * holder would: no release, witness left behind.
 * Prints "attempts=N wins=N reclaimed=N" (also just before halting) and exits 0;
 * prints "VIOLATION: ..." and exits 3 when it catches two holders at once.
 *
 * The witness: a symbolic link created with createSymbolicLink, which is an exclusive create
 * exactly like CREATE_NEW but writes the owner's name ("<pid>:<start millis>:<tag>") in the same
 * atomic step, so a holder killed at any instant leaves a witness that names it, never an empty
 * one. LockRaceTest's in-JVM threads use the same rules (its Witness class).
 *   enter: create it. If it exists, read the owner it names. An owner that is still running
 *          (same pid and same start instant, so a reused pid is not mistaken for it) means two
 *          holders: violation. An owner that is gone died inside the critical section, and the
 *          lock was legitimately reclaimed from it: remove its leftover and create ours; failing
 *          that second create means someone else entered meanwhile: violation.
 *   leave: the witness must still name us (else someone entered while we were inside:
 *          violation); then delete it, and only then release the lock.
 */
class LockWitness {
    public static void main(String[] args) throws Exception {
        Path lock = Path.of(args[0]);
        Path witness = Path.of(args[1]);
        long until = System.nanoTime() + (long) (Double.parseDouble(args[2]) * 1e9);
        int haltPerMille = Integer.parseInt(args[3]);
        String me = ProcessHandle.current().pid() + ":" + startMillis(ProcessHandle.current().pid()) + ":p";
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long attempts = 0, wins = 0, reclaimed = 0;
        while (System.nanoTime() < until) {
            attempts++;
            FmLock.Attempt a = FmLock.tryAcquire(lock);
            if (a.acquired()) {
                wins++;
                try (FmLock.Held held = a.held().get()) {
                    if (enter(witness, me)) reclaimed++;
                    if (random.nextInt(1000) < haltPerMille) {
                        System.out.println("attempts=" + attempts + " wins=" + wins + " reclaimed=" + reclaimed + " halting");
                        System.out.flush();
                        Runtime.getRuntime().halt(99);
                    }
                    Thread.sleep(random.nextInt(3));
                    leave(witness, me);
                }
            }
            Thread.sleep(random.nextInt(3));
        }
        System.out.println("attempts=" + attempts + " wins=" + wins + " reclaimed=" + reclaimed);
    }

    /** Enters the critical section; true when it had to clear a dead holder's leftover. */
    static boolean enter(Path witness, String me) throws IOException {
        try {
            Files.createSymbolicLink(witness, Path.of(me));
            return false;
        } catch (FileAlreadyExistsException e) {
            String other = owner(witness).orElse("");
            if (other.isEmpty() || running(other)) violation("entered while " + other + " was inside");
            Files.deleteIfExists(witness);
            try {
                Files.createSymbolicLink(witness, Path.of(me));
            } catch (FileAlreadyExistsException again) {
                violation("someone entered while I cleared dead " + other + "'s leftover");
            }
            return true;
        }
    }

    static void leave(Path witness, String me) throws IOException {
        String now = owner(witness).orElse("");
        if (!now.equals(me)) violation("leaving, the witness names '" + now + "', not me");
        Files.delete(witness);
    }

    static Optional<String> owner(Path witness) throws IOException {
        try {
            return Optional.of(Files.readSymbolicLink(witness).toString());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    /** A witness owner is running when a process with its pid exists and started when it did. */
    static boolean running(String owner) {
        String[] f = owner.split(":");
        long pid = Long.parseLong(f[0]);
        return ProcessHandle.of(pid).isPresent() && Long.toString(startMillis(pid)).equals(f[1]);
    }

    static long startMillis(long pid) {
        return FmProc.startOf(pid).map(java.time.Instant::toEpochMilli).orElse(-1L);
    }

    static void violation(String what) {
        System.out.println("VIOLATION: " + what);
        System.out.flush();
        Runtime.getRuntime().halt(3);
    }
}
