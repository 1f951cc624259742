package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchOptionsTest {
    private static final Path STATE = Path.of("state");

    @Test
    void defaults() {
        BenchOptions o = BenchOptions.parse(new String[0], STATE);
        assertEquals(1000, o.agents());
        assertEquals(64, o.clients());
        assertEquals(Duration.ofSeconds(20), o.duration());
        assertEquals(Duration.ofSeconds(180), o.warmup());
        assertFalse(o.skipPgbench());
        assertEquals(STATE, o.stateDir());
        assertTrue(o.ratePerSecond().isEmpty(), "closed loop unless --rate is given");
        assertTrue(o.pacing().isEmpty());
        assertEquals("closed loop", o.mode());
        assertEquals(0, o.taskCalls(), "no task ids unless --task-calls is given");
        assertEquals("no task ids", o.tasks());
    }

    @Test
    void taskCallsGiveTaskIds() {
        BenchOptions o = BenchOptions.parse(new String[]{"--task-calls", "10"}, STATE);
        assertEquals(10, o.taskCalls());
        assertEquals("task ids, 10 payments per task, each task completed", o.tasks());
        assertEquals(BenchOptions.MAX_TASK_CALLS,
                BenchOptions.parse(new String[]{"--task-calls", "" + BenchOptions.MAX_TASK_CALLS}, STATE).taskCalls());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[]{"--task-calls", "-1"}, STATE)).getMessage().contains("--task-calls must be 0"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[]{"--task-calls", "" + (BenchOptions.MAX_TASK_CALLS + 1)}, STATE))
                .getMessage().contains("--task-calls must be 0"));
    }

    @Test
    void rateSetsAFixedRateOverTheClients() {
        BenchOptions o = BenchOptions.parse(new String[]{"--rate", "200", "--clients", "4"}, STATE);
        assertEquals(200, o.ratePerSecond().getAsInt());
        assertEquals(200, o.pacing().orElseThrow().ratePerSecond());
        assertEquals(20_000_000, o.pacing().orElseThrow().periodNanos(), "4 clients at 200/s: one call each 20 ms");
        assertEquals("fixed rate of 200 payments/s offered", o.mode());
        assertEquals(1, BenchOptions.parse(new String[]{"--rate", "1"}, STATE).ratePerSecond().getAsInt());
        assertEquals(100_000, BenchOptions.parse(new String[]{"--rate", "100000"}, STATE).ratePerSecond().getAsInt());
    }

    @Test
    void rateRefusalsSayWhatIsWrong() {
        assertEquals("--rate must be 1 to 100000 payments per second", assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[]{"--rate", "0"}, STATE)).getMessage());
        assertEquals("--rate must be 1 to 100000 payments per second", assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[]{"--rate", "-5"}, STATE)).getMessage());
        assertEquals("--rate must be 1 to 100000 payments per second", assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[]{"--rate", "100001"}, STATE)).getMessage());
        assertEquals("--rate needs a whole number, not 'fast'", assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[]{"--rate", "fast"}, STATE)).getMessage());
        assertEquals("--rate needs a whole number, not '2.5'", assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[]{"--rate", "2.5"}, STATE)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BenchOptions.parse(new String[]{"--rate"}, STATE))
                .getMessage().startsWith("--rate needs a value ("));
    }

    @Test
    void everyOption() {
        BenchOptions o = BenchOptions.parse(new String[]{"--agents", "20", "--clients", "4", "--duration", "3",
                "--warmup", "0", "--skip-pgbench", "--state-dir", "x", "--keep-data", "--statements"}, STATE);
        assertEquals(20, o.agents());
        assertEquals(4, o.clients());
        assertEquals(Duration.ofSeconds(3), o.duration());
        assertEquals(Duration.ZERO, o.warmup());
        assertTrue(o.skipPgbench());
        assertTrue(o.keepData());
        assertTrue(o.statements());
        assertEquals(Path.of("x"), o.stateDir());
    }

    @Test
    void refusalsSayWhatIsWrong() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BenchOptions.parse(new String[]{"--agents"}, STATE))
                .getMessage().contains("--agents needs a value"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[]{"--clients", "many"}, STATE)).getMessage().contains("whole number"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[]{"--duration", "0"}, STATE)).getMessage().contains("1 to 3600"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> BenchOptions.parse(new String[]{"--fast"}, STATE)).getMessage().contains("unknown option"));
    }
}
