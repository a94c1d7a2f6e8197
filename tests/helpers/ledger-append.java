//usr/bin/env true; exec "$(dirname "$0")/../../jbang" "$0" "$@"
//JAVA 17+
//SOURCES ../../lib/Ledger.java
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
//MAIN LedgerAppend

// Test driver for concurrent ledger appends: writes <n> records of two lines each (a start and
// its end, one Ledger.append call per record, as a refused start does) to <state>/.watch-cycles.log.
// Record i of this process starts "... via=replace:<i> ..." and carries <pad> bytes of identity,
// so a reader can tell whether any two writers' bytes interleaved. Prints "done <failures>".
// Usage: ledger-append.java <state> <n> <pad>

import java.nio.file.Path;

class LedgerAppend {
    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: ledger-append.java <state> <n> <pad>");
            System.exit(2);
        }
        Path file = Path.of(args[0]).resolve(Ledger.NAME);
        int n = Integer.parseInt(args[1]);
        String pad = "x".repeat(Integer.parseInt(args[2]));
        long pid = ProcessHandle.current().pid();
        int failures = 0;
        for (int i = 0; i < n; i++) {
            long now = System.currentTimeMillis();
            String record = now + " start pid=" + pid + " via=replace:" + i + " prev-beat=none id=test " + pad + "\n"
                    + now + " end pid=" + pid + " how=refused\n";
            if (!Ledger.append(file, record)) failures++;
        }
        System.out.println("done " + failures);
    }
}
