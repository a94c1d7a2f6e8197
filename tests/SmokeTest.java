import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SmokeTest {
    @Test
    void lockCliRunsAsAScript() throws Exception {
        try (TestKit kit = new TestKit()) {
            var dir = kit.tempDir("fm-smoke");
            var r = kit.run(TestKit.command("FmLock.java", "try-acquire", dir.resolve("l").toString()), Map.of(), null, Duration.ofSeconds(60));
            assertEquals(0, r.exit(), r.stderr());
            assertTrue(r.stdout().matches("acquired pid=\\d+\n"), r.stdout());
        }
    }
}
