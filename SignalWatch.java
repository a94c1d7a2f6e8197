import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Cuts the wait between polls short when a signal file in STATE is created or written
 * (watcher.md "Doing better than polling"). Only a hint: the poll that follows decides with
 * the usual signatures and markers, and when no file-system watch is available (or a
 * symlinked status lives elsewhere) the plain FM_POLL schedule still catches everything.
 */
final class SignalWatch implements AutoCloseable {
    private final WatchService service; // null: plain sleeping

    private SignalWatch(WatchService service) { this.service = service; }

    static SignalWatch open(Path state) {
        WatchService ws = null;
        try {
            ws = FileSystems.getDefault().newWatchService();
            state.register(ws, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY);
            return new SignalWatch(ws);
        } catch (IOException | UnsupportedOperationException e) {
            closeQuietly(ws);
            return new SignalWatch(null);
        }
    }

    /** Waits up to {@code limit}; true as soon as a signal file changed. */
    boolean await(Duration limit) {
        long end = System.nanoTime() + limit.toNanos();
        if (service == null) {
            FmProc.sleepQuietly(Math.max(1, limit.toMillis()));
            return false;
        }
        try {
            while (true) {
                long left = end - System.nanoTime();
                if (left <= 0) return false;
                WatchKey key = service.poll(left, TimeUnit.NANOSECONDS);
                if (key == null) return false;
                boolean relevant = false;
                for (WatchEvent<?> e : key.pollEvents()) {
                    // OVERFLOW carries no name: something was lost, so look.
                    if (!(e.context() instanceof Path)) relevant = true;
                    else if (isSignalName(e.context().toString())) relevant = true;
                }
                if (!key.reset()) {
                    // STATE itself went away; the next poll finds out why. Sleep out the rest.
                    FmProc.sleepQuietly(Math.max(1, TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime())));
                    return relevant;
                }
                if (relevant) return true;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (ClosedWatchServiceException e) {
            return false;
        }
    }

    static boolean isSignalName(String name) {
        return !name.startsWith(".") && (name.endsWith(".status") || name.endsWith(".turn-ended"));
    }

    @Override
    public void close() { closeQuietly(service); }

    private static void closeQuietly(WatchService ws) {
        if (ws == null) return;
        try {
            ws.close();
        } catch (IOException ignored) {
            // nothing more to release
        }
    }
}
