package dev.agentspend.alerts.store;

import dev.agentspend.alerts.domain.AgentPolicy;
import dev.agentspend.alerts.domain.AgentState;
import dev.agentspend.alerts.domain.Evaluator;
import dev.agentspend.alerts.domain.LedgerEvent;
import dev.agentspend.alerts.domain.RuleConfigSet;
import dev.agentspend.common.api.WorkingSchedule;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The stored head holds the agent's state, not the window sums derived from its buckets; the binary
 * form holds exactly what the JSON form does, and refuses bytes that are not one.
 */
class StateCodecTest {
    private static final ObjectMapper TREES = new ObjectMapper();

    @Test
    void theHeadLeavesOutBucketsAndWindowSums() {
        Evaluator ev = new Evaluator(60);
        AgentPolicy p = new AgentPolicy("agt_a", "team_a", "USD", List.of(), WorkingSchedule.none());
        Instant at = Instant.parse("2026-03-04T10:00:00Z");
        // evaluating the entry fills the agent's window sums
        ev.onEvent(new LedgerEvent(1, "ent_1", LedgerEvent.Kind.SPEND, "agt_a", "team_a", 5_000, 5_000, "USD",
                "openai/chat.completions", "", 1, "", "", null, at), id -> p, RuleConfigSet.defaults(), at);
        AgentState s = ev.agent("agt_a");

        String head = new String(StateCodec.head(s, StateFormat.JSON), StandardCharsets.UTF_8);
        assertFalse(head.contains("sums"), head);
        assertFalse(head.contains("buckets"), head);
        AgentState read = StateCodec.readHead(head.getBytes(StandardCharsets.UTF_8));
        assertEquals(5_000, read.lifetimeSpend);
        assertEquals(Json.write(s.days), Json.write(read.days));
    }

    @Test
    void theHeadLeavesOutOpenTasks() {
        Evaluator ev = new Evaluator(60);
        AgentPolicy p = new AgentPolicy("agt_a", "team_a", "USD", List.of(), WorkingSchedule.none());
        Instant at = Instant.parse("2026-03-04T10:00:00Z");
        for (String task : List.of("z", "m", "a", "z")) {
            at = at.plusSeconds(1);
            ev.onEvent(new LedgerEvent(1, "ent_" + task, LedgerEvent.Kind.SPEND, "agt_a", "team_a", 5_000, 5_000, "USD",
                    "openai/chat.completions", task, 1, "", "", null, at), id -> p, RuleConfigSet.defaults(), at);
        }
        assertEquals(3, ev.agent("agt_a").openTasks.size());
        String head = new String(StateCodec.head(ev.agent("agt_a"), StateFormat.JSON), StandardCharsets.UTF_8);
        assertFalse(head.contains("openTasks"), head);
        assertEquals(0, StateCodec.readHead(head.getBytes(StandardCharsets.UTF_8)).openTasks.size());
        // a head written before V5, with its open tasks: they are rows now, and the head's copy is not read
        AgentState legacy = StateCodec.readHead(Json.write(ev.agent("agt_a")).getBytes(StandardCharsets.UTF_8));
        assertEquals(0, legacy.openTasks.size());
        assertEquals(20_000, legacy.lifetimeSpend);
    }

    @Test
    void theBinaryFormReadsBackEveryFieldOfRandomStates() throws Exception {
        SplittableRandom random = new SplittableRandom(36);
        for (int i = 0; i < 500; i++) {
            AgentState s = randomHead(random);
            byte[] stored = StateCodec.head(s, StateFormat.BINARY);
            assertEquals(StateCodec.BINARY_V1, stored[0]);
            assertTrue(StateCodec.isIn(stored, StateFormat.BINARY));
            assertFalse(StateCodec.isIn(stored, StateFormat.JSON));
            assertEquals(tree(s), tree(StateCodec.readHead(stored)));

            AgentState.Bucket b = randomBucket(random);
            byte[] bucket = StateCodec.bucket(b, StateFormat.BINARY);
            assertEquals(tree(b), tree(StateCodec.readBucket(bucket)));
            // the JSON form of the same state reads back the same, so either form may be found
            assertEquals(tree(s), tree(StateCodec.readHead(StateCodec.head(s, StateFormat.JSON))));
            assertEquals(tree(b), tree(StateCodec.readBucket(StateCodec.bucket(b, StateFormat.JSON))));
        }
    }

    @Test
    void aMapEntryOfZeroAndExtremeNumbersSurvive() throws Exception {
        AgentState.Bucket b = new AgentState.Bucket();
        b.toolSpend.put("only-spend", 0L);
        b.toolPayments.put("only-payments", Long.MIN_VALUE);
        b.declineReasons.put("\u00e9t\u00e9 \u2603", Long.MAX_VALUE);
        b.spend = -1;
        b.retrySpend = Long.MIN_VALUE;
        AgentState.Bucket read = StateCodec.readBucket(StateCodec.bucket(b, StateFormat.BINARY));
        assertEquals(tree(b), tree(read));
        assertEquals(Set.of("only-spend"), read.toolSpend.keySet());
        assertEquals(Set.of("only-payments"), read.toolPayments.keySet());
    }

    /** A field added to the state without a place in the binary form would be lost on every write. */
    @Test
    void theBinaryFormKnowsEveryStoredField() {
        assertEquals(Set.of("agentId", "teamId", "currencyCode", "days", "capWindows", "lifetimeSpend",
                        "lastRecordedEpochMilli", "lastPosition", "buckets", "openTasks"), storedFields(AgentState.class),
                "AgentState's stored fields changed: give the new one a place in StateCodec's binary head");
        assertEquals(Set.of("spend", "payments", "toolSpend", "toolPayments", "declines", "declineReasons", "tracked",
                        "retries", "retrySpend", "offHoursSpend", "offHoursPayments"), storedFields(AgentState.Bucket.class),
                "Bucket's fields changed: give the new one a place in StateCodec's binary bucket");
        assertEquals(Set.of("spend", "taskSpend", "tasks"), storedFields(AgentState.Day.class),
                "Day's fields changed: give the new one a place in StateCodec's binary head");
    }

    @Test
    void bytesThatAreNeitherFormAreRefused() {
        AgentState s = randomHead(new SplittableRandom(1));
        byte[] stored = StateCodec.head(s, StateFormat.BINARY);
        IllegalStateException early = assertThrows(IllegalStateException.class,
                () -> StateCodec.readHead(Arrays.copyOf(stored, stored.length - 1)));
        assertTrue(early.getMessage().contains("ends early"), early.getMessage());
        IllegalStateException longer = assertThrows(IllegalStateException.class,
                () -> StateCodec.readHead(Arrays.copyOf(stored, stored.length + 1)));
        assertTrue(longer.getMessage().contains("left over"), longer.getMessage());
        IllegalStateException unknown = assertThrows(IllegalStateException.class,
                () -> StateCodec.readBucket(new byte[]{2, 0, 0}));
        assertTrue(unknown.getMessage().contains("0x02"), unknown.getMessage());
        assertThrows(IllegalStateException.class, () -> StateCodec.readBucket(new byte[0]));
        // a count larger than the bytes left could hold
        IllegalStateException count = assertThrows(IllegalStateException.class,
                () -> StateCodec.readBucket(new byte[]{StateCodec.BINARY_V1, (byte) 0xFF, (byte) 0xFF, 0x7F}));
        assertTrue(count.getMessage().contains("count"), count.getMessage());
    }

    /** What the form is for: a fleet agent's bucket of four tools and its head, a fraction of their JSON. */
    @Test
    void theBinaryFormIsAFractionOfTheJson() {
        SplittableRandom random = new SplittableRandom(3);
        AgentState.Bucket b = new AgentState.Bucket();
        for (String tool : List.of("openai/chat.completions", "anthropic/messages", "serpapi/search", "browserbase/session")) {
            b.toolSpend.put(tool, 1_000_000L + random.nextInt(9_000_000));
            b.toolPayments.put(tool, 1L + random.nextInt(40));
        }
        b.spend = b.toolSpend.values().stream().mapToLong(Long::longValue).sum();
        b.payments = b.toolPayments.values().stream().mapToLong(Long::longValue).sum();
        b.tracked = b.payments;
        int json = StateCodec.bucket(b, StateFormat.JSON).length;
        int binary = StateCodec.bucket(b, StateFormat.BINARY).length;
        assertTrue(binary * 2 < json, "binary " + binary + " bytes, JSON " + json);
    }

    private static Set<String> storedFields(Class<?> type) {
        Set<String> names = new HashSet<>();
        for (Field f : type.getDeclaredFields()) {
            if (!Modifier.isStatic(f.getModifiers()) && !Modifier.isTransient(f.getModifiers())) {
                names.add(f.getName());
            }
        }
        return names;
    }

    private static AgentState randomHead(SplittableRandom random) {
        AgentState s = new AgentState("agt_" + random.nextInt(1_000_000));
        s.teamId = random.nextBoolean() ? "" : "team_" + random.nextInt(100);
        s.currencyCode = random.nextBoolean() ? "USD" : "EUR";
        int days = random.nextInt(20);
        for (int d = 0; d < days; d++) {
            AgentState.Day day = new AgentState.Day();
            day.spend = randomNumber(random);
            day.taskSpend = randomNumber(random);
            day.tasks = random.nextInt(1000);
            s.days.put(20_000L + random.nextInt(400) - 200, day);
        }
        int windows = random.nextInt(6);
        for (int w = 0; w < windows; w++) {
            s.capWindows.put(List.of("DAY", "WEEK", "MONTH", "HOUR").get(random.nextInt(4)) + "|"
                    + (random.nextBoolean() ? "" : "openai/chat.completions") + "|" + random.nextLong(2_000_000_000L),
                    randomNumber(random));
        }
        s.lifetimeSpend = randomNumber(random);
        s.lastRecordedEpochMilli = random.nextLong(4_000_000_000_000L);
        s.lastPosition = random.nextLong(Long.MAX_VALUE);
        return s;
    }

    private static AgentState.Bucket randomBucket(SplittableRandom random) {
        AgentState.Bucket b = new AgentState.Bucket();
        String[] tools = {"openai/chat.completions", "anthropic/messages", "serpapi/search", "agent/\u7ffb\u8bd1", ""};
        for (String tool : tools) {
            if (random.nextInt(3) > 0) {
                b.toolSpend.put(tool, randomNumber(random));
            }
            if (random.nextInt(3) > 0) {
                b.toolPayments.put(tool, (long) random.nextInt(100));
            }
        }
        if (random.nextBoolean()) {
            b.declineReasons.put("CAP_EXCEEDED", (long) random.nextInt(10));
        }
        b.spend = randomNumber(random);
        b.payments = random.nextInt(1000);
        b.declines = random.nextInt(10);
        b.tracked = random.nextInt(1000);
        b.retries = random.nextInt(100);
        b.retrySpend = randomNumber(random);
        b.offHoursSpend = randomNumber(random);
        b.offHoursPayments = random.nextInt(100);
        return b;
    }

    /** Micros of any size, now and then negative (a refund's share). */
    private static long randomNumber(SplittableRandom random) {
        long v = random.nextLong(1L << random.nextInt(1, 62));
        return random.nextInt(10) == 0 ? -v : v;
    }

    /** Order-insensitive form of the JSON: maps compare by content. */
    private static JsonNode tree(Object value) throws Exception {
        return TREES.readTree(Json.write(value));
    }
}
