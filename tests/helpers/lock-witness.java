//usr/bin/env true; exec "$(dirname "$0")/../../jbang" "$0" "$@"
//JAVA 17+
//SOURCES ../../lib/FmLock.java Witness.java
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData
//MAIN LockWitness

import java.nio.file.Path;
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
 * The critical section's rules are Witness.java's, which LockRaceTest's in-JVM threads share.
 */
class LockWitness {
    public static void main(String[] args) throws Exception {
        Path lock = Path.of(args[0]);
        Path witness = Path.of(args[1]);
        long until = System.nanoTime() + (long) (Double.parseDouble(args[2]) * 1e9);
        int haltPerMille = Integer.parseInt(args[3]);
        Witness w = new Witness(witness, "p", LockWitness::violation);
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long attempts = 0, wins = 0, reclaimed = 0;
        while (System.nanoTime() < until) {
            attempts++;
            FmLock.Attempt a = FmLock.tryAcquire(lock);
            if (a.acquired()) {
                wins++;
                try (FmLock.Held held = a.held().get()) {
                    if (w.enter()) reclaimed++;
                    if (random.nextInt(1000) < haltPerMille) {
                        System.out.println("attempts=" + attempts + " wins=" + wins + " reclaimed=" + reclaimed + " halting");
                        System.out.flush();
                        Runtime.getRuntime().halt(99);
                    }
                    Thread.sleep(random.nextInt(3));
                    w.leave();
                }
            }
            Thread.sleep(random.nextInt(3));
        }
        System.out.println("attempts=" + attempts + " wins=" + wins + " reclaimed=" + reclaimed);
    }

    static void violation(String what) {
        System.out.println("VIOLATION: " + what);
        System.out.flush();
        Runtime.getRuntime().halt(3);
    }
}
