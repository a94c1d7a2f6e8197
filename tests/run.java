//usr/bin/env true; exec "$(dirname "$0")/../jbang" "$0" "$@"
//JAVA 17+
//DEPS org.junit.jupiter:junit-jupiter:5.14.1
//DEPS org.junit.platform:junit-platform-launcher:1.14.1
//SOURCES ../lib/Arm.java ../lib/Guard.java ../lib/Status.java
//SOURCES TestKit.java Debuggee.java AdoptHome.java helpers/Witness.java *Test.java
//JAVA_OPTIONS -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData
//MAIN run

import static org.junit.platform.engine.discovery.ClassNameFilter.includeClassNamePatterns;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClasspathRoots;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * The test command: runs every *Test class of tests/ with JUnit Jupiter and ends with the
 * line "N passed, N failed" (exit 1 on any failure or when nothing ran).
 *   tests/run.java                  all tests
 *   tests/run.java FmLockTest ...   only classes whose simple name matches one of the regexes
 *   tests/run.java --list           the test classes, one a line (nothing runs)
 * Regexes that match no test class are a usage error (exit 2): a typo must not look like a run.
 *
 * A test that did not run is not a pass: a skipped or aborted test (a failed assumption, a
 * disabled class) fails the run, unless ENVIRONMENT_SKIPS below names it with the reason the
 * environment can make it meaningless; those are printed as SKIP lines with that reason.
 * Before anything runs, a missing prerequisite (tmux, bash, /proc) is named in one line.
 */
class run {
    /**
     * The only tests allowed to stand down, and the one environmental reason each may have.
     * Keys are Class.method; anything not here that skips or aborts counts as failed.
     */
    static final Map<String, String> ENVIRONMENT_SKIPS = Map.ofEntries(
            Map.entry("BadInputFsTest.aFullStateDirectoryFailsTheWakeWithoutAdvancingMarkers",
                    "mounting a small tmpfs needs root"),
            Map.entry("BadInputFsTest.aHomeWithSpacesAndNonAsciiWorksEndToEnd",
                    "non-ASCII file names need the JVM to run under a UTF-8 locale"),
            Map.entry("BadInputFsTest.aNonAsciiHomeUnderTheCLocaleIsOneClearLine",
                    "non-ASCII file names need the JVM to run under a UTF-8 locale"),
            Map.entry("LockRaceTest.aContenderOfAnotherUserNeverTakesALiveHoldersLock",
                    "running a contender as another user needs root"),
            Map.entry("CheckTrustTest.aCheckOwnedByAnotherUserIsRefusedEvenAt0755",
                    "giving a check to another user (chown) needs root"),
            Map.entry("CheckTrustTest.aLinkOwnedByAnotherUserIsRefusedEvenToAGoodScript",
                    "giving a link to another user (chown -h) needs root"),
            Map.entry("PidNamespaceTest.aHolderInAnotherPidNamespaceKeepsItsLock",
                    "creating a pid namespace (unshare --pid) needs root and a kernel that allows it"),
            Map.entry("PidNamespaceTest.aContenderInAnotherPidNamespaceLeavesALiveHolderAlone",
                    "creating a pid namespace (unshare --pid) needs root and a kernel that allows it"),
            Map.entry("PidNamespaceTest.theArmAndStatusNeverReplaceOrSignalAWatcherInAnotherPidNamespace",
                    "creating a pid namespace (unshare --pid) needs root and a kernel that allows it"),
            Map.entry("LockIdentityTest.aHolderHiddenFromProcIsAlive",
                    "mounting /proc with hidepid and becoming nobody needs root"),
            Map.entry("CheckTrustTest.aMarkerSomeoneElsePlantedNeitherSilencesUsNorIsWrittenThrough",
                    "giving the marker to another user (chown) needs root"),
            Map.entry("QueueSafetyTest.aNearlyFullDiskNeverBlocksTheDrain",
                    "mounting a small tmpfs needs root"),
            Map.entry("QueueSafetyTest.aDrainThatFailsOnAFullDiskLeavesItsRecordsInOrderForTheNext",
                    "mounting a small tmpfs needs root"),
            Map.entry("QueueSafetyTest.aFailedAppendLeavesNoPartialLineForABashAppender",
                    "mounting a small tmpfs needs root"),
            Map.entry("QueueSafetyTest.aLeftoverWhosePidWasReusedComesOutFirst",
                    "giving a new process a chosen pid (/proc/sys/kernel/ns_last_pid) needs root"),
            Map.entry("QueueSafetyTest.aLeftoverThatCannotBeTakenOverIsReportedAsBelongingInFront",
                    "making a file immutable (chattr +i) needs root and a file system that supports it"),
            Map.entry("QueueSafetyTest.everyRenameAndCreationIsForcedToDiskBeforeTheLockIsReleased",
                    "observing system calls needs strace (apt-get install strace)"));

    /** What the tests run besides Java; each missing one is named before anything runs. */
    static final List<String[]> PREREQUISITES = List.of(
            new String[] {"tmux", "install tmux (Debian/Ubuntu: apt-get install tmux; macOS: brew install tmux)"},
            new String[] {"bash", "install bash"},
            // The bash tools' pid-identity lines are written by ps itself in the tests.
            new String[] {"ps", "install procps (Debian/Ubuntu: apt-get install procps)"});

    /**
     * A shell without job control starts `cmd &` with INT ignored, and an ignored signal stays
     * ignored in every process the tests start: the signal tests would fail for a reason that
     * has nothing to do with the code. Say so before anything runs.
     */
    static String ignoredSignals() {
        try {
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
                if (!line.startsWith("SigIgn:")) continue;
                long mask = Long.parseUnsignedLong(line.substring(7).strip(), 16);
                List<String> names = new ArrayList<>();
                if ((mask & (1L << 0)) != 0) names.add("HUP");
                if ((mask & (1L << 1)) != 0) names.add("INT");
                if ((mask & (1L << 14)) != 0) names.add("TERM");
                if (names.isEmpty()) return null;
                return String.join(", ", names) + " ignored in this process (started with & by a shell without job control,"
                        + " or under nohup); the signal tests need them: run in the foreground, or under `set -m`";
            }
        } catch (java.io.IOException | RuntimeException e) {
            // no /proc: the missing-prerequisite check names it
        }
        return null;
    }

    static final String USAGE = "Usage: tests/run.java [--list | -h | --help] [ClassRegex...]";

    public static void main(String[] args) throws Exception {
        boolean list = false;
        List<String> regexes = new ArrayList<>();
        for (String a : args) {
            if (a.equals("--list")) {
                list = true;
            } else if (a.equals("--help") || a.equals("-h")) {
                System.out.println(USAGE + "\nRun the test classes (all, or those whose simple name matches a regex);"
                        + " the last line is \"N passed, N failed\". --list names the classes.");
                return;
            } else if (a.startsWith("-")) {
                System.err.println("tests: unknown option '" + a + "'");
                System.err.println(USAGE);
                System.exit(2);
            } else {
                regexes.add(a);
            }
        }
        if (list) {
            if (!regexes.isEmpty()) {
                System.err.println("tests: --list takes no class regexes");
                System.err.println(USAGE);
                System.exit(2);
            }
            for (String c : classes(discover(List.of()))) System.out.println(c);
            return;
        }
        String missing = missingPrerequisite();
        if (missing != null) {
            System.out.println("tests: " + missing);
            System.exit(1);
        }
        String ignored = ignoredSignals();
        if (ignored != null) {
            System.out.println("tests: " + ignored);
            System.exit(1);
        }
        TestPlan plan = discover(regexes);
        if (!plan.containsTests()) {
            System.err.println("tests: no test class matches " + String.join(" ", regexes)
                    + "; tests/run.java --list names them");
            System.exit(2);
        }
        AtomicInteger passed = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        AtomicInteger skipped = new AtomicInteger();
        long started = System.nanoTime();
        Map<String, Long> startedAt = new java.util.concurrent.ConcurrentHashMap<>();
        TestExecutionListener report = new TestExecutionListener() {
            @Override
            public void executionStarted(TestIdentifier id) {
                startedAt.put(id.getUniqueId(), System.nanoTime());
            }

            /** How long the test took, so a slow class shows itself in every CI log. */
            private String took(TestIdentifier id) {
                Long t = startedAt.remove(id.getUniqueId());
                return t == null ? "" : String.format(" (%.1fs)", (System.nanoTime() - t) / 1e9);
            }

            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                notRun(id, "skipped: " + reason);
            }

            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                if (result.getStatus() == TestExecutionResult.Status.ABORTED) { // a failed assumption
                    notRun(id, "aborted: " + result.getThrowable().map(Throwable::getMessage).orElse("assumption"));
                    return;
                }
                boolean ok = result.getStatus() == TestExecutionResult.Status.SUCCESSFUL;
                if (!id.isTest()) {
                    if (!ok) { // a failing @BeforeAll or class setup
                        failed.incrementAndGet();
                        System.out.println("FAIL " + id.getDisplayName() + " (setup)");
                        result.getThrowable().ifPresent(t -> t.printStackTrace(System.out));
                    }
                    return;
                }
                String name = displayName(id);
                if (ok) {
                    passed.incrementAndGet();
                    System.out.println("ok   " + name + took(id));
                } else {
                    failed.incrementAndGet();
                    System.out.println("FAIL " + name + took(id));
                    result.getThrowable().ifPresent(t -> t.printStackTrace(System.out));
                }
                System.out.flush();
            }

            /** A test or class that did not run: allowed only for the listed environment reasons. */
            private void notRun(TestIdentifier id, String why) {
                String key = methodKey(id);
                String allowed = ENVIRONMENT_SKIPS.get(key);
                if (allowed != null) {
                    skipped.incrementAndGet();
                    System.out.println("SKIP " + displayName(id) + " (" + allowed + "; " + why + ")");
                } else {
                    failed.incrementAndGet();
                    System.out.println("FAIL " + displayName(id) + " (did not run: " + why
                            + "; only tests listed in tests/run.java ENVIRONMENT_SKIPS may skip)");
                }
                System.out.flush();
            }
        };
        LAUNCHER.execute(plan, report);
        long secs = (System.nanoTime() - started) / 1_000_000_000L;
        System.out.println("time: " + secs + "s");
        String line = passed.get() + " passed, " + failed.get() + " failed";
        if (skipped.get() > 0) line += ", " + skipped.get() + " skipped (environment)";
        System.out.println(line);
        System.exit(failed.get() == 0 && passed.get() > 0 ? 0 : 1);
    }

    private static final Launcher LAUNCHER = LauncherFactory.create();

    /** The tests of the classes matching {@code regexes} (all *Test classes when there are none). */
    static TestPlan discover(List<String> regexes) throws Exception {
        Path root = Path.of(run.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> patterns = new ArrayList<>();
        for (String a : regexes) patterns.add(a.contains(".") && !a.contains("*") ? a : a + ".*");
        if (patterns.isEmpty()) patterns.add(".*Test");
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClasspathRoots(Set.of(root)))
                .filters(includeClassNamePatterns(patterns.toArray(String[]::new)))
                .build();
        return LAUNCHER.discover(request);
    }

    /** The simple names of the test classes in {@code plan}, sorted. */
    static List<String> classes(TestPlan plan) {
        java.util.TreeSet<String> names = new java.util.TreeSet<>();
        for (TestIdentifier engine : plan.getRoots()) {
            for (TestIdentifier c : plan.getChildren(engine)) {
                if (c.getUniqueId().contains("[class:")) names.add(c.getDisplayName());
            }
        }
        return new ArrayList<>(names);
    }

    /** Class.method(args) for a test, the display name for a container. */
    static String displayName(TestIdentifier id) {
        String u = id.getUniqueId();
        if (!u.contains("[method:") && !u.contains("[test-template:")) return id.getDisplayName();
        String name = u.replaceAll(".*\\[class:([^\\]]*)\\].*\\[(?:method|test-template):([^\\]]*)\\].*", "$1.$2");
        if (u.contains("[test-template-invocation:")) name += " " + id.getDisplayName();
        return name;
    }

    /** Class.method without arguments: the allowlist's key. */
    static String methodKey(TestIdentifier id) {
        String n = displayName(id);
        int paren = n.indexOf('(');
        if (paren >= 0) n = n.substring(0, paren);
        int dot = n.lastIndexOf('.', n.length() - 1);
        String cls = n.substring(0, Math.max(0, dot));
        return (cls.contains(".") ? cls.substring(cls.lastIndexOf('.') + 1) : cls) + n.substring(Math.max(0, dot));
    }

    /** The first prerequisite not found on PATH (or /proc missing), as one line; null when all are there. */
    static String missingPrerequisite() {
        for (String[] p : PREREQUISITES) {
            if (!onPath(p[0])) return p[0] + " is not on PATH; " + p[1] + ", or run bash .ci/run, which installs it";
        }
        if (!java.nio.file.Files.isDirectory(Path.of("/proc/self"))) {
            return "/proc is not mounted; the tests read process facts from it (Linux only)";
        }
        return null;
    }

    private static boolean onPath(String command) {
        String path = System.getenv("PATH");
        if (path == null) return false;
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (!dir.isEmpty() && java.nio.file.Files.isExecutable(Path.of(dir, command))) return true;
        }
        return false;
    }
}
