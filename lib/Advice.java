//SOURCES FmHome.java Knobs.java ShellWord.java

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How advice lines (fm-status's next:, the guard's banner and queued warning, the drain's
 * warning) name the commands they tell the user to run, so that each line can be pasted as
 * printed into a shell in any directory: this checkout's script by its absolute path, with
 * {@code FM_HOME=<home>} in front when the home is not the checkout (the default home), and
 * {@code FM_STATE_OVERRIDE=<state>} when that is set.
 *
 * FM_ARM_COMMAND and FM_DRAIN_COMMAND override the arm and the drain as given; an adopted home's
 * shims set them to {@code bin/fm-watch-arm.sh} and {@code bin/fm-wake-drain.sh}, so a value
 * that is a file relative to the home is named by its absolute path (the shim sets FM_HOME).
 */
record Advice(String arm, String drain, String status) {
    static final String ARM = "fm-watch-arm.java";
    static final String DRAIN = "fm-wake-drain.java";
    static final String STATUS = "fm-status.java";

    static Advice of(FmHome home, Knobs knobs) {
        Path checkout = home.watcherPath.getParent();
        StringBuilder env = new StringBuilder();
        if (!home.home.equals(checkout)) env.append("FM_HOME=").append(ShellWord.of(home.home)).append(' ');
        if (knobs.raw("FM_STATE_OVERRIDE") != null) env.append("FM_STATE_OVERRIDE=").append(ShellWord.of(home.state)).append(' ');
        return new Advice(
                override(knobs.armCommand(), home, env + ShellWord.of(checkout.resolve(ARM))),
                override(knobs.drainCommand(), home, env + ShellWord.of(checkout.resolve(DRAIN))),
                env + ShellWord.of(checkout.resolve(STATUS)));
    }

    /**
     * No home could be resolved: the checkout is known when the command was started by its path,
     * else only the scripts' names can be given.
     */
    static Advice unresolved(Knobs knobs, Path checkout) {
        String arm = checkout == null ? ARM : ShellWord.of(checkout.resolve(ARM));
        String drain = checkout == null ? DRAIN : ShellWord.of(checkout.resolve(DRAIN));
        String status = checkout == null ? STATUS : ShellWord.of(checkout.resolve(STATUS));
        return new Advice(knobs.armCommand() != null ? knobs.armCommand() : arm,
                knobs.drainCommand() != null ? knobs.drainCommand() : drain, status);
    }

    private static String override(String knob, FmHome home, String ours) {
        if (knob == null) return ours;
        if (!knob.startsWith("/") && knob.matches("[A-Za-z0-9_./-]+")) {
            Path p = home.home.resolve(knob).normalize();
            if (Files.isRegularFile(p)) return ShellWord.of(p);
        }
        return knob;
    }
}
