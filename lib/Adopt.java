//SOURCES FmLock.java BashHome.java FmHome.java HomeGit.java ShellWord.java StateFiles.java

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Adopting a firstmate home: its four bash scripts become shims that exec this
 * checkout's commands, and --undo puts the originals back byte for byte.
 *
 * Layout, all inside the home's {@code bin/}:
 * <ul>
 * <li>{@code .fm-adopt/<script>}: the original, as the very same file (a hard link to its inode,
 *     so content, mode, owner and times are the original's; a copy with mode and owner where the
 *     file system has no hard links);
 * <li>{@code .fm-adopt/ADOPTED}: a note for people, written last by adopt and removed first by
 *     undo;
 * <li>{@code .fm-adopt/<script>.kept-<UTC time>}: an older original set aside, never removed by us;
 * <li>{@code .fm-adopt/.<name>.<pid>.tmp}: temporaries, renamed into place (a killed run's are
 *     removed by the next run);
 * <li>{@code .fm-adopt.lock}: FmLock, held while a run changes anything, so two runs never interleave.
 * </ul>
 *
 * The truth is read from the files on every run, never from a record: a script is a shim when
 * its second line is our marker, and otherwise it is an original. Every change is one atomic
 * rename (or a link, a delete, a new temporary), in an order that keeps two invariants at every
 * moment, so a kill anywhere leaves a state the next run finishes:
 * <ol>
 * <li>every script exists (a rename replaces it; nothing deletes it first);
 * <li>a shim has its original in {@code .fm-adopt/}: the backup is renamed into place (and the
 *     directory synced) before the shim replaces the script, and undo's one rename of the backup
 *     over the shim restores and consumes it at once;
 * <li>a kept original is deleted only when the script in place is the same bytes: one that
 *     differs (git put a committed copy over the shim, so the kept one holds the user's edit)
 *     is renamed aside to {@code .fm-adopt/<script>.kept-<UTC time>} in one rename, by undo and
 *     by an adopt that would rename a newer original over it. Those stay until the user removes
 *     them, and so does the directory that holds them.
 * </ol>
 *
 * One file despite its length: adopt, undo and update each keep the invariants above at every
 * step, so they are read (and reviewed) together; git itself already stands apart in HomeGit.
 */
final class Adopt {
    static final String DIR = ".fm-adopt";
    static final String RECORD = "ADOPTED";
    static final String LOCK = ".fm-adopt.lock";
    static final String MARKER = "# fm-adopt shim:";
    /** Which of our commands each bash script becomes. */
    static final Map<String, String> COMMANDS = Map.of(
            "fm-watch.sh", "fm-watch.java",
            "fm-watch-arm.sh", "fm-watch-arm.java",
            "fm-wake-drain.sh", "fm-wake-drain.java",
            "fm-guard.sh", "fm-guard.java");
    /** Long enough for a killed run's lock to pass the mid-acquire floor, short for a person. */
    static final Duration LOCK_WAIT = Duration.ofSeconds(5);

    /** One line for the user; the command exits 1. */
    static final class Failure extends Exception {
        Failure(String message) { super(message); }
    }

    private final FmHome fm;
    private final Path home;
    private final Path bin;
    private final Path dir;
    private final Path checkout;
    private final boolean dryRun;
    private final boolean debug;
    private final PrintStream out;
    private final PrintStream err;
    private final Charset names;

    /** {@code fm}: the home to adopt, its state directory, and this checkout's fm-watch.java. */
    Adopt(FmHome fm, boolean dryRun, boolean debug, PrintStream out, PrintStream err) {
        this.fm = fm;
        this.home = fm.home;
        this.bin = BashHome.bin(home);
        this.dir = bin.resolve(DIR);
        this.checkout = fm.watcherPath.getParent();
        this.dryRun = dryRun;
        this.debug = debug;
        this.out = out;
        this.err = err;
        // Paths go into the shims as the file system spells them (UTF-8 under a UTF-8 locale).
        this.names = charsetOr(System.getProperty("sun.jnu.encoding"));
    }

    // ------------------------------------------------------------------ adopt

    int adopt() throws Failure, IOException, InterruptedException {
        checkHome();
        checkCheckout();
        if (dryRun) {
            refuseIfWatcherRuns();
            return planAdopt();
        }
        try (FmLock.Held lock = takeLock()) {
            refuseIfWatcherRuns();
            return adoptHeld();
        }
    }

    /** Adopt's changes, under our lock, after the watcher check; its last line says how to undo and update. */
    private int adoptHeld() throws IOException {
        if (isAdopted()) {
            removeTemporaries();
            say(home + " is already adopted: its scripts run " + checkout + "; nothing to do");
            return 0;
        }
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            step("create " + rel(dir));
            Files.createDirectories(dir);
        }
        removeTemporaries();
        List<String> unrestorable = new ArrayList<>();
        for (String script : BashHome.SCRIPTS) {
            Path s = bin.resolve(script);
            if (!isShim(s)) {
                backUp(s);
            } else if (!Files.isRegularFile(backup(script), LinkOption.NOFOLLOW_LINKS)) {
                unrestorable.add(rel(s));
            }
            if (!Arrays.equals(read(s), shim(script))) {
                writeShim(s, script);
                say(rel(s) + " now runs " + checkout.resolve(COMMANDS.get(script))
                        + " (original kept as " + rel(backup(script)) + ")");
            }
        }
        Path note = dir.resolve(RECORD);
        if (!Files.isRegularFile(note, LinkOption.NOFOLLOW_LINKS)
                || !Arrays.equals(Files.readAllBytes(note), record().getBytes(names))) {
            replace(note, record().getBytes(names), null);
        }
        say("adopted " + home + "; undo with: " + undoCommand() + "; firstmate's self-update (bin/fm-update.sh)"
                + " skips this home while adopted, so update it with: " + updateCommand());
        if (!unrestorable.isEmpty()) {
            err.println("fm-adopt: warning: " + String.join(", ", unrestorable) + " had no original in "
                    + rel(dir) + ", so --undo cannot restore it: restore firstmate's own copy with git"
                    + " (git checkout -- bin/<script>), then run fm-adopt again");
        }
        return 0;
    }

    private int planAdopt() throws IOException {
        if (isAdopted()) {
            say(home + " is already adopted: its scripts run " + checkout + "; nothing to do");
            return 0;
        }
        for (String script : BashHome.SCRIPTS) {
            Path s = bin.resolve(script);
            if (!isShim(s) && Files.exists(backup(script), LinkOption.NOFOLLOW_LINKS) && !sameBytes(backup(script), s)) {
                say("would keep the older " + rel(backup(script)) + " as " + rel(backup(script)) + ".kept-<UTC time>");
            }
            if (!isShim(s)) say("would keep " + rel(s) + " as " + rel(backup(script)));
            if (!Arrays.equals(read(s), shim(script))) {
                say("would replace " + rel(s) + " with a shim running " + checkout.resolve(COMMANDS.get(script)));
            }
        }
        say("dry run: nothing changed");
        return 0;
    }

    /** Every script is this checkout's shim with its original kept, and the note is written. */
    private boolean isAdopted() throws IOException {
        for (String script : BashHome.SCRIPTS) {
            if (!Arrays.equals(read(bin.resolve(script)), shim(script))) return false;
            if (!Files.isRegularFile(backup(script), LinkOption.NOFOLLOW_LINKS)) return false;
        }
        Path note = dir.resolve(RECORD);
        return Files.isRegularFile(note, LinkOption.NOFOLLOW_LINKS)
                && Arrays.equals(Files.readAllBytes(note), record().getBytes(names));
    }

    /**
     * The original becomes the backup: a hard link under a temporary name, renamed over an
     * older backup of the same bytes (one that differs is set aside first), then the directory
     * synced, so the shim can never be on disk without it.
     */
    private void backUp(Path script) throws IOException {
        String name = script.getFileName().toString();
        Path tmp = temporary(name);
        step("keep " + rel(script) + " as " + rel(tmp));
        try {
            Files.createLink(tmp, script);
        } catch (UnsupportedOperationException | IOException noLinks) {
            Files.deleteIfExists(tmp);
            copyWithMode(script, tmp);
        }
        Path older = backup(name);
        if (Files.exists(older, LinkOption.NOFOLLOW_LINKS) && !sameBytes(older, script)) {
            // The older copy may hold the only trace of an edit: it moves aside, never under the new one.
            Path kept = setAside(older);
            say("the older kept original of " + rel(script) + " differs from the one in place, so it was kept as "
                    + rel(kept) + ": " + KEPT_ADVICE);
        }
        step("rename " + rel(tmp) + " to " + rel(older));
        move(tmp, older);
        syncDirectory(dir);
    }

    private void writeShim(Path script, String name) throws IOException {
        replace(script, shim(name), script);
    }

    // ------------------------------------------------------------------ undo

    int undo() throws Failure, IOException, InterruptedException {
        checkHome();
        List<String> shims = shimsWithOriginals();
        List<String> kept = keptCopies();
        if (shims.isEmpty() && (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)
                || (!kept.isEmpty() && Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) && listNames(dir).equals(kept)))) {
            say(home + " is not adopted; nothing to undo" + (kept.isEmpty() ? ""
                    : " (" + rel(dir) + " holds kept copies only: " + String.join(", ", kept) + "; " + KEPT_ADVICE + ")"));
            return 0;
        }
        if (dryRun) {
            refuseIfWatcherRuns();
            boolean keeps = !kept.isEmpty();
            for (String script : BashHome.SCRIPTS) {
                Path s = bin.resolve(script);
                Path b = backup(script);
                if (shims.contains(script)) {
                    say("would restore " + rel(s) + " from " + rel(b));
                } else if (Files.exists(b, LinkOption.NOFOLLOW_LINKS) && !sameBytes(b, s)) {
                    say("would keep " + rel(b) + " as " + rel(b) + ".kept-<UTC time>: it differs from " + rel(s) + " in place");
                    keeps = true;
                }
            }
            say(keeps ? "would leave " + rel(dir) + " holding only kept copies" : "would remove " + rel(dir));
            say("dry run: nothing changed");
            return 0;
        }
        try (FmLock.Held lock = takeLock()) {
            refuseIfWatcherRuns();
            undoHeld();
            say("undone: " + home + " runs its bash scripts again");
            return 0;
        }
    }

    /** The scripts that are shims; refuses, before any change, when one has no original to restore. */
    private List<String> shimsWithOriginals() throws Failure, IOException {
        List<String> shims = new ArrayList<>();
        List<String> orphans = new ArrayList<>();
        for (String script : BashHome.SCRIPTS) {
            if (!isShim(bin.resolve(script))) continue;
            shims.add(script);
            if (!Files.isRegularFile(backup(script), LinkOption.NOFOLLOW_LINKS)) orphans.add(rel(bin.resolve(script)));
        }
        if (!orphans.isEmpty()) {
            throw new Failure("cannot undo: " + String.join(", ", orphans) + " is a shim but its original is not in "
                    + rel(dir) + "; restore firstmate's own copy with git (git checkout -- bin/<script>),"
                    + " then run --undo again; nothing was changed");
        }
        return shims;
    }

    /** Undo's changes, under our lock, after the watcher check. */
    private void undoHeld() throws IOException {
        Path note = dir.resolve(RECORD);
        if (Files.exists(note, LinkOption.NOFOLLOW_LINKS)) {
            step("remove " + rel(note));
            Files.deleteIfExists(note);
        }
        for (String script : BashHome.SCRIPTS) {
            Path s = bin.resolve(script);
            Path b = backup(script);
            if (isShim(s)) {
                // One rename restores the original over the shim and consumes the backup.
                step("rename " + rel(b) + " to " + rel(s));
                move(b, s);
                syncDirectory(bin);
                say("restored " + rel(s));
            } else if (Files.exists(b, LinkOption.NOFOLLOW_LINKS)) {
                // The script is not a shim (restored by hand, or git put a committed copy over the
                // shim): the kept copy goes only when the script in place is the same bytes.
                if (sameBytes(b, s)) {
                    step("remove " + rel(b));
                    Files.deleteIfExists(b);
                } else {
                    Path k = setAside(b);
                    say(rel(s) + " in place differs from its kept original, so that original was kept as "
                            + rel(k) + ": " + KEPT_ADVICE);
                }
            }
        }
        removeTemporaries();
        if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            List<String> left = listNames(dir);
            List<String> keptNow = keptCopies();
            if (left.isEmpty()) {
                step("remove " + rel(dir));
                try {
                    Files.deleteIfExists(dir);
                } catch (DirectoryNotEmptyException raced) {
                    left = listNames(dir);
                }
            }
            if (!left.isEmpty() && left.equals(keptNow)) {
                say("left " + rel(dir) + " in place holding only kept copies (" + String.join(", ", keptNow) + "); "
                        + KEPT_ADVICE);
            } else if (!left.isEmpty()) {
                err.println("fm-adopt: left " + rel(dir) + " in place: it holds files fm-adopt did not write ("
                        + String.join(", ", left) + ")");
            }
        }
    }

    // ------------------------------------------------------------------ update

    /**
     * Undo, fast-forward the home's checkout to its upstream, adopt again, all under our lock:
     * the home's own self-update skips a dirty tree, and an adopted home is one. Every moment
     * leaves each script an original or a shim with its original kept, as undo and adopt do;
     * a failed pull or a failed adopt says in one line whether the home ended adopted or not.
     */
    int update() throws Failure, IOException, InterruptedException {
        checkHome();
        checkCheckout();
        HomeGit git = new HomeGit(home);
        java.util.Optional<String> why = git.whyNot();
        if (why.isPresent()) throw new Failure("cannot --update " + home + ": " + why.get() + "; nothing was changed");
        shimsWithOriginals();
        if (dryRun) {
            refuseIfWatcherRuns();
            say("would undo, fast-forward " + home + " to " + git.upstream() + " (git pull --ff-only), then adopt it again");
            say("dry run: nothing changed");
            return 0;
        }
        try (FmLock.Held lock = takeLock()) {
            refuseIfWatcherRuns();
            String before = git.head();
            // A signal between undo and adopt ends us with the home (partly) un-adopted: say how to finish.
            Thread stopped = new Thread(() -> err.println("fm-adopt: stopped by a signal during --update; every script is"
                    + " in place (an original, or a shim with its original kept): run " + updateCommand() + " to finish"));
            Runtime.getRuntime().addShutdownHook(stopped);
            try {
                undoHeld();
                step("git pull --ff-only in " + home);
                HomeGit.Outcome pulled = git.pullFastForward();
                String after = git.head();
                String failed = pulled.ok() ? null : "update failed: git pull --ff-only in " + home + ": " + pulled.reason();
                if (failed == null) {
                    say(before.equals(after) ? home + " is already at its upstream's " + HomeGit.brief(after)
                            : "updated " + home + " from " + HomeGit.brief(before) + " to " + HomeGit.brief(after)
                            + " (git pull --ff-only)");
                }
                try {
                    checkHome();
                    refuseIfWatcherRuns();
                    adoptHeld();
                } catch (Failure | IOException e) {
                    throw new Failure((failed != null ? failed + "; then" : "updated " + home + " to " + HomeGit.brief(after)
                            + ", but") + " adopting it again failed (" + e.getMessage() + "), so " + home
                            + " is un-adopted (its bash scripts run): fix that, then run " + updateCommand());
                }
                if (failed != null) {
                    throw new Failure(failed + "; " + home + " is adopted again, as before, at " + HomeGit.brief(after)
                            + ": make its branch a fast-forward of its upstream (git -C " + ShellWord.quoted(home.toString())
                            + " status), then run " + updateCommand());
                }
                return 0;
            } finally {
                try {
                    Runtime.getRuntime().removeShutdownHook(stopped);
                } catch (IllegalStateException shuttingDown) {
                    // the hook runs: it is the truth then
                }
            }
        }
    }

    // ------------------------------------------------------------------ checks

    /** The five files of a firstmate home; the four scripts must be regular files we can replace. */
    private void checkHome() throws Failure {
        if (!Files.isDirectory(home)) throw new Failure(home + " is not a directory; name a firstmate home with --home");
        List<String> missing = new ArrayList<>();
        List<String> all = new ArrayList<>(BashHome.SCRIPTS);
        all.add(BashHome.LIBRARY);
        for (String f : all) {
            if (!Files.exists(bin.resolve(f), LinkOption.NOFOLLOW_LINKS)) missing.add("bin/" + f);
        }
        if (!missing.isEmpty()) {
            throw new Failure(home + " is not a firstmate home: missing " + String.join(", ", missing)
                    + "; nothing was changed");
        }
        for (String f : BashHome.SCRIPTS) {
            if (!Files.isRegularFile(bin.resolve(f), LinkOption.NOFOLLOW_LINKS)) {
                throw new Failure(rel(bin.resolve(f)) + " is not a regular file (a link or a directory); fm-adopt"
                        + " replaces regular files only, so nothing was changed");
            }
        }
    }

    private void checkCheckout() throws Failure {
        List<String> needed = new ArrayList<>(COMMANDS.values());
        needed.add("jbang"); // each script's first line execs it
        for (String cmd : needed) {
            if (!Files.isRegularFile(checkout.resolve(cmd))) {
                throw new Failure(checkout + " has no " + cmd + "; run fm-adopt from a complete checkout of this port");
            }
        }
    }

    /**
     * A watcher of this home (a live holder of its lock, judged as the lock judges) must not be
     * swapped under: refuse, and never signal it.
     */
    private void refuseIfWatcherRuns() throws Failure {
        FmLock.Snapshot s = FmLock.Snapshot.of(fm.watchLock());
        if (s.form() == FmLock.Form.ABSENT || s.form() == FmLock.Form.OTHER) return;
        if (s.pid().isPresent() && s.holderAlive()) {
            throw new Failure("refusing: a watcher of " + home + " is running (pid " + s.pid().getAsLong()
                    + ", " + fm.watchLock() + "); nothing was changed and it was not signalled: it ends at its"
                    + " next wake, so run fm-adopt then, before anything re-arms it (pause an away-mode daemon first)");
        }
        if (s.pid().isEmpty() && s.isHeldBy(FmLock.MID_ACQUIRE_FLOOR)) {
            throw new Failure("refusing: a watcher of " + home + " is starting (" + fm.watchLock()
                    + " was just taken); nothing was changed: run fm-adopt again when it has ended");
        }
    }

    private FmLock.Held takeLock() throws Failure, InterruptedException {
        try {
            return FmLock.acquireWithin(bin.resolve(LOCK), LOCK_WAIT);
        } catch (FmLock.Timeout t) {
            throw new Failure("another fm-adopt is working on " + home + " (" + t.getMessage()
                    + "); let it finish, then run again");
        }
    }

    // ------------------------------------------------------------------ the shim and the note

    /** The shim for {@code script}: POSIX sh, so bash and the daemon run it alike. */
    byte[] shim(String script) {
        String cmd = checkout.resolve(COMMANDS.get(script)).toString();
        String text = "#!/bin/sh\n"
                + MARKER + " this home's bin/" + script + " runs " + COMMANDS.get(script) + " of the Java port.\n"
                + "# Its bash original is kept in bin/" + DIR + "/" + script + "; fm-adopt.java --undo puts it back.\n"
                + "# exec keeps the pid, so whoever started this script can signal the watcher itself.\n"
                + "if [ -z \"${FM_HOME-}\" ] && [ -z \"${FM_ROOT_OVERRIDE-}\" ]; then FM_HOME=" + ShellWord.quoted(home.toString())
                + "; export FM_HOME; fi\n"
                // The bash watcher of the checkout whose scripts run is this home's, whatever FM_HOME
                // names (a secondmate home, a case directory): the bash arm judges it so, and so must we.
                + "if [ -z \"${FM_BASH_WATCHER-}\" ]; then FM_BASH_WATCHER="
                + ShellWord.quoted(BashHome.bin(home).resolve("fm-watch.sh").toString()) + "; export FM_BASH_WATCHER; fi\n"
                + "FM_ARM_COMMAND=${FM_ARM_COMMAND:-bin/fm-watch-arm.sh}\n"
                + "FM_DRAIN_COMMAND=${FM_DRAIN_COMMAND:-bin/fm-wake-drain.sh}\n"
                + "export FM_ARM_COMMAND FM_DRAIN_COMMAND\n"
                + "exec /bin/sh " + ShellWord.quoted(cmd) + " \"$@\"\n";
        return text.getBytes(names);
    }

    static boolean isShim(Path script) throws IOException {
        byte[] head;
        try (InputStream in = Files.newInputStream(script, LinkOption.NOFOLLOW_LINKS)) {
            head = in.readNBytes(256);
        } catch (NoSuchFileException e) {
            return false;
        }
        String s = new String(head, StandardCharsets.ISO_8859_1);
        return s.startsWith("#!/bin/sh\n" + MARKER);
    }

    private String record() {
        return "This firstmate home is adopted by the Java port in " + checkout + ":\n"
                + "its bin/fm-watch.sh, bin/fm-watch-arm.sh, bin/fm-wake-drain.sh and bin/fm-guard.sh are shims,\n"
                + "and the bash originals are kept here, byte for byte.\n"
                + "Undo: " + undoCommand() + "\n"
                + "firstmate's self-update (bin/fm-update.sh) skips a home while it is adopted (its tree is dirty).\n"
                + "Update: " + updateCommand() + "\n";
    }

    private String undoCommand() {
        return ShellWord.quoted(checkout.resolve("fm-adopt.java").toString()) + " --undo --home " + ShellWord.quoted(home.toString());
    }

    private String updateCommand() {
        return ShellWord.quoted(checkout.resolve("fm-adopt.java").toString()) + " --update --home " + ShellWord.quoted(home.toString());
    }

    // ------------------------------------------------------------------ files

    private Path backup(String script) { return dir.resolve(script); }

    /** What to do about a copy set aside: it is the user's to compare and remove. */
    static final String KEPT_ADVICE = "compare it with what is in place and remove it once you no longer need it";
    /** A copy set aside: {@code <script>.kept-<UTC time>}, a counter after it if a second one comes in that second. */
    static final java.util.regex.Pattern KEPT = java.util.regex.Pattern.compile(".+\\.kept-\\d{8}T\\d{6}Z(-\\d+)?");
    private static final java.time.format.DateTimeFormatter KEPT_TIME =
            java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(java.time.ZoneOffset.UTC);

    /**
     * Renames a kept original that must not be lost to a free {@code .kept-} name: one rename, so
     * a kill leaves it under one name or the other. Free, since only a run holding our lock
     * writes in the directory.
     */
    private Path setAside(Path copy) throws IOException {
        String base = copy.getFileName() + ".kept-" + KEPT_TIME.format(java.time.Instant.now());
        Path kept = dir.resolve(base);
        for (int n = 2; Files.exists(kept, LinkOption.NOFOLLOW_LINKS); n++) kept = dir.resolve(base + "-" + n);
        step("rename " + rel(copy) + " to " + rel(kept));
        move(copy, kept);
        syncDirectory(dir);
        return kept;
    }

    /** The copies set aside so far, by name. */
    private List<String> keptCopies() throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) return List.of();
        List<String> kept = new ArrayList<>();
        for (String n : listNames(dir)) {
            if (KEPT.matcher(n).matches()) kept.add(n);
        }
        return kept;
    }

    private static boolean sameBytes(Path a, Path b) throws IOException {
        return Files.mismatch(a, b) == -1;
    }

    private Path temporary(String name) {
        return dir.resolve("." + name + "." + ProcessHandle.current().pid() + ".tmp");
    }

    /**
     * Replaces {@code target} atomically: a temporary in our directory, synced, with the mode
     * (and, where we may, the owner) of {@code like}, then renamed over it.
     */
    private void replace(Path target, byte[] content, Path like) throws IOException {
        Path tmp = temporary(target.getFileName().toString());
        step("write " + rel(tmp));
        Files.deleteIfExists(tmp);
        try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(content);
            while (b.hasRemaining()) c.write(b);
            c.force(true);
        }
        if (like != null) sameModeAndOwner(like, tmp);
        step("rename " + rel(tmp) + " to " + rel(target));
        move(tmp, target);
        syncDirectory(target.getParent());
    }

    private static void copyWithMode(Path from, Path to) throws IOException {
        Files.copy(from, to, StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
        sameModeAndOwner(from, to);
        try (FileChannel c = FileChannel.open(to, StandardOpenOption.WRITE)) {
            c.force(true);
        }
    }

    /** The permission bits always (where POSIX); the owner and group where we are allowed to. */
    private static void sameModeAndOwner(Path from, Path to) throws IOException {
        PosixFileAttributeView view = Files.getFileAttributeView(to, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        if (view == null) return;
        PosixFileAttributes a = Files.readAttributes(from, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        view.setPermissions(a.permissions());
        try {
            view.setOwner(a.owner());
            view.setGroup(a.group());
        } catch (IOException | SecurityException notPermitted) {
            // Not root: the file is ours, which is what running as this user means anyway.
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename " + from + " over " + to + " atomically (" + e.getReason()
                    + "); is bin/" + DIR + " on another file system?", e);
        }
    }

    /** Makes renames in {@code d} durable; a platform that cannot open a directory is left to its cache. */
    private static void syncDirectory(Path d) {
        try {
            StateFiles.syncDirectory(d);
        } catch (IOException | UnsupportedOperationException e) {
            // best effort: the rename itself is atomic either way
        }
    }

    /** A killed run's temporaries: ours alone, since runs exclude one another through the lock. */
    private void removeTemporaries() throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) return;
        for (String n : listNames(dir)) {
            if (n.startsWith(".") && n.endsWith(".tmp")) {
                step("remove " + rel(dir.resolve(n)) + " (left by a killed run)");
                Files.deleteIfExists(dir.resolve(n));
            }
        }
    }

    private static List<String> listNames(Path d) throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(d)) {
            for (Path p : s) names.add(p.getFileName().toString());
        }
        names.sort(null);
        return names;
    }

    private static byte[] read(Path p) throws IOException {
        return Files.readAllBytes(p);
    }

    /** A path inside the home, as the home's own tools name it ({@code bin/fm-guard.sh}). */
    private String rel(Path p) {
        return p.startsWith(home) ? home.relativize(p).toString() : p.toString();
    }

    /**
     * Every change to the home goes through here first: with FM_DEBUG=1 it is named on stderr,
     * and the tests stop a run here (JDWP) to kill it between any two changes.
     */
    private void step(String what) {
        if (debug) err.println("fm-adopt: " + what);
    }

    private void say(String line) {
        out.println("fm-adopt: " + line);
        out.flush();
    }

    private static Charset charsetOr(String name) {
        try {
            return name == null ? StandardCharsets.UTF_8 : Charset.forName(name);
        } catch (RuntimeException e) {
            return StandardCharsets.UTF_8;
        }
    }
}
