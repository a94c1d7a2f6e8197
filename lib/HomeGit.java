import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A firstmate home's checkout as git sees it, for fm-adopt --update: is it the top of a work
 * tree on a branch with an upstream, where is HEAD, and a fast-forward pull.
 *
 * The update is {@code git pull --ff-only}, not the home's own bin/fm-update.sh: that script
 * also updates every secondmate home it knows of (wider than the one home named here) and
 * reports a skipped home in a line while exiting 0, so its exit status cannot say whether
 * this home moved. A fast-forward either moves HEAD to the upstream's commit or fails and
 * leaves it where it was, which is what the update's "adopted or un-adopted, never half" needs.
 *
 * git runs with stdin closed and GIT_TERMINAL_PROMPT=0, so a remote that wants a password
 * fails instead of waiting for a reply nobody types; it is not time-bounded (a slow remote
 * is the user's to interrupt, and an interrupted update is finished by running it again).
 */
final class HomeGit {
    /** What one git command did: its exit status (-1: it could not run) and its output, both streams. */
    record Outcome(int exit, String output) {
        boolean ok() { return exit == 0; }

        /** git's own last word, for a one-line error: its last non-empty line ("fatal: ..." comes last). */
        String reason() {
            String[] lines = output.strip().split("\n");
            for (int i = lines.length - 1; i >= 0; i--) {
                if (!lines[i].isBlank()) return lines[i].strip();
            }
            return "git exited " + exit + " without a word";
        }
    }

    /** Kept of a command's output: enough for its last line, never a heap full of a chatty remote. */
    private static final int KEEP = 64 * 1024;

    private final Path home;

    HomeGit(Path home) {
        this.home = home;
    }

    /**
     * Why an update of the home cannot start, or empty when it can: the home must be the top
     * of a git work tree (a home inside a larger checkout would pull the larger one) whose
     * branch tracks an upstream. Changes nothing.
     */
    Optional<String> whyNot() {
        Outcome top = git("rev-parse", "--show-toplevel");
        if (!top.ok() || !sameDirectory(top.output().strip(), home)) {
            return Optional.of(top.exit() == -1 ? top.reason() : "it is not the top of a git checkout");
        }
        Outcome upstream = git("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}");
        if (!upstream.ok()) {
            return Optional.of("its HEAD is not on a branch that tracks an upstream (git: " + upstream.reason()
                    + "); update it your own way between --undo and adopting it again");
        }
        return Optional.empty();
    }

    /** The upstream the branch tracks ({@code origin/main}), for messages. */
    String upstream() {
        return git("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}").output().strip();
    }

    /** HEAD's commit, or "unknown" when git cannot say (the messages still make sense). */
    String head() {
        Outcome o = git("rev-parse", "--verify", "HEAD");
        return o.ok() ? o.output().strip() : "unknown";
    }

    static String brief(String commit) {
        return commit.length() > 12 ? commit.substring(0, 12) : commit;
    }

    /** Moves the branch to its upstream's commit, or fails and leaves it where it was. */
    Outcome pullFastForward() {
        return git("pull", "--ff-only", "--no-rebase", "--quiet");
    }

    private Outcome git(String... args) {
        List<String> cmd = new ArrayList<>(List.of("git", "-C", home.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectErrorStream(true);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().put("GIT_TERMINAL_PROMPT", "0");
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return new Outcome(-1, "cannot run git (" + e.getMessage() + "); install git or update the home your own way");
        }
        ByteArrayOutputStream kept = new ByteArrayOutputStream();
        try (InputStream in = p.getInputStream()) {
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) > 0; ) {
                // The tail is what matters (git's error comes last): keep the latest bytes.
                kept.write(buf, 0, n);
                if (kept.size() > 2 * KEEP) {
                    byte[] all = kept.toByteArray();
                    kept.reset();
                    kept.write(all, all.length - KEEP, KEEP);
                }
            }
            return new Outcome(p.waitFor(), kept.toString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Outcome(-1, "lost git's output (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroy();
            return new Outcome(-1, "interrupted while git ran");
        }
    }

    private static boolean sameDirectory(String reported, Path home) {
        try {
            return Path.of(reported).toRealPath().equals(home.toRealPath());
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
