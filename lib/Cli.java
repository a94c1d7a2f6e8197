/**
 * What every command's command line shares, so that they read as one tool: the version that
 * {@code --version} prints and the sentence of every {@code --help} that says which home a
 * command works on. Each command still parses its own arguments by hand (start-up time).
 */
final class Cli {
    /** The one version of every command; bump it here only. */
    static final String VERSION = "0.1.0";

    /** The help line that says where the home is; FmHome.resolve is the rule it describes. */
    static final String HOME_HELP = "Home: FM_HOME (else FM_ROOT_OVERRIDE, else this checkout), which must exist;"
            + " its state directory is <home>/state or FM_STATE_OVERRIDE.";

    private Cli() {}

    /** The line {@code --version} prints: "<command> <version>". */
    static String version(String command) { return command + " " + VERSION; }

    /**
     * Answers {@code -h}/{@code --help} with {@code help} and {@code -V}/{@code --version} with
     * {@link #version}, on stdout; true when {@code arg} was one of them (the command exits 0).
     * Where in the command line such a flag counts stays each command's own choice.
     */
    static boolean helpOrVersion(String arg, String help, String command) {
        switch (arg) {
            case "-h", "--help" -> System.out.println(help);
            case "-V", "--version" -> System.out.println(version(command));
            default -> { return false; }
        }
        return true;
    }
}
