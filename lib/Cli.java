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
}
