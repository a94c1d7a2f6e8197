//usr/bin/env true; exec "$(dirname "$0")/../../jbang" "$0" "$@"
//JAVA 17+
//SOURCES ../../lib/WakeQueue.java
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData
//MAIN QueueAppend

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Test helper: one appender process for the queue race tests.
 *   queue-append.java <state-dir> <tag> <count> [<batch>]
 * appends <count> records with unique keys "<tag>-<i>" and payloads "from <tag> #<i>",
 * <batch> per lock hold (default 1), kinds cycling signal/stale/check (never heartbeat,
 * which a drain folds whatever its key). Exit 1 with one line when an append fails.
 */
class QueueAppend {
    public static void main(String[] args) throws Exception {
        Path state = Path.of(args[0]).toAbsolutePath();
        String tag = args[1];
        int count = Integer.parseInt(args[2]);
        int batch = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        FmHome home = FmHome.of(state.getParent(), state, state.resolveSibling("fm-watch.java"));
        WakeQueue queue = new WakeQueue(home, Knobs.fromEnvironment());
        String[] kinds = {"signal", "stale", "check"};
        List<WakeQueue.Entry> pending = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            pending.add(new WakeQueue.Entry(kinds[i % kinds.length], tag + "-" + i, "from " + tag + " #" + i));
            if (pending.size() == batch || i == count - 1) {
                try {
                    queue.append(pending);
                } catch (java.io.IOException e) {
                    System.err.println("queue-append: " + e.getMessage());
                    System.exit(1);
                }
                pending.clear();
            }
        }
    }
}
