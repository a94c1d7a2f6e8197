import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What every bench script shares: running a command while timing its wall clock and the CPU of
 * its whole process tree, reading /proc for a process we started, medians, and the one-line
 * output format "figure: value (detail)". The exact JVM command of a script comes from
 * TestKit.javaCommand (what JBang execs, minus JBang).
 */
final class BenchKit {
    /** Linux reports /proc times in clock ticks of 1/100 s (USER_HZ) on every mainstream kernel. */
    static final double TICK_SECONDS = 0.01;

    private BenchKit() {}

    /** One finished run: wall and CPU seconds (CPU of the process and everything it waited for). */
    record Run(int exit, double wallSeconds, double cpuSeconds, String stdout, String stderr) {}

    /**
     * Runs {@code cmd} to completion (at most {@code limitSeconds}). CPU is this JVM's
     * cutime+cstime delta: a reaped child adds its own time and that of every descendant it
     * reaped, so the JBang launcher JVM is counted too. Runs must not overlap for that to hold.
     */
    static synchronized Run run(List<String> cmd, Map<String, String> env, Path cwd, double limitSeconds)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeIf(k -> k.startsWith("FM_"));
        if (env != null) pb.environment().putAll(env);
        if (cwd != null) pb.directory(cwd.toFile());
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        long cpuBefore = childTicks();
        long t0 = System.nanoTime();
        Process p = pb.start();
        StringBuilder out = new StringBuilder();
        StringBuilder err = new StringBuilder();
        Thread to = TestKit.pump(p.getInputStream(), out);
        Thread te = TestKit.pump(p.getErrorStream(), err);
        if (!p.waitFor((long) (limitSeconds * 1000), TimeUnit.MILLISECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor();
            throw new IllegalStateException("did not finish within " + limitSeconds + " s: " + String.join(" ", cmd));
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        to.join();
        te.join();
        double cpu = (childTicks() - cpuBefore) * TICK_SECONDS;
        synchronized (out) {
            synchronized (err) {
                return new Run(p.exitValue(), wall, cpu, out.toString(), err.toString());
            }
        }
    }

    /**
     * A script's bare JVM command (TestKit.javaCommand) with {@code options} in place of its
     * //JAVA_OPTIONS; unchanged when {@code options} is null. For trying other options.
     */
    static List<String> withOptions(List<String> bare, String options) {
        if (options == null) return bare;
        int fmScript = 1;
        while (!bare.get(fmScript).startsWith("-Dfm.script=")) fmScript++;
        List<String> cmd = new ArrayList<>(bare.subList(0, 1));
        for (String o : options.trim().split("\\s+")) if (!o.isEmpty()) cmd.add(o);
        cmd.addAll(bare.subList(fmScript, bare.size()));
        return cmd;
    }

    // ------------------------------------------------------------------ /proc

    /** Fields of /proc/<pid>/stat after the command name (field 3 is index 0). */
    static String[] statFields(String pidOrSelf) throws IOException {
        String s = Files.readString(Path.of("/proc", pidOrSelf, "stat"));
        return s.substring(s.lastIndexOf(')') + 2).split(" ");
    }

    /** cutime+cstime of this JVM: the CPU of every child it has reaped so far. */
    static long childTicks() throws IOException {
        String[] f = statFields("self");
        return Long.parseLong(f[13]) + Long.parseLong(f[14]);
    }

    /** utime+stime of a live process we started (its own threads only). */
    static long ownTicks(long pid) throws IOException {
        String[] f = statFields(Long.toString(pid));
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    /** cutime+cstime of a live process we started: the children it has reaped (tmux, checks). */
    static long reapedTicks(long pid) throws IOException {
        String[] f = statFields(Long.toString(pid));
        return Long.parseLong(f[13]) + Long.parseLong(f[14]);
    }

    /** A kB line of /proc/<pid>/status (VmRSS, VmHWM, ...), in MiB; -1 when it is gone. */
    static double statusMiB(long pid, String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith(key + ":")) {
                    return Long.parseLong(line.substring(key.length() + 1).replace("kB", "").strip()) / 1024.0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // gone
        }
        return -1;
    }

    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }

    static int cores() { return Runtime.getRuntime().availableProcessors(); }

    // ------------------------------------------------------------------ numbers and output

    static double median(List<Double> xs) { return quantile(xs, 0.5); }

    static double max(List<Double> xs) { return Collections.max(xs); }

    static double quantile(List<Double> xs, double q) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        double pos = q * (s.size() - 1);
        int lo = (int) Math.floor(pos);
        int hi = (int) Math.ceil(pos);
        return s.get(lo) + (s.get(hi) - s.get(lo)) * (pos - lo);
    }

    static String f(double x, int decimals) { return String.format(Locale.ROOT, "%." + decimals + "f", x); }

    /** The one output format of every bench script: "name: value (detail)". */
    static void figure(String name, String value, String detail) {
        System.out.println(name + ": " + value + (detail.isEmpty() ? "" : " (" + detail + ")"));
        System.out.flush();
    }

    /** The first line of every bench script: what the machine was doing while we measured. */
    static void machine() {
        figure("machine", cores() + " cores, load average " + loadAverage(), "java " + System.getProperty("java.version"));
    }

    /** An empty home with a state directory, removed when the JVM exits. */
    static Path tempHome(String prefix) throws IOException {
        Path home = Files.createTempDirectory(prefix).toRealPath();
        Files.createDirectories(home.resolve("state"));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> TestKit.deleteTree(home)));
        return home;
    }

    /** A whole number argument {@code --name N}, or the default. */
    static int intArg(String[] args, String name, int dflt) {
        for (int i = 0; i + 1 < args.length; i++) if (args[i].equals(name)) return Integer.parseInt(args[i + 1]);
        return dflt;
    }

    static String stringArg(String[] args, String name, String dflt) {
        for (int i = 0; i + 1 < args.length; i++) if (args[i].equals(name)) return args[i + 1];
        return dflt;
    }

    static double doubleArg(String[] args, String name, double dflt) {
        for (int i = 0; i + 1 < args.length; i++) if (args[i].equals(name)) return Double.parseDouble(args[i + 1]);
        return dflt;
    }
}
