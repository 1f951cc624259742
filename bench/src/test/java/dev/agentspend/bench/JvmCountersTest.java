package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalDouble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The hsperfdata reader against this test's own JVM, and against what is not such a file. */
class JvmCountersTest {

    @Test
    void readsThisJvmsCompileTimeAndClock() {
        long pid = ProcessHandle.current().pid();
        Map<String, Long> counters = JvmCounters.read(JvmCounters.file(pid));
        assertTrue(counters.size() > 50, "a HotSpot JVM publishes hundreds of long counters: " + counters.size());
        assertTrue(counters.getOrDefault("sun.os.hrt.frequency", 0L) > 0, "the counters' clock");
        OptionalDouble before = JvmCounters.compileSeconds(counters);
        assertTrue(before.isPresent() && before.getAsDouble() > 0, "a JVM that ran tests has compiled: " + before);
        long threads = counters.getOrDefault("java.threads.live", -1L);
        assertTrue(threads >= Thread.activeCount(), "java.threads.live counts at least this thread group's threads: " + threads);
    }

    @Test
    void readsThisJvmsCollectionsAsTheyHappen() {
        long pid = ProcessHandle.current().pid();
        JvmCounters.GcPauses before = JvmCounters.gcPauses(JvmCounters.read(JvmCounters.file(pid))).orElseThrow();
        System.gc(); // a full collection with every HotSpot collector unless explicit GC is disabled
        JvmCounters.GcPauses since = JvmCounters.gcPauses(JvmCounters.read(JvmCounters.file(pid))).orElseThrow().since(before);
        assertTrue(since.fullCount() >= 1 || since.otherCount() >= 1, "System.gc() was not counted: " + since);
        assertTrue(since.fullSeconds() + since.otherSeconds() > 0, "a collection takes time: " + since);
        assertTrue(since.youngCount() >= 0 && since.youngSeconds() >= 0, since.toString());
        assertTrue(JvmCounters.gcPauses(Map.of()).isEmpty(), "no counters, no figures");
    }

    @Test
    void anythingElseReadsAsNoCounters(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path text = Files.writeString(dir.resolve("not-perfdata"), "hello, this is not an hsperfdata file at all");
        assertEquals(Map.of(), JvmCounters.read(text));
        assertEquals(Map.of(), JvmCounters.read(dir.resolve("missing")));
        assertEquals(Map.of(), JvmCounters.parse(ByteBuffer.allocate(64)), "a zero header is not the magic");
        assertTrue(JvmCounters.compileSeconds(JvmCounters.read(JvmCounters.file(Long.MAX_VALUE))).isEmpty(), "no such process");
    }
}
