/**
 * A string as one word of a POSIX shell command line, for lines a user pastes and scripts we
 * write: single quotes keep every byte but NUL as it is (a quote inside is closed, escaped and
 * reopened). The one place that quotes for a shell; only launch/LaunchCache.java, which must
 * compile alone, keeps a copy.
 */
final class ShellWord {
    private ShellWord() {}

    /** Left bare when it holds only characters no shell treats specially, else {@link #quoted}. */
    static String of(String s) {
        return !s.isEmpty() && s.matches("[A-Za-z0-9_./:@%+=,-]+") ? s : quoted(s);
    }

    static String of(java.nio.file.Path p) {
        return of(p.toString());
    }

    /** Always single-quoted, so a script's text stays the same whatever the path holds. */
    static String quoted(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
