//SOURCES ShellWord.java StateFiles.java

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which check scripts the watcher may run: strict modes, as OpenSSH's StrictModes and cron.
 *
 * A check runs with this user's rights, so nobody else may be able to choose its code. The
 * path bash will open is walked the way the kernel resolves it, from "/" through every
 * directory and every symbolic link (the state directory's own path included) to the final
 * file. The check is trusted when every directory passed is owned by this user (the effective
 * uid) or root and is not writable by group or others unless it has the sticky bit (as /tmp:
 * others may add names there but cannot rename or remove ours); every link is owned by this
 * user or root (a link's owner chose where it points: otherwise anyone who may add files to a
 * sticky state directory could aim a check at any script of ours); and the final file is
 * owned by this user or root and not writable by group or others.
 *
 * Why every directory up to "/", as OpenSSH does, and not only the state directory and the
 * target's: who can rename an ancestor can swap the subtree under it between our verdict and
 * bash opening the file. With the whole walk verified, only this user and root can change
 * anything on it afterwards, so the verdict, taken at the start of the sweep, still holds when
 * bash runs: the race leaves nobody else a way in. POSIX ACLs that grant writes show up as
 * group-write bits (the mask), so they are refused too.
 */
final class CheckTrust {
    static final String SUFFIX = ".check.sh";
    /** What this home was already told, so a fresh watcher cycle does not repeat it. */
    static final String MARKER = ".check-refusals";
    /** The marker never grows past this; refusals beyond it are simply not remembered. */
    static final int MARKER_MAX = 64 * 1024;
    private static final int MAX_HOPS = 40; // the kernel's own limit on links in one lookup
    private static final int GROUP_OR_OTHER_WRITE = 0022;
    private static final int STICKY = 01000;

    private CheckTrust() {}

    /**
     * One refused check or, when {@code everyCheck}, a refused state directory ({@code check} is
     * then STATE): something on the way to it is wrong, so no check in it runs. {@code file} is
     * what is wrong (the script, a link, the link's target, or a directory on the way),
     * {@code reason} says what, naming that file, its owner and its mode, and {@code fix} is the
     * shell command that ends the refusal. {@code uid} and {@code mode} are -1 and 0 when the
     * file could not be read at all.
     */
    record Refusal(Path check, Path file, int uid, int mode, String reason, String fix, boolean everyCheck) {
        /** The one stderr line the watcher prints for it. */
        String line() {
            String what = everyCheck ? "refusing every check in " + check : "refusing check " + check;
            return printable("watcher: " + what + ": " + reason + "; fix: " + fix);
        }

        /** What makes two refusals the same report: the check, the file, its owner and mode. */
        String key() {
            return printable(check.toString()) + "\t" + printable(file.toString()) + "\t" + uid + "\t" + Integer.toOctalString(mode);
        }
    }

    // ------------------------------------------------------------------ the API

    /** The sweep's candidates: {@code *.check.sh} regular files (links followed), no dot files, in byte order of names. */
    static List<Path> scripts(Path state) throws IOException {
        List<Path> found = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(state)) {
            for (Path p : dir) {
                String name = p.getFileName().toString();
                // A shell glob skips dot files; a directory named like a check is not one.
                if (name.endsWith(SUFFIX) && !name.startsWith(".") && Files.isRegularFile(p)) found.add(p);
            }
        }
        found.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
        return found;
    }

    /**
     * Every check in {@code state} that the watcher would refuse right now (whatever
     * FM_CHECK_STRICT says: the caller decides what the knob means for its output). Empty when
     * there are no checks or the directory cannot be listed.
     */
    static List<Refusal> refusals(Path state) {
        try {
            return verify(state, scripts(state)).refused();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** What one verification found: the checks that may run (in order) and the refusals. */
    record Verdict(List<Path> trusted, List<Refusal> refused) {}

    /** Verifies {@code scripts} (from {@link #scripts}) of {@code state}. A script that vanished is in neither list. */
    static Verdict verify(Path state, List<Path> scripts) {
        if (scripts.isEmpty()) return new Verdict(List.of(), List.of());
        Walk walk;
        try {
            walk = new Walk(Self.uid());
        } catch (IOException e) {
            Refusal r = new Refusal(state, state, -1, 0, "cannot tell which user this watcher runs as ("
                    + e.getMessage() + ")", "mount /proc, or set FM_CHECK_STRICT=0", true);
            return new Verdict(List.of(), List.of(r));
        }
        Path stateReal;
        try {
            stateReal = walk.to(state, true, state, null);
        } catch (Refused r) {
            // Whatever is wrong on the way to STATE is wrong for every check in it: one refusal.
            Refusal one = r.refusal;
            return new Verdict(List.of(), List.of(new Refusal(state, one.file(), one.uid(), one.mode(), one.reason(),
                    one.fix(), true)));
        } catch (IOException e) {
            return new Verdict(List.of(), List.of(cannotVerify(state, state, e, true)));
        }
        List<Path> trusted = new ArrayList<>();
        List<Refusal> refused = new ArrayList<>();
        for (Path check : scripts) {
            try {
                walk.to(check, false, check, stateReal.resolve(check.getFileName()));
                trusted.add(check);
            } catch (Refused r) {
                refused.add(r.refusal);
            } catch (NoSuchFileException gone) {
                // removed (or no longer a script) since the listing: nothing to run or to report
            } catch (IOException e) {
                refused.add(cannotVerify(check, check, e, false));
            }
        }
        return new Verdict(List.copyOf(trusted), List.copyOf(refused));
    }

    // ------------------------------------------------------------------ the rules

    /** A refusal found during a walk; it ends that walk. */
    private static final class Refused extends IOException {
        final Refusal refusal;

        Refused(Refusal refusal) {
            super(refusal.reason(), null);
            this.refusal = refusal;
        }
    }

    /**
     * The kernel's path walk, checked at every step. Directories already found good in this
     * verification are not looked at again (the state directory's path is walked once per sweep).
     */
    private static final class Walk {
        private final int me;
        private final Set<Path> goodDirs = new HashSet<>();

        Walk(int me) { this.me = me; }

        /**
         * Walks {@code path} to its end, which must be a directory ({@code wantDir}) or a regular
         * file; returns the real path reached. {@code direct} is where the file is when no link
         * is involved (its refusal then says "it"). Throws {@link Refused} on the first rule
         * broken, NoSuchFileException when the path leads nowhere or to the wrong kind of file.
         */
        Path to(Path path, boolean wantDir, Path check, Path direct) throws IOException {
            Deque<String> todo = new ArrayDeque<>();
            push(todo, path.toAbsolutePath());
            Path cur = Path.of("/");
            dir(cur, check);
            int links = 0;
            while (!todo.isEmpty()) {
                String name = todo.pop();
                if (name.equals(".")) continue;
                if (name.equals("..")) { // cur is a real directory, so ".." is its real parent
                    if (cur.getParent() != null) cur = cur.getParent();
                    continue;
                }
                Path next = cur.resolve(name);
                Facts f = Facts.of(next);
                if (f.link()) {
                    if (!owned(f.uid(), me)) {
                        throw refused(check, next, f, "link " + next + " is " + notOurs(me),
                                "chown -h " + Self.name(me) + " " + ShellWord.of(next) + ", or remove it");
                    }
                    if (++links > MAX_HOPS) throw new NoSuchFileException(path.toString(), null, "too many levels of symbolic links");
                    Path target = Files.readSymbolicLink(next);
                    if (target.isAbsolute()) cur = Path.of("/");
                    push(todo, target); // resolved from the directory holding the link, as the kernel does
                    continue;
                }
                if (f.directory()) {
                    cur = next;
                    dir(cur, check);
                    continue;
                }
                if (!f.regular() || !todo.isEmpty() || wantDir) throw new NoSuchFileException(next.toString());
                String it = next.equals(direct) ? "it" : "its target " + next;
                if (!owned(f.uid(), me)) {
                    throw refused(check, next, f, it + " is " + notOurs(me), "read it, then chown " + Self.name(me)
                            + " " + ShellWord.of(next) + ", or remove it");
                }
                if ((f.mode() & GROUP_OR_OTHER_WRITE) != 0) {
                    throw refused(check, next, f, it + " is writable by group or others", "chmod go-w " + ShellWord.of(next));
                }
                return next;
            }
            if (!wantDir) throw new NoSuchFileException(path.toString());
            return cur;
        }

        /** The directory rule: ours or root's, and not writable by group or others unless sticky. */
        private void dir(Path d, Path check) throws IOException {
            if (goodDirs.contains(d)) return;
            Facts f = Facts.of(d);
            if (!owned(f.uid(), me)) {
                throw refused(check, d, f, "directory " + d + " is " + notOurs(me), "chown " + Self.name(me) + " "
                        + ShellWord.of(d));
            }
            if ((f.mode() & GROUP_OR_OTHER_WRITE) != 0 && (f.mode() & STICKY) == 0) {
                throw refused(check, d, f, "directory " + d + " is writable by group or others without the sticky bit",
                        "chmod +t " + ShellWord.of(d) + ", or chmod go-w " + ShellWord.of(d));
            }
            goodDirs.add(d);
        }

        private static void push(Deque<String> todo, Path p) {
            List<String> names = new ArrayList<>();
            for (Path n : p) names.add(n.toString());
            for (int i = names.size() - 1; i >= 0; i--) todo.push(names.get(i));
        }
    }

    private static boolean owned(int uid, int me) { return uid == me || uid == 0; }

    private static String notOurs(int me) { return "not owned by you (uid " + me + ") or root"; }

    private static Refused refused(Path check, Path file, Facts f, String problem, String fix) {
        return new Refused(new Refusal(check, file, f.uid(), f.mode(), problem + facts(f), fix, false));
    }

    private static Refusal cannotVerify(Path check, Path p, IOException e, boolean every) {
        return new Refusal(check, p, -1, 0, p + " cannot be verified (" + e.getClass().getSimpleName() + ")",
                "make it readable to this user, or set FM_CHECK_STRICT=0", every);
    }

    private static String facts(Facts f) {
        return " (owner " + f.owner() + " uid " + f.uid() + ", mode " + String.format("%04o", f.mode()) + ")";
    }

    /** Owner and permission bits of one path, links not followed. */
    private record Facts(int uid, String owner, int mode, int type) {
        static Facts of(Path p) throws IOException {
            Map<String, Object> a;
            try {
                a = Files.readAttributes(p, "unix:mode,uid,owner", LinkOption.NOFOLLOW_LINKS);
            } catch (UnsupportedOperationException e) {
                throw new IOException("this system has no unix owners and modes", e);
            }
            int raw = (Integer) a.get("mode");
            return new Facts((Integer) a.get("uid"), String.valueOf(a.get("owner")), raw & 07777, raw & 0170000);
        }

        boolean link() { return type == 0120000; }
        boolean directory() { return type == 0040000; }
        boolean regular() { return type == 0100000; }
    }

    /**
     * One line of tab-separated fields, always: every control character in a file name (tabs
     * too, unlike {@code StateFiles.oneLine}) is shown as '?'.
     */
    private static String printable(String s) {
        return s.replaceAll("\\p{Cntrl}", "?");
    }

    // ------------------------------------------------------------------ who we are

    /** The effective uid of this process (what file access checks use), and a name to print. */
    static final class Self {
        private static Integer uid;

        private Self() {}

        static synchronized int uid() throws IOException {
            if (uid == null) uid = read();
            return uid;
        }

        private static int read() throws IOException {
            // /proc/self/status "Uid:" holds real, effective, saved and file-system uids.
            try {
                for (String l : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.UTF_8)) {
                    if (l.startsWith("Uid:")) return Integer.parseInt(l.substring(4).trim().split("\\s+")[1]);
                }
            } catch (IOException | RuntimeException e) {
                // no /proc (macOS): the owner of a file we create is us
            }
            Path probe = Files.createTempFile("fm-uid", null);
            try {
                return (Integer) Files.getAttribute(probe, "unix:uid");
            } finally {
                Files.deleteIfExists(probe);
            }
        }

        /** How to name us in a chown: root, else the login name (display only), else the uid. */
        static String name(int me) {
            if (me == 0) return "root";
            String n = System.getProperty("user.name");
            return n == null || n.isEmpty() || n.equals("?") ? Integer.toString(me) : n;
        }
    }

    // ------------------------------------------------------------------ what was already said

    /**
     * Says each refusal once: once per distinct (check, file, owner, mode) for as long as it
     * stays refused, across sweeps and across watcher cycles (each cycle is a fresh process,
     * so memory alone would repeat the line at every wake). The marker holds exactly the
     * refusals of the latest sweep: a fixed check leaves it, and breaking it again is news.
     *
     * The marker is believed only when it passes the script rule (ours or root's, a regular
     * file, not writable by others): in a sticky state directory another user could plant one
     * to silence us. It is replaced by a rename of a file created exclusively, never written
     * through a link someone planted at its name. A marker that cannot be written only means
     * the next cycle repeats its lines.
     */
    static final class Reported {
        private final Path marker;
        private Set<String> said; // null until first read; then what the marker holds

        Reported(Path state) { this.marker = state.resolve(MARKER); }

        /** Prints each refusal not yet reported on {@code err}, then remembers exactly {@code now}. */
        void report(List<Refusal> now, PrintStream err) {
            if (said == null) said = load();
            Set<String> keys = new LinkedHashSet<>();
            for (Refusal r : now) {
                if (keys.add(r.key()) && !said.contains(r.key())) {
                    err.println(r.line());
                    err.flush();
                }
            }
            if (keys.equals(said)) return;
            said = keys;
            save(keys);
        }

        private Set<String> load() {
            Set<String> keys = new LinkedHashSet<>();
            if (!trusted()) return keys;
            String text = StateFiles.read(marker, MARKER_MAX);
            if (text != null) for (String l : text.split("\n")) if (!l.isEmpty()) keys.add(l);
            return keys;
        }

        private boolean trusted() {
            try {
                Facts f = Facts.of(marker);
                return f.regular() && owned(f.uid(), Self.uid())
                        && (f.mode() & GROUP_OR_OTHER_WRITE) == 0;
            } catch (IOException e) {
                return false;
            }
        }

        private void save(Set<String> keys) {
            try {
                boolean exists = Files.exists(marker, LinkOption.NOFOLLOW_LINKS);
                if (exists && !trusted()) return; // someone else's file: neither believed nor touched
                if (keys.isEmpty()) {
                    Files.deleteIfExists(marker);
                    return;
                }
                StringBuilder text = new StringBuilder();
                for (String k : keys) {
                    if (text.length() + k.length() + 1 > MARKER_MAX) break;
                    text.append(k).append('\n');
                }
                Path tmp = marker.resolveSibling(MARKER + ".tmp." + ProcessHandle.current().pid());
                Files.deleteIfExists(tmp); // our own pid's leftover from a crash
                try {
                    // CREATE_NEW fails on anything already there, a planted link included.
                    Files.writeString(tmp, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW,
                            StandardOpenOption.WRITE);
                    Files.move(tmp, marker, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } finally {
                    Files.deleteIfExists(tmp);
                }
            } catch (IOException | RuntimeException e) {
                // only costs a repeated line in the next cycle
            }
        }
    }
}
