//usr/bin/env true; exec "$(dirname "$0")/../jbang" "$0" "$@"
//JAVA 17+
//DEPS org.junit.jupiter:junit-jupiter:5.14.1
//DEPS org.junit.platform:junit-platform-launcher:1.14.1
//SOURCES ../Watcher.java ../Arm.java ../Health.java ../Guard.java
//SOURCES TestKit.java *Test.java
//JAVA_OPTIONS -Xmx512m
//MAIN run

import static org.junit.platform.engine.discovery.ClassNameFilter.includeClassNamePatterns;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClasspathRoots;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * The test command: runs every *Test class of tests/ with JUnit Jupiter and ends with the
 * line "N passed, N failed" (exit 1 on any failure or when nothing ran).
 *   tests/run.java                  all tests
 *   tests/run.java FmLockTest ...   only classes whose simple name matches one of the regexes
 */
class run {
    public static void main(String[] args) throws Exception {
        Path root = Path.of(run.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> patterns = new ArrayList<>();
        for (String a : args) patterns.add(a.contains(".") && !a.contains("*") ? a : a + ".*");
        if (patterns.isEmpty()) patterns.add(".*Test");
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClasspathRoots(Set.of(root)))
                .filters(includeClassNamePatterns(patterns.toArray(String[]::new)))
                .build();
        AtomicInteger passed = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        AtomicInteger skipped = new AtomicInteger();
        long started = System.nanoTime();
        TestExecutionListener report = new TestExecutionListener() {
            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                if (!id.isTest()) return;
                skipped.incrementAndGet();
                System.out.println("SKIP " + id.getLegacyReportingName() + " (" + reason + ")");
            }

            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                if (result.getStatus() == TestExecutionResult.Status.ABORTED) { // a failed assumption
                    if (id.isTest()) {
                        skipped.incrementAndGet();
                        System.out.println("SKIP " + id.getDisplayName() + " ("
                                + result.getThrowable().map(Throwable::getMessage).orElse("assumption") + ")");
                    }
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
                String name = id.getUniqueId().replaceAll(".*\\[class:([^\\]]*)\\].*\\[(?:method|test-template):([^\\]]*)\\].*", "$1.$2");
                if (ok) {
                    passed.incrementAndGet();
                    System.out.println("ok   " + name);
                } else {
                    failed.incrementAndGet();
                    System.out.println("FAIL " + name);
                    result.getThrowable().ifPresent(t -> t.printStackTrace(System.out));
                }
                System.out.flush();
            }
        };
        Launcher launcher = LauncherFactory.create();
        launcher.execute(request, report);
        long secs = (System.nanoTime() - started) / 1_000_000_000L;
        System.out.println("time: " + secs + "s");
        String line = passed.get() + " passed, " + failed.get() + " failed";
        if (skipped.get() > 0) line += ", " + skipped.get() + " skipped";
        System.out.println(line);
        System.exit(failed.get() == 0 && passed.get() > 0 ? 0 : 1);
    }
}
