//SOURCES FmProc.java

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Cuts the wait between polls short when a signal file in STATE is created or written
 * (docs/watcher.md "Doing better than polling"). Only a hint: the poll that follows decides with
 * the usual signatures and markers, and when no file-system watch is available the plain
 * FM_POLL schedule still catches everything.
 *
 * A symlinked status whose target lives elsewhere changes without any event in STATE, so the
 * directories holding such targets are watched too (at most {@link #MAX_TARGET_DIRS}; the
 * links are looked up again at every wait, so new, moved and removed links are followed).
 */
final class SignalWatch implements AutoCloseable {
    /** A fleet has far fewer mount points than this; beyond it, polling covers the rest. */
    static final int MAX_TARGET_DIRS = 32;

    private final WatchService service; // null: plain sleeping
    private final Path state;
    private final WatchKey stateKey;
    private final Map<Path, WatchKey> targetDirs = new HashMap<>();
    private final Map<WatchKey, Set<String>> targetNames = new HashMap<>();

    private SignalWatch(WatchService service, Path state, WatchKey stateKey) {
        this.service = service;
        this.state = state;
        this.stateKey = stateKey;
    }

    static SignalWatch open(Path state) {
        WatchService ws = null;
        try {
            ws = FileSystems.getDefault().newWatchService();
            WatchKey key = state.register(ws, StandardWatchEventKinds.ENTRY_CREATE,
                    StandardWatchEventKinds.ENTRY_MODIFY);
            return new SignalWatch(ws, state, key);
        } catch (IOException | UnsupportedOperationException e) {
            closeQuietly(ws);
            return new SignalWatch(null, state, null);
        }
    }

    /** Waits up to {@code limit}; true as soon as a signal file (or a link's target) changed. */
    boolean await(Duration limit) {
        long end = System.nanoTime() + limit.toNanos();
        if (service == null) {
            FmProc.sleepQuietly(Math.max(1, limit.toMillis()));
            return false;
        }
        try {
            followLinkTargets();
            while (true) {
                long left = end - System.nanoTime();
                if (left <= 0) return false;
                WatchKey key = service.poll(left, TimeUnit.NANOSECONDS);
                if (key == null) return false;
                Set<String> targets = key == stateKey ? null : targetNames.getOrDefault(key, Set.of());
                boolean relevant = false;
                for (WatchEvent<?> e : key.pollEvents()) {
                    if (matters(e, targets)) relevant = true;
                }
                if (!key.reset()) {
                    if (key != stateKey) {
                        forget(key); // a target's directory went away; the next wait looks again
                        if (relevant) return true;
                        continue;
                    }
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

    /** In STATE ({@code targets} null) a signal name matters, elsewhere only a link's target. */
    private static boolean matters(WatchEvent<?> e, Set<String> targets) {
        if (!(e.context() instanceof Path)) return true; // OVERFLOW carries no name: something was lost, so look
        String name = e.context().toString();
        return targets == null ? isSignalName(name) : targets.contains(name);
    }

    static boolean isSignalName(String name) {
        return !name.startsWith(".") && (name.endsWith(".status") || name.endsWith(".turn-ended"));
    }

    /** Watches the directory of every signal link's target outside STATE, and nothing else. */
    private void followLinkTargets() {
        Map<Path, Set<String>> wanted = new HashMap<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(state)) {
            Path realState = state.toRealPath();
            for (Path p : dir) {
                if (!isSignalName(p.getFileName().toString()) || !Files.isSymbolicLink(p)) continue;
                Path target = linkTarget(p);
                Path parent = target == null ? null : target.getParent();
                if (parent == null || parent.equals(realState) || target.getFileName() == null) continue;
                if (!wanted.containsKey(parent) && wanted.size() >= MAX_TARGET_DIRS) continue;
                wanted.computeIfAbsent(parent, k -> new HashSet<>()).add(target.getFileName().toString());
            }
        } catch (IOException | RuntimeException e) {
            return; // STATE unreadable right now: keep what we watch; the poll reports the problem
        }
        for (Iterator<Map.Entry<Path, WatchKey>> it = targetDirs.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Path, WatchKey> e = it.next();
            if (wanted.containsKey(e.getKey())) continue;
            e.getValue().cancel();
            targetNames.remove(e.getValue());
            it.remove();
        }
        for (Map.Entry<Path, Set<String>> e : wanted.entrySet()) {
            WatchKey key = targetDirs.get(e.getKey());
            if (key == null) {
                try {
                    key = e.getKey().register(service, StandardWatchEventKinds.ENTRY_CREATE,
                            StandardWatchEventKinds.ENTRY_MODIFY);
                } catch (IOException | RuntimeException unwatchable) {
                    continue; // gone or unreadable: polling still sees the file
                }
                targetDirs.put(e.getKey(), key);
            }
            targetNames.put(key, e.getValue());
        }
    }

    /** Where a link finally points; for a dangling link, where it would point once created. */
    private static Path linkTarget(Path link) {
        try {
            return link.toRealPath();
        } catch (IOException dangling) {
            try {
                return link.resolveSibling(Files.readSymbolicLink(link)).normalize();
            } catch (IOException | RuntimeException e) {
                return null;
            }
        }
    }

    private void forget(WatchKey key) {
        targetNames.remove(key);
        targetDirs.values().remove(key);
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
