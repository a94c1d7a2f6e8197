//SOURCES ../../lib/FmProc.java

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * The critical section of the lock contention test (LockRaceTest), entered only by a holder of
 * the lock: lock-witness.java's processes and LockRaceTest's own threads keep the same rules
 * through this one class, so a violation means the same thing on both sides.
 *
 * The witness is a symbolic link made by createSymbolicLink, an exclusive create exactly like
 * CREATE_NEW that also writes the owner's name ("<pid>:<start millis>:<tag>") in the same atomic
 * step, so a holder killed at any instant leaves a witness that names it, never an empty one.
 *   enter: create it. If it exists, read the owner it names. An owner still running (same pid
 *          and same start instant, so a reused pid is not mistaken for it) means two holders:
 *          violation. An owner that is gone died inside, and the lock was rightly reclaimed from
 *          it: remove its leftover and create ours; failing that second create means someone
 *          else entered meanwhile: violation.
 *   leave: the witness must still name us (else someone entered while we were inside:
 *          violation); then delete it, and only then may the lock be released.
 */
final class Witness {
    private final Path path;
    private final String me;
    private final Consumer<String> violation;

    /** A contender of this process, told apart from its others by {@code tag}; each violation goes to {@code violation}. */
    Witness(Path path, String tag, Consumer<String> violation) {
        long pid = ProcessHandle.current().pid();
        this.path = path;
        this.me = pid + ":" + startMillis(pid) + ":" + tag;
        this.violation = violation;
    }

    /** Enters the critical section; true when a dead holder's leftover had to be cleared first. */
    boolean enter() throws IOException {
        try {
            Files.createSymbolicLink(path, Path.of(me));
            return false;
        } catch (FileAlreadyExistsException e) {
            String other = owner(path);
            if (other.isEmpty() || running(other)) violation.accept(me + " entered while " + other + " was inside");
            Files.deleteIfExists(path);
            try {
                Files.createSymbolicLink(path, Path.of(me));
            } catch (FileAlreadyExistsException again) {
                violation.accept("someone entered while " + me + " cleared " + other + "'s leftover");
            }
            return true;
        }
    }

    void leave() throws IOException {
        String now = owner(path);
        if (!now.equals(me)) violation.accept(me + " leaving, the witness names '" + now + "'");
        Files.deleteIfExists(path);
    }

    /** The owner the witness names, empty when nobody is inside. */
    static String owner(Path path) throws IOException {
        try {
            return Files.readSymbolicLink(path).toString();
        } catch (NoSuchFileException e) {
            return "";
        }
    }

    /** The pid of the owner inside, or -1 when nobody is. */
    static long ownerPid(Path path) {
        try {
            return Long.parseLong(owner(path).split(":")[0]);
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    private static boolean running(String owner) {
        String[] f = owner.split(":");
        long pid = Long.parseLong(f[0]);
        return ProcessHandle.of(pid).isPresent() && Long.toString(startMillis(pid)).equals(f[1]);
    }

    private static long startMillis(long pid) {
        return FmProc.startOf(pid).map(java.time.Instant::toEpochMilli).orElse(-1L);
    }
}
