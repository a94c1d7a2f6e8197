import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A note, for a person at a terminal, of what a long wait is waiting for. Agents parse our
 * streams, so a note goes to stderr only, and only when stderr is a terminal; stdout never
 * carries one. System.console() cannot tell: it asks about stdin and stdout, not stderr.
 */
final class Progress {
    private static volatile Boolean terminal;

    private Progress() {}

    /** Whether fd 2 is a terminal: its /proc link names a pseudo-terminal or a tty device. */
    static boolean stderrIsTerminal() {
        Boolean t = terminal;
        if (t == null) {
            boolean yes;
            try {
                String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
                yes = target.startsWith("/dev/pts/") || target.startsWith("/dev/tty") || target.equals("/dev/console");
            } catch (IOException | UnsupportedOperationException | SecurityException e) {
                yes = false; // cannot tell: stay silent, as for a pipe
            }
            terminal = t = yes;
        }
        return t;
    }

    /** Prints {@code what} (one line) on stderr when stderr is a terminal; UTF-8 whatever the locale. */
    static void note(String what) {
        if (!stderrIsTerminal()) return;
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        err.println(what);
        err.flush();
    }
}
