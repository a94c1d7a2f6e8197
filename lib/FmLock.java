//SOURCES FmProc.java Identity.java Knobs.java StateFiles.java

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The single-winner lock of docs/lock.md, shared with firstmate's bash tools.
 *
 * INVARIANT: at most one acquirer holds a lock at any moment. A holder is whoever created
 * the link {@code <lock> -> <lock>.owner.<random>} and then claimed it; the owner directory,
 * not the pid, is the token, so threads of one JVM are as distinct as processes. Each token
 * holds our pid and identity (FmProc, fm-java-2) before its link exists, so a live holder can
 * always prove itself; a release removes the link under the steal mutex.
 * Every step below that removes something re-reads what it is about to remove first; the
 * races each check defends are named where the check is.
 *
 * Its command line is FmLock.java at the root of the checkout. Knob: FM_LOCK_STALE_AFTER
 * (seconds, floored at 2 for a pid-less lock). Signals: one shutdown hook releases every held
 * lock, after the fenced work under it ends.
 *
 * One file despite its length: the invariant is one, and every check that defends it (each
 * "Race:") must be read beside the steps it guards; a split would scatter the proof.
 */
final class FmLock {
    /** The files a held lock may contain; removal takes exactly these, then the directory. */
    static final List<String> KNOWN_FILES = List.of("pid", "fm-home", "watcher-path", "pid-identity");
    /** A lock with no readable pid is presumed mid-acquire for at least this long. */
    static final Duration MID_ACQUIRE_FLOOR = Duration.ofSeconds(2);
    static final Duration WAIT_STEP = Duration.ofMillis(100);
    /** How long, in all, the shutdown hook waits for fenced work under held locks to end. */
    static final Duration SHUTDOWN_FENCE_WAIT = Duration.ofSeconds(3);

    private static final long MY_PID = ProcessHandle.current().pid();
    /** How long a release waits for the steal mutex before it leaves the link to be reclaimed. */
    static final Duration RELEASE_MUTEX_WAIT = Duration.ofSeconds(5);
    /** Our identity line, recorded in every owner directory before its link exists (computed once). */
    private static volatile String myIdentity;
    /**
     * Every lock this process holds right now: a JVM-wide fact. One shutdown hook releases
     * whatever is still held when TERM, INT or HUP ends the JVM mid-work, so a signal never
     * leaves a watcher or queue lock behind.
     */
    private static final java.util.Set<Held> HELD = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private static final java.util.concurrent.atomic.AtomicBoolean HOOK = new java.util.concurrent.atomic.AtomicBoolean();

    private FmLock() {}

    // ------------------------------------------------------------------ results

    /** The outcome of one attempt: either we hold the lock, or somebody (maybe unknown) does. */
    record Attempt(Optional<Held> held, OptionalLong holder, Optional<String> refusal) {
        static Attempt won(Held h) { return new Attempt(Optional.of(h), OptionalLong.of(MY_PID), Optional.empty()); }
        static Attempt lost(OptionalLong holder) { return new Attempt(Optional.empty(), holder, Optional.empty()); }
        /** The file system will not let us create a lock here at all (permissions, read-only, full). */
        static Attempt refused(String why) { return new Attempt(Optional.empty(), OptionalLong.empty(), Optional.of(why)); }
        boolean acquired() { return held.isPresent(); }
    }

    /** Thrown by {@link #acquireWithin} when the deadline passes. */
    static final class Timeout extends Exception {
        /** True when we gave up waiting on a holder; false when waiting could never have helped. */
        final boolean waited;
        Timeout(Path lock, Duration waited, OptionalLong holder) {
            super("could not take " + lock + " within " + waited.toSeconds() + "s (held by "
                    + (holder.isPresent() ? "pid " + holder.getAsLong() : "an unknown process") + ")");
            this.waited = true;
        }
        Timeout(String message) {
            super(message);
            this.waited = false;
        }
    }

    /** Work done under a lock, inside its fence (see {@link Held#fenced}). */
    interface Section<T> {
        T run() throws IOException;
    }

    /** A fenced section refused to start: the JVM is shutting down and releasing its locks. */
    static final class Closing extends IOException {
        Closing(Path lock) {
            super("stopped by a signal before the work under " + lock + " could start");
        }
    }

    /** A lock we hold. Closing it releases it, and only if it is still ours. */
    static final class Held implements AutoCloseable {
        private final Path lock;
        private final Path owner;
        private boolean released;
        /** Held while a fenced section runs; the shutdown hook takes it before it releases the lock. */
        private final java.util.concurrent.locks.ReentrantLock fence = new java.util.concurrent.locks.ReentrantLock();
        /** Set by the shutdown hook under the fence: from then on no section may start. */
        private volatile boolean closing;

        private Held(Path lock, Path owner) {
            this.lock = lock;
            this.owner = owner;
            if (HOOK.compareAndSet(false, true)) {
                try {
                    Runtime.getRuntime().addShutdownHook(new Thread(FmLock::releaseAtShutdown, "fm-lock-release"));
                } catch (IllegalStateException alreadyExiting) {
                    // Taken during shutdown: whoever took it releases it with try-with-resources.
                }
            }
            // Taken while the JVM shuts down (a drain's put-back hook): the release hook may have
            // passed already, so whoever took it releases it (try-with-resources), or the halt
            // leaves it to be reclaimed from a dead pid.
            if (!shuttingDown()) HELD.add(this);
        }

        /**
         * Runs {@code work} inside this lock's fence. A TERM, INT or HUP ends the JVM through
         * shutdown hooks while this thread keeps running; the fence makes the release wait for
         * the section, so the lock is never released under work that still changes what it
         * guards (race: a drain renaming its copy over a queue a bash appender just wrote to).
         * Throws {@link Closing} once the release has begun.
         */
        <T> T fenced(Section<T> work) throws IOException {
            fence.lock();
            try {
                if (closing) throw new Closing(lock);
                return work.run();
            } finally {
                fence.unlock();
            }
        }

        Path ownerDir() { return owner; }

        /** True while the link still points at our owner directory and it still names our pid. */
        boolean stillHeld() {
            return owner.equals(readLink(lock)) && readPid(owner.resolve("pid")).equals(OptionalLong.of(MY_PID));
        }

        /** Writes one of the known metadata files (one line) into the owner directory. */
        void writeMeta(String name, String value) throws IOException {
            if (!KNOWN_FILES.contains(name) || name.equals("pid")) throw new IllegalArgumentException(name);
            Files.writeString(owner.resolve(name), value.replaceAll("[\\r\\n]", " ") + "\n");
        }

        @Override
        public synchronized void close() {
            if (released) return;
            released = true;
            HELD.remove(this);
            // Only the holder releases: the link must still point at our token and the token
            // must still name us. Race: a stealer that wrongly judged us dead could replace the
            // link between that check and the removal, so the check and the removal happen under
            // the steal mutex every stealer must hold. The mutex itself is released plainly
            // (guarding it would need a mutex of its own, without end).
            if (isStealMutex(lock)) {
                if (stillHeld()) deleteQuietly(lock);
            } else {
                releaseUnderStealMutex();
            }
            if (owner.equals(readLink(lock)) && !stillHeld()) {
                // The link still points at our directory but its pid names someone else: that is
                // now their lock, written through our token; an evicted holder leaves it as found.
                return;
            }
            // Otherwise our owner directory is ours alone; leave nothing behind. (A link we
            // could not remove then dangles, and is reclaimed like any pid-less lock.)
            removeOwnerDir(owner);
        }

        /** Removes our link while holding {@code <lock>.steal}, so no steal can interleave. */
        private void releaseUnderStealMutex() {
            Path stealPath = lock.resolveSibling(lock.getFileName() + ".steal");
            long deadline = System.nanoTime() + RELEASE_MUTEX_WAIT.toNanos();
            while (true) {
                Attempt m = acquireOnce(stealPath, MID_ACQUIRE_FLOOR);
                if (m.acquired()) {
                    try (Held mutex = m.held().get()) {
                        if (mutex.stillHeld() && stillHeld()) deleteQuietly(lock);
                    }
                    return;
                }
                if (!stillHeld()) return; // no longer ours: nothing of ours to remove
                if (m.refusal().isPresent()) {
                    // The directory refuses new entries (full, read-only): no stealer can create
                    // the mutex either, so none can be in our gap; the plain check-and-remove is
                    // safe, and a full disk must not leave every lock to the 2 s reclaim.
                    if (stillHeld()) deleteQuietly(lock);
                    return;
                }
                if (System.nanoTime() >= deadline) {
                    debug("left " + lock + " to be reclaimed: its steal mutex stayed taken");
                    return;
                }
                FmProc.sleepQuietly(10);
            }
        }
    }

    /**
     * The shutdown hook: each held lock is released once no fenced section runs under it, and
     * none may start after. A section still running after {@link #SHUTDOWN_FENCE_WAIT} keeps
     * its lock: the JVM halts with the lock in place and the next acquirer reclaims it from a
     * dead pid, which is safe, where releasing it under running work is not.
     */
    private static void releaseAtShutdown() {
        long deadline = System.nanoTime() + SHUTDOWN_FENCE_WAIT.toNanos();
        for (Held h : HELD) {
            try {
                if (!h.fence.tryLock(Math.max(0, deadline - System.nanoTime()), java.util.concurrent.TimeUnit.NANOSECONDS)) {
                    debug("left " + h.lock + " in place: the work under it did not end in time");
                    continue;
                }
            } catch (InterruptedException e) {
                return;
            }
            try {
                h.closing = true;
                h.close();
            } finally {
                h.fence.unlock();
            }
        }
    }

    /** True once the JVM runs its shutdown hooks: from then on it refuses new ones. */
    private static boolean shuttingDown() {
        Thread probe = new Thread(() -> { }, "fm-lock-probe");
        try {
            Runtime.getRuntime().addShutdownHook(probe);
            Runtime.getRuntime().removeShutdownHook(probe);
            return false;
        } catch (IllegalStateException e) {
            return true; // (if it began between the two calls, the probe runs and does nothing)
        }
    }

    private static boolean isStealMutex(Path lock) {
        return lock.getFileName().toString().endsWith(".steal");
    }

    /** Our identity line, or empty where the system will not give one. */
    private static Optional<String> myIdentity() {
        String id = myIdentity;
        if (id == null) {
            id = FmProc.identity(MY_PID).orElse("");
            myIdentity = id;
        }
        return id.isEmpty() ? Optional.empty() : Optional.of(id);
    }

    // ------------------------------------------------------------------ acquire

    /** One acquire (docs/lock.md "Acquire, once"), with the stale threshold from FM_LOCK_STALE_AFTER. */
    static Attempt tryAcquire(Path lock) {
        return tryAcquire(lock, Knobs.fromEnvironment().lockStaleAfter());
    }

    static Attempt tryAcquire(Path lock, Duration staleAfter) {
        Duration floor = staleAfter.compareTo(MID_ACQUIRE_FLOOR) < 0 ? MID_ACQUIRE_FLOOR : staleAfter;
        return acquireOnce(lock.toAbsolutePath().normalize(), floor);
    }

    /** Retries every 100 ms until the lock is ours or {@code limit} has passed. */
    static Held acquireWithin(Path lock, Duration limit) throws Timeout, InterruptedException {
        Duration stale = Knobs.fromEnvironment().lockStaleAfter();
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            Attempt a = tryAcquire(lock, stale);
            if (a.acquired()) return a.held().get();
            if (a.refusal().isPresent()) throw new Timeout(a.refusal().get());
            // Nothing ever removes a non-lock at a lock path, so waiting for it is pointless.
            if (Snapshot.of(lock).form() == Form.OTHER) throw new Timeout(notALock(lock));
            if (a.holder().isEmpty() && !foreignFiles(lock).isEmpty()) throw new Timeout(cluttered(lock));
            if (System.nanoTime() >= deadline) throw new Timeout(lock, limit, a.holder());
            Thread.sleep(WAIT_STEP.toMillis());
        }
    }

    private static Attempt acquireOnce(Path lock, Duration midAcquireFloor) {
        Optional<Held> created;
        try {
            created = create(lock, null);
        } catch (Refused r) {
            return Attempt.refused(r.getMessage());
        }
        if (created.isPresent()) return won(created.get());

        Snapshot seen = Snapshot.of(lock);
        // Gone already (its holder released it): nothing to steal. Without this, a create that
        // fails for any other reason recursed into <lock>.steal.steal... until the stack overflowed.
        if (seen.form == Form.ABSENT) return createUnderStealMutex(lock);
        if (seen.isHeldBy(midAcquireFloor)) return Attempt.lost(seen.pid);
        if (seen.form == Form.OTHER) return Attempt.lost(OptionalLong.empty()); // never ours to remove

        // It looks abandoned. Only the holder of the steal mutex may remove it; the mutex gets
        // the same protocol with its own fixed floor, so FM_LOCK_STALE_AFTER=0 can never clear
        // a live stealer's mutex.
        Path stealPath = lock.resolveSibling(lock.getFileName() + ".steal");
        Attempt mutex = acquireOnce(stealPath, MID_ACQUIRE_FLOOR);
        if (mutex.refusal().isPresent()) return mutex;
        if (!mutex.acquired()) return Attempt.lost(Snapshot.of(lock).pid);
        try (Held steal = mutex.held().get()) {
            // Race: between our first look and taking the mutex, another stealer may have
            // finished and a fresh holder may now be in place. Look again under the mutex.
            Snapshot again = Snapshot.of(lock);
            if (again.isHeldBy(midAcquireFloor) || !steal.stillHeld()) return Attempt.lost(again.pid);
            // Race: a paused stealer (or a bash one) may still act. Re-verify immediately before
            // removing that the lock is exactly what we judged abandoned.
            Snapshot last = Snapshot.of(lock);
            if (!last.sameLockAs(seen) || last.isHeldBy(midAcquireFloor)) return Attempt.lost(last.pid);
            removeAbandoned(lock, last);
            return createAsStealer(lock, steal);
        }
    }

    /**
     * No lock, yet our create failed: usually a steal mutex stood in the way (a release or a
     * reclaim in progress). If its taker died with it (SIGKILL in a release), every create
     * would back off from it forever, and with no lock there is nothing abandoned to start a
     * steal from. So take the mutex ourselves (reclaiming a dead taker's through its own steal
     * mutex) and create under it, exactly as a stealer does after removing a dead lock.
     */
    private static Attempt createUnderStealMutex(Path lock) {
        Path stealPath = lock.resolveSibling(lock.getFileName() + ".steal");
        if (!Files.exists(stealPath, LinkOption.NOFOLLOW_LINKS)) return Attempt.lost(OptionalLong.empty());
        Attempt mutex = acquireOnce(stealPath, MID_ACQUIRE_FLOOR);
        if (mutex.refusal().isPresent()) return mutex;
        if (!mutex.acquired()) return Attempt.lost(OptionalLong.empty());
        try (Held steal = mutex.held().get()) {
            Snapshot now = Snapshot.of(lock);
            if (now.form != Form.ABSENT || !steal.stillHeld()) return Attempt.lost(now.pid);
            return createAsStealer(lock, steal);
        }
    }

    /**
     * The create both paths make while holding the steal mutex: the mutex is ours, so the create
     * must not back off from it (any other mutex still makes it back off); a loss names the holder.
     */
    private static Attempt createAsStealer(Path lock, Held steal) {
        Optional<Held> mine;
        try {
            mine = create(lock, steal.ownerDir());
        } catch (Refused r) {
            return Attempt.refused(r.getMessage());
        }
        return mine.map(FmLock::won).orElseGet(() -> Attempt.lost(Snapshot.of(lock).pid));
    }

    /** A win; a lock (not a steal mutex) first clears its provably dead holders' token directories. */
    private static Attempt won(Held h) {
        if (!isStealMutex(h.lock)) sweepDeadOwners(h.lock, h.owner);
        return Attempt.won(h);
    }

    /**
     * Removes owner directories of this lock and of its steal mutex that a holder killed with
     * SIGKILL left behind. Only a directory named as our token, not the current target of either
     * link, whose identity is ours (fm-java-2) and proves its owner gone: the pid is dead, or the
     * live process with that pid is provably another one. Anything that may be live (no identity
     * yet, an identity we cannot verify, a bash owner) is kept.
     */
    static void sweepDeadOwners(Path lock, Path keep) {
        Path parent = lock.getParent();
        String name = lock.getFileName().toString();
        Path stealPath = lock.resolveSibling(name + ".steal");
        Path current = readLink(lock);
        Path currentSteal = readLink(stealPath);
        List<Path> candidates;
        try (java.util.stream.Stream<Path> s = Files.list(parent)) {
            candidates = s.filter(p -> {
                String n = p.getFileName().toString();
                return n.startsWith(name + ".owner.") || n.startsWith(name + ".steal.owner.");
            }).toList();
        } catch (IOException | RuntimeException e) {
            return;
        }
        for (Path dir : candidates) {
            if (dir.equals(keep) || dir.equals(current) || dir.equals(currentSteal)) continue;
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) continue;
            OptionalLong pid = readPid(dir.resolve("pid"));
            String id = StateFiles.firstLine(dir.resolve("pid-identity"));
            if (pid.isEmpty() || id == null || !id.startsWith(FmProc.IDENTITY_FORMAT + " pid=" + pid.getAsLong() + " ")) continue;
            long p = pid.getAsLong();
            if (p == MY_PID) continue; // another thread of ours, maybe mid-create
            if (Identity.of(p, id).writerGone()) {
                debug("removed " + dir + ": its owner pid " + p + " is gone");
                removeOwnerDir(dir);
            }
        }
    }

    /**
     * Create and claim (docs/lock.md "Create"). {@code allowedSteal} is the owner directory of the
     * steal mutex we hold ourselves, if any; any other steal mutex in place makes us back off.
     */
    private static Optional<Held> create(Path lock, Path allowedSteal) throws Refused {
        Path owner;
        Path parent;
        try {
            parent = lock.getParent().toRealPath();
            lock = parent.resolve(lock.getFileName());
            // The name only has to be unique, and createDirectory refuses a taken one; a cheap
            // random (no SecureRandom seeding, ~30 ms of every short command) is enough.
            owner = parent.resolve(lock.getFileName() + ".owner."
                    + Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong() >>> 1));
            Files.createDirectory(owner);
        } catch (FileAlreadyExistsException e) {
            return Optional.empty(); // a random name taken: as good as a lost race
        } catch (IOException e) {
            throw new Refused(lock.toAbsolutePath().getParent(), e);
        }
        Path pidFile = owner.resolve("pid");
        String me = Long.toString(MY_PID);
        try {
            try {
                Files.writeString(pidFile, me + "\n");
            } catch (IOException e) {
                removeOwnerDir(owner);
                throw new Refused(parent, e);
            }
            if (!readPid(pidFile).equals(OptionalLong.of(MY_PID))) throw new IOException("pid mismatch");
            // Our identity goes in before the link exists, so a live holder can always prove
            // itself: there is no moment when the lock is ours and carries no identity of ours.
            Optional<String> identity = myIdentity();
            if (identity.isPresent()) {
                try {
                    Files.writeString(owner.resolve("pid-identity"), identity.get() + "\n");
                } catch (IOException e) {
                    removeOwnerDir(owner);
                    throw new Refused(parent, e);
                }
            }
            if (Files.exists(lock, LinkOption.NOFOLLOW_LINKS)) throw new IOException("exists"); // also a dangling link
            try {
                Files.createSymbolicLink(lock, owner);
            } catch (FileAlreadyExistsException e) {
                // symlink(2) never descends into an existing directory (unlike `ln -s`), so no
                // stray link to our owner can have been left inside a directory-form lock.
                throw e;
            }
            if (!owner.equals(readLink(lock))) throw new IOException("link not ours");
            // Claim. Race: a stealer that judged an older lock abandoned may remove our fresh
            // link between create and claim; re-reading the pid and the link catches that, and
            // a steal mutex in place means a reclaim is under way that we must not overtake.
            // The same bytes written over themselves (no truncation): a reader never sees the
            // claimed lock without a pid. A vanished owner directory fails this write.
            Files.write(pidFile, (me + "\n").getBytes(StandardCharsets.UTF_8), StandardOpenOption.WRITE);
            if (!readPid(pidFile).equals(OptionalLong.of(MY_PID)) || !owner.equals(readLink(lock))) {
                throw new IOException("claim lost");
            }
            Path steal = lock.resolveSibling(lock.getFileName() + ".steal");
            if (Files.exists(steal, LinkOption.NOFOLLOW_LINKS)
                    && (allowedSteal == null || !allowedSteal.equals(readLink(steal)))) {
                if (owner.equals(readLink(lock))) deleteQuietly(lock);
                throw new IOException("steal in progress");
            }
            return Optional.of(new Held(lock, owner));
        } catch (Refused r) {
            throw r;
        } catch (IOException | RuntimeException e) {
            removeOwnerDir(owner);
            return Optional.empty();
        }
    }

    /** The directory will not hold a lock (permissions, read-only, full): waiting cannot help. */
    static final class Refused extends IOException {
        Refused(Path dir, IOException cause) {
            super("cannot create a lock in " + dir + " (" + reason(cause) + "); check its permissions and free space",
                    cause);
        }

        private static String reason(IOException e) {
            if (e instanceof java.nio.file.AccessDeniedException) return "permission denied";
            if (e instanceof java.nio.file.FileSystemException f) return f.getReason() != null ? f.getReason() : "refused";
            return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        }
    }

    /** A directory-form lock's files that the protocol does not own (nothing ever removes them). */
    static List<String> foreignFiles(Path lock) {
        if (!Files.isDirectory(lock, LinkOption.NOFOLLOW_LINKS)) return List.of();
        try (java.util.stream.Stream<Path> s = Files.list(lock)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !KNOWN_FILES.contains(n)).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** The one-line complaint about a directory lock that can never be removed. */
    static String cluttered(Path lock) {
        return lock + " holds files the lock protocol does not own (" + String.join(", ", foreignFiles(lock))
                + "); nothing removes them automatically: move them out if no firstmate tool is using it";
    }

    /** Removes the lock we judged abandoned: exactly its known files, never anything else. */
    private static void removeAbandoned(Path lock, Snapshot s) {
        if (s.form == Form.LINK) {
            deleteQuietly(lock);
            // Only an owner directory that looks like one of this lock's tokens is emptied; a
            // link pointing anywhere else (hand-made, foreign) loses just the link.
            if (s.target != null && isOwnerDirOf(lock, s.target)) removeOwnerDir(s.target);
        } else if (s.form == Form.DIRECTORY) {
            removeOwnerDir(lock);
        }
    }

    private static boolean isOwnerDirOf(Path lock, Path target) {
        Path t = (target.isAbsolute() ? target : lock.resolveSibling(target)).normalize();
        Path parent;
        try {
            // Owner directories are created next to the lock's physical parent; the lock may
            // have been reached through a linked directory.
            parent = lock.getParent().toRealPath();
        } catch (IOException e) {
            return false;
        }
        return t.getParent() != null && t.getParent().equals(parent)
                && t.getFileName().toString().startsWith(lock.getFileName() + ".owner.");
    }

    private static void removeOwnerDir(Path dir) {
        for (String f : KNOWN_FILES) deleteQuietly(dir.resolve(f));
        try {
            Files.deleteIfExists(dir);
        } catch (DirectoryNotEmptyException e) {
            debug("left " + dir + " in place: it holds files the lock protocol does not own");
        } catch (IOException e) {
            debug("could not remove " + dir + ": " + e);
        }
    }

    // ------------------------------------------------------------------ reading a lock

    enum Form { ABSENT, LINK, DIRECTORY, OTHER }

    /** What a lock looked like at one moment. */
    record Snapshot(Form form, Path target, String pidText, OptionalLong pid, Instant lockTime, Instant pidTime,
                    String identity) {
        static Snapshot of(Path lock) {
            BasicFileAttributes a;
            try {
                a = Files.readAttributes(lock, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (IOException e) {
                return new Snapshot(Form.ABSENT, null, null, OptionalLong.empty(), null, null, null);
            }
            Form form = a.isSymbolicLink() ? Form.LINK : a.isDirectory() ? Form.DIRECTORY : Form.OTHER;
            Path target = form == Form.LINK ? readLink(lock) : null;
            Path pidFile = lock.resolve("pid");
            String text = form == Form.OTHER ? null : StateFiles.readSmall(pidFile);
            Instant pidTime = form == Form.OTHER ? null : StateFiles.mtime(pidFile);
            String identity = form == Form.OTHER ? null : StateFiles.firstLine(lock.resolve("pid-identity"));
            return new Snapshot(form, target, text, FmProc.parsePid(text), a.lastModifiedTime().toInstant(),
                    pidTime, identity);
        }

        /**
         * True when this lock must be left alone: a live holder (docs/lock.md "Liveness", with the
         * recycled-pid rule), or no readable pid but younger than the mid-acquire floor.
         */
        boolean isHeldBy(Duration midAcquireFloor) {
            if (form == Form.ABSENT) return false;
            if (pid.isPresent()) return holderAlive();
            Instant t = lockTime == null ? Instant.EPOCH : lockTime;
            return Duration.between(t, Instant.now()).compareTo(midAcquireFloor) < 0;
        }

        /**
         * The holder's verdict (Identity): its identity line against the live pid, with the pid
         * file's mtime for a lock that carries no identity. Our own pid is ourselves (another
         * thread of this JVM, maybe mid-create).
         */
        Identity.Verdict holder() {
            if (pid.isEmpty()) return Identity.Verdict.UNKNOWN;
            if (pid.getAsLong() == MY_PID) return Identity.Verdict.SAME;
            return Identity.of(pid.getAsLong(), identity, pidTime);
        }

        /**
         * Alive, and not provably a different process that reused the holder's pid. A holder
         * whose identity was written in another pid namespace is alive: nothing here sees it.
         */
        boolean holderAlive() {
            return pid.isPresent() && !holder().writerGone();
        }

        /** A live process has the holder's pid, and it provably is not the holder (a reused pid). */
        boolean recycled() {
            return pid.isPresent() && holder() == Identity.Verdict.OTHER;
        }

        boolean sameLockAs(Snapshot o) {
            return form == o.form && Objects.equals(target, o.target) && Objects.equals(pidText, o.pidText);
        }
    }

    /**
     * Removes a lock that a caller has judged stale (e.g. the arm's --restart, for a lock that
     * names this home), through the steal mutex and only if the lock is still exactly what
     * {@code seen} describes and its holder is not alive by the acquire's own rules: a caller's
     * judgement never outweighs a live holder (a watcher between taking the lock and writing
     * its metadata looks stale to the caller). Returns true if it was removed.
     */
    static boolean clearStale(Path lock, Snapshot seen) {
        Duration stale = Knobs.fromEnvironment().lockStaleAfter();
        Duration floor = stale.compareTo(MID_ACQUIRE_FLOOR) < 0 ? MID_ACQUIRE_FLOOR : stale;
        lock = lock.toAbsolutePath().normalize();
        Path stealPath = lock.resolveSibling(lock.getFileName() + ".steal");
        Attempt mutex = acquireOnce(stealPath, MID_ACQUIRE_FLOOR);
        if (!mutex.acquired()) return false;
        try (Held steal = mutex.held().get()) {
            Snapshot now = Snapshot.of(lock);
            if (!steal.stillHeld() || now.form == Form.ABSENT || now.form == Form.OTHER || !now.sameLockAs(seen)
                    || now.isHeldBy(floor)) {
                return false;
            }
            removeAbandoned(lock, now);
            return true;
        }
    }

    /** The one-line complaint about a lock path that holds something that is not a lock. */
    static String notALock(Path lock) {
        return lock + " is not a lock (a regular file or other non-directory); nothing removes it"
                + " automatically: remove it by hand if no firstmate tool is using it";
    }

    /** The holder's pid as the lock names it now, if readable. */
    static OptionalLong holderPid(Path lock) {
        return readPid(lock.resolve("pid"));
    }

    // ------------------------------------------------------------------ small file helpers

    static Path readLink(Path p) {
        try {
            return Files.readSymbolicLink(p);
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    static OptionalLong readPid(Path pidFile) {
        return FmProc.parsePid(StateFiles.readSmall(pidFile));
    }

    static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            debug("could not remove " + p + ": " + e);
        }
    }

    static void debug(String msg) {
        if ("1".equals(System.getenv("FM_DEBUG"))) System.err.println("fm-lock: " + msg);
    }
}
