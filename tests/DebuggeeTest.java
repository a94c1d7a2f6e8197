import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * The debugger harness's own promise, attacked where it broke: a JVM started suspended under
 * JDWP suspends itself for its start only after we attach, just before it reports the start
 * (the VMStartEvent). A resume sent before that report is lost and the JVM stays suspended
 * for good, alive and silent: how QueueSafetyTest's nearly full disk once sat out its 90 s
 * bound on a loaded machine. Here a relay between the harness and a real drain holds the
 * report back, so the harness's first resume, if it does not wait, lands exactly in that gap.
 */
class DebuggeeTest {
    private static final Duration LIMIT = Duration.ofSeconds(60);

    @AutoClose private final TestKit kit = new TestKit();
    private final TestKit.Home fixture = kit.home("fm-debuggee", TestKit.QUIET);

    @Test
    void theFirstGoWaitsUntilTheJvmHasReportedItsStart() throws Exception {
        String record = "1\t1\tsignal\ta.status\tsignal: /s/a.status\n";
        fixture.write(".wake-queue", record);
        try (Relay relay = new Relay();
                Debuggee d = Debuggee.start(kit, TestKit.command("fm-wake-drain.java"), fixture.env, true, relay::to)) {
            d.stopAt("WakeQueue", "printDeduplicated");
            Thread goer = new Thread(() -> {
                try {
                    d.go();
                } catch (InterruptedException | RuntimeException | AssertionError e) {
                    relay.failure = e;
                }
            }, "first-go");
            assertTrue(relay.startHeld.await(LIMIT.toSeconds(), TimeUnit.SECONDS), "the JVM never reported its start");
            goer.start();
            assertTrue(TestKit.waitFor(LIMIT, () -> waitingIn(goer, "go")), "the first go never waited");
            // A command after it: once its reply is back, the relay has passed whatever go() sent before.
            d.roundTrip();
            assertFalse(relay.resumedBeforeStart, "the first go resumed a JVM that had not reported its start");

            relay.releaseStart.countDown();
            goer.join(LIMIT.toMillis());
            assertFalse(goer.isAlive(), "the first go did not return once the start was reported");
            assertEquals(null, relay.failure);
            d.awaitStop();
            d.go();
            assertEquals(0, d.exit(), d.err());
            assertTrue(d.output().contains("signal: /s/a.status"), d.output());
        }
    }

    /** True while {@code t} waits (parked or in Object.wait) inside Debuggee.{@code method}. */
    private static boolean waitingIn(Thread t, String method) {
        Thread.State s = t.getState();
        return (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING)
                && Arrays.stream(t.getStackTrace()).anyMatch(f -> f.getClassName().equals("Debuggee") && f.getMethodName().equals(method));
    }

    /**
     * A loopback relay for one JDWP connection. It holds the JVM's VMStart report until the
     * test releases it, and notes a VirtualMachine.Resume command that passes meanwhile.
     * JDWP packets: length (4, header included), id (4), flags (1), then for a command its
     * set and number (1 each); an event is command 64/100 whose data starts with the suspend
     * policy (1), the count (4) and the first event's kind (1; VMStart is 90).
     */
    private static final class Relay implements AutoCloseable {
        private static final int HANDSHAKE = "JDWP-Handshake".length();
        final CountDownLatch startHeld = new CountDownLatch(1);
        final CountDownLatch releaseStart = new CountDownLatch(1);
        volatile boolean holding;
        volatile boolean resumedBeforeStart;
        volatile Throwable failure;
        private final ServerSocket server;
        private volatile Socket debugger;
        private volatile Socket jvm;

        Relay() throws IOException {
            server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        }

        /** Called with the JVM's port; returns the port the harness should attach to. */
        int to(int jvmPort) {
            Thread accept = new Thread(() -> {
                try {
                    debugger = server.accept();
                    jvm = new Socket(InetAddress.getLoopbackAddress(), jvmPort);
                    pump(debugger.getInputStream(), jvm.getOutputStream(), false, "relay-up");
                    pump(jvm.getInputStream(), debugger.getOutputStream(), true, "relay-down");
                } catch (IOException e) {
                    failure = e;
                }
            }, "relay-accept");
            accept.setDaemon(true);
            accept.start();
            return server.getLocalPort();
        }

        private void pump(InputStream from, OutputStream to, boolean fromJvm, String name) {
            Thread t = new Thread(() -> {
                try (DataInputStream in = new DataInputStream(from)) {
                    byte[] hello = new byte[HANDSHAKE];
                    in.readFully(hello);
                    to.write(hello);
                    to.flush();
                    while (true) {
                        int length = in.readInt();
                        byte[] rest = new byte[length - 4];
                        in.readFully(rest);
                        boolean command = (rest[4] & 0x80) == 0;
                        int set = rest[5] & 0xff;
                        int cmd = rest[6] & 0xff;
                        if (fromJvm && command && set == 64 && cmd == 100 && (rest[12] & 0xff) == 90) {
                            holdStart(to, length, rest); // later packets (replies) overtake it
                            continue;
                        }
                        if (!fromJvm && command && set == 1 && cmd == 9 && holding) resumedBeforeStart = true;
                        send(to, length, rest);
                    }
                } catch (IOException e) {
                    // a side closed: the session is over
                }
            }, name);
            t.setDaemon(true);
            t.start();
        }

        private void holdStart(OutputStream to, int length, byte[] rest) {
            holding = true;
            startHeld.countDown();
            Thread t = new Thread(() -> {
                try {
                    releaseStart.await(LIMIT.toSeconds(), TimeUnit.SECONDS);
                    holding = false;
                    send(to, length, rest);
                } catch (IOException | InterruptedException e) {
                    // the session is over
                }
            }, "relay-start");
            t.setDaemon(true);
            t.start();
        }

        /** Writes one packet whole: the pump and the held start share the stream to the debugger. */
        private static void send(OutputStream to, int length, byte[] rest) throws IOException {
            synchronized (to) {
                to.write(java.nio.ByteBuffer.allocate(4).putInt(length).array());
                to.write(rest);
                to.flush();
            }
        }

        @Override
        public void close() throws IOException {
            releaseStart.countDown();
            server.close();
            if (debugger != null) debugger.close();
            if (jvm != null) jvm.close();
        }
    }
}
