import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jdi.Bootstrap;
import com.sun.jdi.Location;
import com.sun.jdi.Method;
import com.sun.jdi.ReferenceType;
import com.sun.jdi.StackFrame;
import com.sun.jdi.ThreadReference;
import com.sun.jdi.VMDisconnectedException;
import com.sun.jdi.VirtualMachine;
import com.sun.jdi.connect.AttachingConnector;
import com.sun.jdi.connect.Connector;
import com.sun.jdi.event.BreakpointEvent;
import com.sun.jdi.event.ClassPrepareEvent;
import com.sun.jdi.event.Event;
import com.sun.jdi.event.EventSet;
import com.sun.jdi.event.ThreadDeathEvent;
import com.sun.jdi.event.VMDisconnectEvent;
import com.sun.jdi.event.VMStartEvent;
import com.sun.jdi.request.BreakpointRequest;
import com.sun.jdi.request.ClassPrepareRequest;
import com.sun.jdi.request.EventRequest;
import com.sun.jdi.request.EventRequestManager;
import com.sun.jdi.request.ThreadDeathRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One of our commands in a child JVM under a debugger (JDI over a loopback socket), for tests
 * that aim a signal or a kill at an exact step. It starts suspended; {@link #stopAt} names a
 * method whose chosen entry stops the thread that makes it (only that thread);
 * {@link #holdThreadDeaths} keeps every thread that ends from then on suspended, so the JVM,
 * which waits for its shutdown hooks, cannot halt.
 *
 * Stops are breakpoints, not method-entry events: an entry request puts the whole debuggee in
 * the interpreter with a callback on every call, slow enough under load to blow a test's
 * bounds; a breakpoint costs nothing until it is hit.
 *
 * Race: the JDWP agent accepts commands as soon as we attach, but suspends the JVM for its
 * start only afterwards, just before it sends the VMStartEvent. A resume sent in between finds
 * nothing to resume and is lost, and the JVM then stays suspended for good, alive and silent
 * (a few starts in a hundred on a loaded machine). So the first {@link #go} waits for that
 * event and resumes its set; DebuggeeTest holds the event back to prove it.
 */
final class Debuggee implements AutoCloseable {
    static final Duration LIMIT = Duration.ofSeconds(90);

    final Process process;
    private final VirtualMachine vm;
    private final StringBuilder out;
    private final StringBuilder err;
    private final List<Thread> pumps = new ArrayList<>();
    private final BlockingQueue<EventSet> stops = new LinkedBlockingQueue<>();
    private final Set<String> dead = ConcurrentHashMap.newKeySet();
    private final List<EventSet> held = new ArrayList<>(); // guarded by itself
    // What to stop at, guarded by this.
    private String type;
    private String method;
    private int skip;
    private final List<EventRequest> armed = new ArrayList<>();
    private ThreadDeathRequest deaths;
    private EventSet stopped;
    private boolean started;
    /** The VMStartEvent's set: every thread stays suspended until it is resumed. */
    private final java.util.concurrent.CompletableFuture<EventSet> startEvent = new java.util.concurrent.CompletableFuture<>();

    private Debuggee(Process process, VirtualMachine vm, StringBuilder out, StringBuilder err) {
        this.process = process;
        this.vm = vm;
        this.out = out;
        this.err = err;
        Thread events = new Thread(this::dispatch, "jdi-events");
        events.setDaemon(true);
        events.start();
    }

    /** Starts {@code cmd} (a TestKit java command) suspended under the debugger; its stdout is read. */
    static Debuggee start(TestKit kit, List<String> cmd, Map<String, String> env) throws Exception {
        return start(kit, cmd, env, true);
    }

    /** As above; with {@code readStdout} false its stdout is closed once the debugger's line is read. */
    static Debuggee start(TestKit kit, List<String> cmd, Map<String, String> env, boolean readStdout) throws Exception {
        return start(kit, cmd, env, readStdout, port -> port);
    }

    /** As above, attaching to {@code via.applyAsInt(port)} instead of the debuggee's own port (a test's relay). */
    static Debuggee start(TestKit kit, List<String> cmd, Map<String, String> env, boolean readStdout,
            java.util.function.IntUnaryOperator via) throws Exception {
        List<String> c = new ArrayList<>(cmd);
        c.add(1, "-agentlib:jdwp=transport=dt_socket,server=y,suspend=y,address=127.0.0.1:0");
        Process p = kit.start(c, env, null);
        StringBuilder out = new StringBuilder();
        StringBuilder err = new StringBuilder();
        List<Thread> pumps = new ArrayList<>(List.of(TestKit.pump(p.getErrorStream(), err)));
        Pattern listening = Pattern.compile("Listening for transport dt_socket at address: (\\d+)");
        if (readStdout) {
            pumps.add(TestKit.pump(p.getInputStream(), out));
            assertTrue(TestKit.waitFor(LIMIT, () -> !p.isAlive() || listening.matcher(text(out)).find()),
                    "no debugger address: " + text(out) + text(err));
        } else {
            out.append(firstLine(p.getInputStream())).append('\n');
            p.getInputStream().close();
        }
        Matcher m = listening.matcher(text(out));
        assertTrue(m.find(), "the debuggee exited before listening: " + text(out) + text(err));
        AttachingConnector socket = Bootstrap.virtualMachineManager().attachingConnectors().stream()
                .filter(a -> a.name().equals("com.sun.jdi.SocketAttach")).findFirst().orElseThrow();
        Map<String, Connector.Argument> a = socket.defaultArguments();
        a.get("hostname").setValue("127.0.0.1");
        a.get("port").setValue(Integer.toString(via.applyAsInt(Integer.parseInt(m.group(1)))));
        Debuggee d = new Debuggee(p, socket.attach(a), out, err);
        d.pumps.addAll(pumps);
        return d;
    }

    /**
     * Starts {@code cmd} as {@link #start} does and runs it to the {@code nth} entry of
     * {@code type.name}, where it stays stopped until {@link #go}.
     */
    static Debuggee stoppedAt(TestKit kit, List<String> cmd, Map<String, String> env, String type, String name, int nth)
            throws Exception {
        Debuggee d = start(kit, cmd, env);
        try {
            d.stopAt(type, name, nth);
            d.go();
            d.awaitStop();
            return d;
        } catch (Throwable t) {
            d.close();
            throw t;
        }
    }

    long pid() { return process.pid(); }

    Process process() { return process; }

    /** What the debuggee printed on stdout, without the debugger's own first line. */
    String output() { return text(out).replaceFirst("Listening for transport[^\n]*\n", ""); }

    String err() { return text(err); }

    /** Stop at the next entry of {@code type.name} (e.g. "WakeQueue", "putBack"). */
    void stopAt(String type, String name) { stopAt(type, name, 1); }

    /** Stop at the {@code nth} entry, from now on, of {@code type.name}, in any thread. */
    synchronized void stopAt(String type, String name, int nth) {
        disarm();
        this.type = type;
        this.method = name;
        this.skip = nth - 1;
        EventRequestManager erm = vm.eventRequestManager();
        ClassPrepareRequest prepare = erm.createClassPrepareRequest();
        prepare.addClassFilter(type);
        prepare.setSuspendPolicy(EventRequest.SUSPEND_EVENT_THREAD);
        prepare.enable();
        armed.add(prepare);
        for (ReferenceType t : vm.classesByName(type)) arm(t);
    }

    /** Breakpoints at the first line of every method of that name the class has (all overloads). */
    private synchronized void arm(ReferenceType t) {
        if (method == null || !t.name().equals(type)) return;
        for (Method m : t.methodsByName(method)) {
            Location at = m.location();
            if (at == null) continue; // native or abstract
            BreakpointRequest b = vm.eventRequestManager().createBreakpointRequest(at);
            b.setSuspendPolicy(EventRequest.SUSPEND_EVENT_THREAD);
            b.enable();
            armed.add(b);
        }
    }

    private synchronized void disarm() {
        for (EventRequest r : armed) {
            try {
                vm.eventRequestManager().deleteEventRequest(r);
            } catch (VMDisconnectedException e) {
                // gone
            }
        }
        armed.clear();
        method = null;
    }

    /** True when this breakpoint hit is the one asked for; then nothing more stops. */
    private synchronized boolean isTarget(BreakpointEvent hit) {
        if (method == null || !armed.contains(hit.request())) return false;
        if (skip-- > 0) return false;
        disarm();
        return true;
    }

    /**
     * Waits for the stop; a debuggee that exits first fails at once with its exit status and
     * stderr, and one still running at the bound fails with where its threads are.
     */
    void awaitStop() throws InterruptedException {
        if (!awaitStopOrExit()) {
            throw new AssertionError("exited " + process.exitValue() + " before reaching " + type + "." + method + ": "
                    + output() + err());
        }
    }

    /**
     * As {@link #awaitStop}, for a test that counts how many stops a run has: false when the
     * debuggee exited without reaching the stop (its last one was before).
     */
    boolean awaitStopOrExit() throws InterruptedException {
        long deadline = System.nanoTime() + LIMIT.toNanos();
        EventSet s = null;
        while (s == null && System.nanoTime() < deadline) {
            s = stops.poll(200, TimeUnit.MILLISECONDS);
            if (s == null && !process.isAlive() && stops.isEmpty()) return false;
        }
        if (s == null) {
            throw new AssertionError("never reached " + type + "." + method + " within " + LIMIT + "; its threads:\n"
                    + threads() + "\nstdout: " + output() + "\nstderr: " + err());
        }
        stopped = s;
        return true;
    }

    /** Lets the stopped thread go on (the first call starts the JVM, once it has reported its start). */
    void go() throws InterruptedException {
        if (!started) {
            started = true;
            EventSet start;
            try {
                start = startEvent.get(LIMIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
                throw new AssertionError("the debuggee never reported its start (waited up to " + LIMIT + "; alive: "
                        + process.isAlive() + "): " + output() + err());
            }
            start.resume();
        } else {
            EventSet s = stopped;
            stopped = null;
            if (s != null) s.resume();
        }
    }

    /** One command and its reply (an event request made and deleted): everything sent before it has arrived. */
    void roundTrip() {
        ClassPrepareRequest r = vm.eventRequestManager().createClassPrepareRequest();
        r.addClassFilter("no.such.Type");
        r.enable();
        vm.eventRequestManager().deleteEventRequest(r);
    }

    void holdThreadDeaths() {
        deaths = vm.eventRequestManager().createThreadDeathRequest();
        deaths.setSuspendPolicy(EventRequest.SUSPEND_EVENT_THREAD);
        deaths.enable();
    }

    /** True once the named thread has ended, or waits (parked on a lock or a condition). */
    boolean threadWaitingOrDead(String name) {
        if (dead.contains(name)) return true;
        try {
            for (ThreadReference t : vm.allThreads()) {
                if (t.name().equals(name) && t.status() == ThreadReference.THREAD_STATUS_WAIT) return true;
            }
        } catch (VMDisconnectedException e) {
            return true;
        }
        return false;
    }

    /** True once the named thread is blocked entering a monitor, or the JVM is gone. */
    boolean threadBlockedOrGone(String name) {
        try {
            for (ThreadReference t : vm.allThreads()) {
                if (t.name().equals(name) && t.status() == ThreadReference.THREAD_STATUS_MONITOR) return true;
            }
        } catch (VMDisconnectedException e) {
            return true;
        }
        return !process.isAlive();
    }

    /** Lets every held thread end, so the JVM can halt. */
    void releaseAll() {
        try {
            if (deaths != null) deaths.disable();
            synchronized (held) {
                for (EventSet s : held) s.resume();
                held.clear();
            }
            vm.resume();
        } catch (VMDisconnectedException e) {
            // already gone
        }
    }

    /** Waits for the exit and for the last of its output; returns the exit status. */
    int exit() throws InterruptedException {
        assertTrue(process.waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS), "still running: " + output() + err());
        for (Thread t : pumps) t.join(10_000);
        return process.exitValue();
    }

    void awaitOutput(String line) {
        assertTrue(TestKit.waitFor(LIMIT, () -> output().contains(line + "\n")), output() + err());
    }

    /** Each thread's name and top frames, for a failure message. */
    private String threads() {
        StringBuilder sb = new StringBuilder();
        try {
            vm.suspend();
            for (ThreadReference t : vm.allThreads()) {
                sb.append(t.name()).append(":");
                int n = 0;
                for (StackFrame f : t.frames()) {
                    if (n++ == 12) break;
                    sb.append(' ').append(f.location().declaringType().name()).append('.').append(f.location().method().name());
                }
                sb.append('\n');
            }
            vm.resume();
        } catch (RuntimeException | com.sun.jdi.IncompatibleThreadStateException e) {
            sb.append('(').append(e).append(')');
        }
        return sb.toString();
    }

    private void dispatch() {
        try {
            while (true) {
                EventSet set = vm.eventQueue().remove();
                boolean stop = false;
                boolean hold = false;
                boolean start = false;
                for (Event e : set) {
                    if (e instanceof VMDisconnectEvent) {
                        startEvent.completeExceptionally(new IllegalStateException("disconnected"));
                        return;
                    }
                    if (e instanceof VMStartEvent) start = true;
                    if (e instanceof ClassPrepareEvent prepared) arm(prepared.referenceType());
                    if (e instanceof BreakpointEvent hit && isTarget(hit)) stop = true;
                    if (e instanceof ThreadDeathEvent death) {
                        dead.add(death.thread().name());
                        hold = true;
                    }
                }
                if (start) {
                    startEvent.complete(set); // suspended until the first go()
                } else if (stop) {
                    stops.add(set);
                } else if (hold) {
                    synchronized (held) {
                        held.add(set);
                    }
                } else {
                    set.resume();
                }
            }
        } catch (InterruptedException | VMDisconnectedException e) {
            // the debuggee ended
        } finally {
            startEvent.completeExceptionally(new IllegalStateException("no more events")); // no-op once started
        }
    }

    private static String firstLine(java.io.InputStream in) throws java.io.IOException {
        java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1 && b != '\n') line.write(b);
        return line.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    private static String text(StringBuilder sb) {
        synchronized (sb) {
            return sb.toString();
        }
    }

    @Override
    public void close() {
        try {
            vm.dispose();
        } catch (VMDisconnectedException e) {
            // already gone
        }
    }
}
