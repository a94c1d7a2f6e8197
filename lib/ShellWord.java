/**
 * A string as one word of a POSIX shell command line, for lines a user pastes: left bare when
 * it holds only characters no shell treats specially, else single-quoted (a quote inside is
 * closed, escaped and reopened), which keeps every byte but NUL as it is.
 */
final class ShellWord {
    private ShellWord() {}

    static String of(String s) {
        return !s.isEmpty() && s.matches("[A-Za-z0-9_./:@%+=,-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }

    static String of(java.nio.file.Path p) {
        return of(p.toString());
    }
}
