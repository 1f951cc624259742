package dev.agentspend.analytics.it;

import dev.agentspend.analytics.grpc.LedgerConsumer;
import dev.agentspend.analytics.store.IngestionStore;
import dev.agentspend.analytics.support.AnalyticsTestResource;
import dev.agentspend.proto.analytics.v1.GetIngestionStatusRequest;
import dev.agentspend.proto.analytics.v1.GetRetryCostRequest;
import dev.agentspend.proto.analytics.v1.GetRetryCostResponse;
import dev.agentspend.proto.analytics.v1.GetToolAttributionRequest;
import dev.agentspend.proto.analytics.v1.ToolSpend;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.ledger.v1.CaptureRequest;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import dev.agentspend.proto.ledger.v1.HoldRequest;
import dev.agentspend.proto.ledger.v1.HoldResponse;
import dev.agentspend.proto.ledger.v1.ListEntriesRequest;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.ListEntriesResponse;
import dev.agentspend.proto.ledger.v1.StreamEntriesRequest;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.ReverseRequest;
import dev.agentspend.proto.ledger.v1.TaskOutcome;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static dev.agentspend.analytics.support.Platform.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Exactly once: thousands of entries stream in from four agents paying at once (payments, retries,
 * declines, holds captured, reversals, task completions) while the consumer is stopped and started
 * again and again, each stop cutting it off wherever it is (a batch in flight is rolled back with
 * its connection). Afterwards every total analytics holds equals the ledger's own, read back
 * entry by entry: per agent and tool spend, calls and declines, retries, per task cost, and the
 * minute, day and agent-day rollups agree with each other.
 */
@QuarkusTest
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class ExactlyOnceRestartTest {
    private static final int AGENTS = 4;
    private static final int OPERATIONS_PER_AGENT = 700;

    @Inject
    LedgerConsumer consumer;

    @Test
    void restartsInTheMiddleOfTheStreamCountEveryEntryOnce() throws Exception {
        String suite = "eo-" + UUID.randomUUID().toString().substring(0, 8);
        SpendingPolicy policy = SpendingPolicy.newBuilder().addCaps(Cap.newBuilder().setWindow(CapWindow.CAP_WINDOW_PAYMENT)
                .setLimitMicros(900_000).setCurrencyCode("USD").setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD)).build();
        List<Agent> agents = new ArrayList<>();
        for (int i = 0; i < AGENTS; i++) {
            agents.add(createAgent("eo", "", Map.of("suite", suite), policy, WorkingHours.getDefaultInstance(), 10_000_000_000L));
        }
        Instant start = Instant.now().truncatedTo(ChronoUnit.MINUTES).minus(1, ChronoUnit.HOURS);
        AtomicLong maxPosition = new AtomicLong();
        AtomicBoolean paying = new AtomicBoolean(true);
        ExecutorService pool = Executors.newFixedThreadPool(AGENTS + 1);
        try {
            Future<Integer> restarter = pool.submit(() -> {
                Random random = new Random(7);
                int restarts = 0;
                while (paying.get()) {
                    Thread.sleep(150 + random.nextInt(250));
                    consumer.stop().await().atMost(Duration.ofSeconds(10));
                    Thread.sleep(random.nextInt(60));
                    consumer.start();
                    restarts++;
                }
                return restarts;
            });
            List<Future<?>> payers = new ArrayList<>();
            for (int i = 0; i < AGENTS; i++) {
                Agent agent = agents.get(i);
                long seed = i;
                payers.add(pool.submit(() -> {
                    pay(agent, seed, maxPosition);
                    return null;
                }));
            }
            for (Future<?> f : payers) {
                f.get(5, TimeUnit.MINUTES);
            }
            paying.set(false);
            int restarts = restarter.get(1, TimeUnit.MINUTES);
            assertTrue(restarts >= 5, "the consumer was restarted only " + restarts + " times");
        } finally {
            paying.set(false);
            pool.shutdownNow();
            consumer.start();
        }
        awaitIngested(maxPosition.get());

        Instant end = Instant.now().truncatedTo(ChronoUnit.MINUTES).plus(1, ChronoUnit.HOURS);
        long entries = 0;
        try (Connection db = DriverManager.getConnection(AnalyticsTestResource.analyticsJdbcUrl(), "postgres", "")) {
            Map<String, LedgerTotals> feed = feedTotals(agents, maxPosition.get());
            for (Agent agent : agents) {
                LedgerTotals ledger = ledgerTotals(agent.id());
                assertEquals(ledger.summary(), feed.get(agent.id()).summary(),
                        "the ledger's ListEntries and its StreamEntries disagree about " + agent.id());
                entries += ledger.entries;
                Map<String, long[]> analytics = new TreeMap<>();
                for (ToolSpend t : analyticsAdmin().getToolAttribution(GetToolAttributionRequest.newBuilder()
                        .setAgentId(agent.id()).setStartTime(ts(start)).setEndTime(ts(end)).build()).getToolsList()) {
                    analytics.put(t.getTool(), new long[]{t.getSpendMicros(), t.getCallCount(), t.getDeclineCount()});
                }
                assertEquals(ledger.perTool.keySet(), analytics.keySet(), "tools of " + agent.id());
                for (String tool : ledger.perTool.keySet()) {
                    assertArrayEquals(ledger.perTool.get(tool), analytics.get(tool),
                            "spend, calls and declines of " + agent.id() + " on " + tool);
                }
                GetRetryCostResponse retry = analyticsAdmin().getRetryCost(GetRetryCostRequest.newBuilder()
                        .setAgentId(agent.id()).setStartTime(ts(start)).setEndTime(ts(end)).build());
                assertEquals(ledger.retriedCalls, retry.getRetriedCallCount(), "retried calls of " + agent.id());
                assertEquals(ledger.retrySpend, retry.getRetrySpendMicros(), "retry spend of " + agent.id());
                assertEquals(ledger.spend, retry.getTotalSpendMicros());
                assertEquals(ledger.spend, sum(db, "SELECT COALESCE(SUM(spend_micros), 0) FROM analytics.agent_day_all WHERE agent_id = ?", agent.id()));
                assertEquals(ledger.spend, sum(db, "SELECT COALESCE(SUM(spend_micros), 0) FROM analytics.agent_tool_minute WHERE agent_id = ?", agent.id()));
                assertEquals(ledger.calls, sum(db, "SELECT COALESCE(SUM(call_count), 0) FROM analytics.agent_day_all WHERE agent_id = ?", agent.id()));
                assertEquals(ledger.openHolds, sum(db, "SELECT COALESCE(SUM(amount_micros), 0) FROM analytics.open_hold WHERE agent_id = ?", agent.id()));
                Map<String, Long> tasks = new TreeMap<>();
                try (PreparedStatement q = db.prepareStatement("SELECT task_id, cost_micros FROM analytics.task WHERE agent_id = ?")) {
                    q.setString(1, agent.id());
                    try (ResultSet rs = q.executeQuery()) {
                        while (rs.next()) {
                            tasks.put(rs.getString(1), rs.getLong(2));
                        }
                    }
                }
                assertEquals(ledger.perTask, tasks, "task costs of " + agent.id());
                assertEquals(ledger.completedTaskCost, sum(db, "SELECT COALESCE(SUM(completed_task_micros), 0) FROM analytics.agent_day_all WHERE agent_id = ?", agent.id()),
                        "the completed-task rollup of " + agent.id());
            }
        }
        assertTrue(entries >= 2_000, "only " + entries + " entries were streamed");
        assertTrue(analyticsAdmin().getIngestionStatus(GetIngestionStatusRequest.getDefaultInstance()).getConsumerActive());
    }

    @Test
    void aSecondConsumerStandsByWhileAnotherHoldsTheLock() throws Exception {
        Agent agent = createAgent("lock", "", Map.of(), SpendingPolicy.getDefaultInstance(), WorkingHours.getDefaultInstance(), 100_000_000L);
        try (Connection other = DriverManager.getConnection(AnalyticsTestResource.analyticsJdbcUrl(), "postgres", "")) {
            consumer.stop().await().atMost(Duration.ofSeconds(10));
            try (PreparedStatement lock = other.prepareStatement("SELECT pg_advisory_lock(?)")) {
                lock.setLong(1, IngestionStore.CONSUMER_LOCK_KEY);
                lock.execute();
            }
            long before = analyticsAdmin().getIngestionStatus(GetIngestionStatusRequest.getDefaultInstance()).getLedgerPosition();
            consumer.start();
            Entry e = ledgerAs(agent).pay(PayRequest.newBuilder().setRequestId("lock-pay").setAmountMicros(1_000)
                    .setCurrencyCode("USD").setTool("llm").build()).getEntry();
            assertTrue(e.getPosition() > before);
            Thread.sleep(1_000);
            var status = analyticsAdmin().getIngestionStatus(GetIngestionStatusRequest.getDefaultInstance());
            assertFalse(status.getConsumerActive(), "another holder of the lock must keep this consumer on standby");
            assertEquals(before, status.getLedgerPosition(), "a standby consumer applies nothing");
            try (PreparedStatement unlock = other.prepareStatement("SELECT pg_advisory_unlock(?)")) {
                unlock.setLong(1, IngestionStore.CONSUMER_LOCK_KEY);
                unlock.execute();
            }
            awaitIngested(e.getPosition());
            assertTrue(analyticsAdmin().getIngestionStatus(GetIngestionStatusRequest.getDefaultInstance()).getConsumerActive());
        }
    }

    private static long sum(Connection db, String sql, String agentId) throws Exception {
        try (PreparedStatement q = db.prepareStatement(sql)) {
            q.setString(1, agentId);
            try (ResultSet rs = q.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /** Totals computed entry by entry, the way the contract defines them. */
    static final class LedgerTotals {
        long entries;
        long spend;
        long calls;
        long retriedCalls;
        long retrySpend;
        long openHolds;
        long completedTaskCost;
        final Map<String, long[]> perTool = new TreeMap<>();
        final Map<String, Long> perTask = new TreeMap<>();
        private final Map<String, Long> held = new HashMap<>();
        private final Map<String, Boolean> completed = new HashMap<>();

        void add(Entry e) {
            entries++;
            boolean call = e.getDecision() == Decision.DECISION_APPROVED && (e.getEventType() == EventType.EVENT_TYPE_PAYMENT_APPROVED
                    || e.getEventType() == EventType.EVENT_TYPE_HOLD_CAPTURED || e.getEventType() == EventType.EVENT_TYPE_AGENT_PAYMENT_APPROVED);
            boolean decline = e.getDecision() == Decision.DECISION_DECLINED;
            if (e.getSpendMicros() != 0 || call || decline) {
                long[] tool = perTool.computeIfAbsent(e.getTool(), k -> new long[3]);
                tool[0] += e.getSpendMicros();
                tool[1] += call ? 1 : 0;
                tool[2] += decline ? 1 : 0;
            }
            spend += e.getSpendMicros();
            calls += call ? 1 : 0;
            if (call && e.getAttempt() > 1) {
                retriedCalls++;
            }
            if (e.getAttempt() > 1) {
                retrySpend += e.getSpendMicros();
            }
            if (!e.getTaskId().isEmpty() && (e.getSpendMicros() != 0 || call)) {
                perTask.merge(e.getTaskId(), e.getSpendMicros(), Long::sum);
            }
            if (e.getEventType() == EventType.EVENT_TYPE_TASK_COMPLETED) {
                perTask.putIfAbsent(e.getTaskId(), 0L);
                completed.put(e.getTaskId(), true);
            }
            if (e.getEventType() == EventType.EVENT_TYPE_HOLD_PLACED && e.getDecision() == Decision.DECISION_APPROVED) {
                held.put(e.getHoldId(), e.getAmountMicros());
            } else if ((e.getEventType() == EventType.EVENT_TYPE_HOLD_CAPTURED && call)
                    || e.getEventType() == EventType.EVENT_TYPE_HOLD_RELEASED || e.getEventType() == EventType.EVENT_TYPE_HOLD_EXPIRED) {
                held.remove(e.getHoldId());
            }
        }

        LedgerTotals finish() {
            openHolds = held.values().stream().mapToLong(Long::longValue).sum();
            completedTaskCost = 0;
            completed.keySet().forEach(task -> completedTaskCost += perTask.getOrDefault(task, 0L));
            return this;
        }

        String summary() {
            StringBuilder sb = new StringBuilder("entries " + entries + ", spend " + spend + ", calls " + calls + ", tools {");
            perTool.forEach((k, v) -> sb.append(k).append('=').append(Arrays.toString(v)).append(' '));
            return sb.append('}').toString();
        }
    }

    /** The ledger's own totals of one agent, from its entries read back through ListEntries. */
    private static LedgerTotals ledgerTotals(String agentId) {
        LedgerTotals t = new LedgerTotals();
        String token = "";
        do {
            ListEntriesResponse page = ledgerAdmin().listEntries(ListEntriesRequest.newBuilder().setAgentId(agentId)
                    .setPageSize(1000).setPageToken(token).build());
            page.getEntriesList().forEach(t::add);
            token = page.getNextPageToken();
        } while (!token.isEmpty());
        return t.finish();
    }

    /** The same totals from the ledger's entry feed (what analytics consumes), for the given agents. */
    private static Map<String, LedgerTotals> feedTotals(List<Agent> agents, long upTo) {
        Map<String, LedgerTotals> out = new HashMap<>();
        agents.forEach(a -> out.put(a.id(), new LedgerTotals()));
        var feed = withToken(LedgerServiceGrpc.newBlockingStub(ledger()), AnalyticsTestResource.SERVICE_TOKEN)
                .streamEntries(StreamEntriesRequest.newBuilder().setAfterPosition(0).build());
        while (feed.hasNext()) {
            Entry e = feed.next().getEntry();
            LedgerTotals t = out.get(e.getAgentId());
            if (t != null) {
                t.add(e);
            }
            if (e.getPosition() >= upTo) {
                break;
            }
        }
        out.values().forEach(LedgerTotals::finish);
        return out;
    }

    /** One agent's stream of operations: payments with retries and declines, holds, reversals, completions. */
    private static void pay(Agent agent, long seed, AtomicLong maxPosition) {
        Random random = new Random(seed);
        String[] tools = {"llm", "search", "vision"};
        List<String> approved = new ArrayList<>();
        for (int i = 0; i < OPERATIONS_PER_AGENT; i++) {
            String task = "t" + (i / 20);
            Entry e;
            if (i % 50 == 25) {
                HoldResponse hold = ledgerAs(agent).hold(HoldRequest.newBuilder().setRequestId(agent.handle() + "-h" + i)
                        .setAmountMicros(500_000).setCurrencyCode("USD").setTool("search").setTaskId(task).build());
                track(maxPosition, hold.getEntry());
                e = ledgerAs(agent).capture(CaptureRequest.newBuilder().setRequestId(agent.handle() + "-c" + i)
                        .setHoldId(hold.getHold().getHoldId()).setAmountMicros(300_000 + random.nextInt(100_000)).build()).getEntry();
            } else if (i % 100 == 60 && !approved.isEmpty()) {
                e = ledgerAdmin().reverse(ReverseRequest.newBuilder().setRequestId(agent.handle() + "-r" + i)
                        .setEntryId(approved.remove(0)).setAmountMicros(1_000).setNote("refund").build()).getEntry();
            } else if (i % 20 == 19) {
                e = ledgerAs(agent).completeTask(CompleteTaskRequest.newBuilder().setRequestId(agent.handle() + "-t" + i)
                        .setTaskId(task).setOutcome(TaskOutcome.TASK_OUTCOME_SUCCEEDED).build()).getEntry();
            } else {
                long amount = 1_000 + random.nextInt(1_000_000); // about one in ten above the 0.9 USD cap: declined
                e = ledgerAs(agent).pay(PayRequest.newBuilder().setRequestId(agent.handle() + "-p" + i).setAmountMicros(amount)
                        .setCurrencyCode("USD").setTool(tools[random.nextInt(tools.length)]).setTaskId(task)
                        .setCallId("k" + i / 2).setAttempt(1 + i % 2).build()).getEntry();
                if (e.getDecision() == Decision.DECISION_APPROVED) {
                    approved.add(e.getEntryId());
                }
            }
            track(maxPosition, e);
        }
    }

    private static void track(AtomicLong max, Entry e) {
        max.accumulateAndGet(e.getPosition(), Math::max);
    }
}
