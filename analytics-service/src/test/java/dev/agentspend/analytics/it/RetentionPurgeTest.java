package dev.agentspend.analytics.it;

import dev.agentspend.analytics.grpc.LedgerConsumer;
import dev.agentspend.analytics.store.RetentionPurge;
import dev.agentspend.analytics.support.AnalyticsTestResource;
import dev.agentspend.analytics.support.TestClock;
import dev.agentspend.proto.analytics.v1.GetOffHoursSpendRequest;
import dev.agentspend.proto.analytics.v1.GetTimeSeriesRequest;
import dev.agentspend.proto.analytics.v1.GetTimeSeriesResponse;
import dev.agentspend.proto.analytics.v1.GetToolAttributionRequest;
import dev.agentspend.proto.analytics.v1.GetToolAttributionResponse;
import dev.agentspend.proto.analytics.v1.ListAgentFlowsRequest;
import dev.agentspend.proto.analytics.v1.ListAgentFlowsResponse;
import dev.agentspend.proto.analytics.v1.SeriesMetric;
import dev.agentspend.proto.analytics.v1.ToolSpend;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.PayAgentRequest;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.TaskOutcome;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.agentspend.analytics.support.Platform.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The retention of the fine-grained aggregates (domain.Retention, store.RetentionPurge) through the
 * real ledger's feed: minute rows and tasks past the retention (35 and 180 days by default) are
 * deleted and nothing else is, a minute not rolled up is kept whatever its age, windows over old
 * days are answered from the day rows the same before and after the purge, and reads that would need
 * purged minutes or tasks are refused with the horizon in the message.
 */
@QuarkusTest
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class RetentionPurgeTest {
    private static final Instant LATER = Instant.parse("2199-01-01T00:00:00Z");
    private final String suite = "retention-" + UUID.randomUUID().toString().substring(0, 8);
    private long lastPosition;
    private int requests;

    @Inject
    RetentionPurge purge;

    @Inject
    LedgerConsumer consumer;

    @AfterEach
    void releaseClock() {
        TestClock.release();
    }

    @Test
    void oldMinutesAndTasksGoAndOldDaysAreAnsweredTheSameFromTheDayRows() throws Exception {
        LocalDate today = LocalDate.now(ZoneOffset.UTC);
        Instant old = midnight(today.minusDays(40)).plus(10, ChronoUnit.HOURS);
        Instant recent = midnight(today.minusDays(2)).plus(10, ChronoUnit.HOURS);
        Instant veryOld = midnight(today.minusDays(200)).plus(10, ChronoUnit.HOURS);
        Agent a = createAgent(suite, "", Map.of(), SpendingPolicy.getDefaultInstance(), WorkingHours.getDefaultInstance(),
                10_000_000);
        Agent b = createAgent(suite, "", Map.of(), SpendingPolicy.getDefaultInstance(), WorkingHours.getDefaultInstance(), 0);
        pay(a, 100_000, "llm", "", old);
        pay(a, 200_000, "llm", "", recent);
        payAgent(a, b, 50_000, old);
        payAgent(a, b, 60_000, recent);
        pay(a, 1_000, "llm", "t-old", veryOld);
        complete(a, "t-old", veryOld.plus(5, ChronoUnit.MINUTES));
        pay(a, 2_000, "llm", "t-new", recent);
        complete(a, "t-new", recent.plus(5, ChronoUnit.MINUTES));
        awaitIngested(lastPosition);

        Instant from = midnight(today.minusDays(41));
        Instant to = midnight(today.plusDays(1));
        GetToolAttributionResponse tools = attribution(a, from, to);
        ListAgentFlowsResponse flows = flows(a, from, to);
        GetTimeSeriesResponse daily = dailySpend(a, from, to);
        assertEquals(Map.of("llm", 302_000L, "a2a", 110_000L), byTool(tools), "the task paid 200 days ago is outside");
        assertEquals(1, flows.getFlowsCount());
        assertEquals(110_000, flows.getFlows(0).getAmountMicros());
        assertEquals(2, flows.getFlows(0).getPaymentCount());
        assertEquals(42, daily.getPointsCount());
        assertEquals(150_000, daily.getPoints(1).getValueMicros(), "40 days ago: the payment and the agent payment");
        // ragged edges after the horizon are read from the minutes
        assertEquals(Map.of("llm", 202_000L, "a2a", 60_000L),
                byTool(attribution(a, recent.minus(1, ChronoUnit.HOURS), to.minus(1, ChronoUnit.MINUTES))));
        String minutesKept = "minute detail is kept for 35 days";
        refused(minutesKept, () -> attribution(a, old.minus(1, ChronoUnit.HOURS), to));
        refused(minutesKept, () -> flows(a, old.minus(1, ChronoUnit.HOURS), to));
        refused(minutesKept, () -> analyticsAdmin().getTimeSeries(GetTimeSeriesRequest.newBuilder().setAgentId(a.id())
                .setMetric(SeriesMetric.SERIES_METRIC_SPEND).setStepSeconds(3600)
                .setStartTime(ts(midnight(today.minusDays(40)))).setEndTime(ts(midnight(today.minusDays(39)))).build()));
        refused(minutesKept, () -> analyticsAdmin().getOffHoursSpend(GetOffHoursSpendRequest.newBuilder().setAgentId(a.id())
                .setStartTime(ts(from)).setEndTime(ts(to)).build()));
        refused("tasks are kept for 180 days", () -> analyticsAdmin().getTimeSeries(GetTimeSeriesRequest.newBuilder()
                .setAgentId(a.id()).setMetric(SeriesMetric.SERIES_METRIC_COST_PER_TASK).setStepSeconds(86400)
                .setStartTime(ts(midnight(today.minusDays(201)))).setEndTime(ts(midnight(today.minusDays(199)))).build()));

        Instant minuteHorizon = midnight(today.minusDays(35));
        String unrolledAgent = "agt_unrolled_" + suite;
        try (Connection db = DriverManager.getConnection(AnalyticsTestResource.analyticsJdbcUrl(), "postgres", "")) {
            assertEquals(3, rows(db, "agent_tool_minute", "agent_id", a.id(), minuteHorizon, true),
                    "llm and a2a 40 days ago, llm 200 days ago");
            assertEquals(1, rows(db, "agent_flow_minute", "payer_agent_id", a.id(), minuteHorizon, true));
            // a minute that is not in the day rows yet stays, whatever its age (the consumer is stopped so
            // that no rollup marks it meanwhile)
            consumer.stop().await().atMost(Duration.ofSeconds(30));
            try (PreparedStatement s = db.prepareStatement("INSERT INTO analytics.agent_tool_minute VALUES "
                    + "(?, ?, 'llm', '', 7, 1, 0, 0, 0, 0, false)")) {
                s.setString(1, unrolledAgent);
                s.setTimestamp(2, Timestamp.from(old));
                s.executeUpdate();
            }
            try {
                long purged = purge.purge().await().atMost(Duration.ofSeconds(60));
                assertTrue(purged >= 5, "at least this test's 3 tool minutes, 1 flow minute and 1 task: " + purged);
                assertEquals(1, rows(db, "agent_tool_minute", "agent_id", unrolledAgent, minuteHorizon, false));
            } finally {
                try (Statement s = db.createStatement()) {
                    s.executeUpdate("DELETE FROM analytics.agent_tool_minute WHERE agent_id = '" + unrolledAgent + "'");
                }
                consumer.start();
            }
            assertEquals(0, rows(db, "agent_tool_minute", "agent_id", a.id(), minuteHorizon, true));
            assertEquals(0, rows(db, "agent_flow_minute", "payer_agent_id", a.id(), minuteHorizon, true));
            assertEquals(2, rows(db, "agent_tool_minute", "agent_id", a.id(), LATER, true), "two days ago: kept");
            assertEquals(1, rows(db, "agent_flow_minute", "payer_agent_id", a.id(), LATER, true));
            try (PreparedStatement q = db.prepareStatement("SELECT task_id FROM analytics.task WHERE agent_id = ?")) {
                q.setString(1, a.id());
                try (ResultSet r = q.executeQuery()) {
                    assertTrue(r.next());
                    assertEquals("t-new", r.getString(1), "the task completed 200 days ago is gone");
                    assertFalse(r.next());
                }
            }
        }

        assertEquals(tools, attribution(a, from, to), "whole days: from the day rows, the same after the purge");
        assertEquals(flows, flows(a, from, to));
        assertEquals(daily, dailySpend(a, from, to));
        assertEquals(0, purge.purge().await().atMost(Duration.ofSeconds(60)), "nothing left to purge");
        String metrics = RestAssured.get("/q/metrics").asString();
        assertTrue(counter(metrics, "task") >= 1, metrics);
        assertTrue(counter(metrics, "agent_tool_minute") >= 2, metrics);
        assertTrue(counter(metrics, "agent_flow_minute") >= 1, metrics);
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("agentspend_analytics_retention_purge_failed_total")),
                "a failed run is counted (none here): " + metrics);
    }

    /**
     * The flow of a minute not rolled up yet reaches the flow day rows when the consumer rolls its
     * minute up (the late ones go there at once, above): the consumer's clock is moved past the
     * minute and another payment makes it apply a batch.
     */
    @Test
    void aFlowReachesItsDayRowWhenItsMinuteIsRolledUp() throws Exception {
        Agent a = createAgent(suite, "", Map.of(), SpendingPolicy.getDefaultInstance(), WorkingHours.getDefaultInstance(),
                10_000_000);
        Agent b = createAgent(suite, "", Map.of(), SpendingPolicy.getDefaultInstance(), WorkingHours.getDefaultInstance(), 0);
        Instant now = Instant.now();
        payAgent(a, b, 70_000, null);
        awaitIngested(lastPosition);
        try (Connection db = DriverManager.getConnection(AnalyticsTestResource.analyticsJdbcUrl(), "postgres", "")) {
            long unrolled = flowSum(db, "analytics.agent_flow_minute", a.id(), " AND NOT rolled");
            long inDays = flowSum(db, "analytics.agent_flow_day", a.id(), "");
            assertEquals(70_000, unrolled + inDays, "unrolled, or late if the minute turned meanwhile");
            assertEquals(70_000, flowSum(db, "analytics.agent_flow_day_all", a.id(), ""));
            TestClock.pin(now.plus(3, ChronoUnit.MINUTES));
            pay(a, 1_000, "llm", "", null);
            awaitIngested(lastPosition);
            assertEquals(0, flowSum(db, "analytics.agent_flow_minute", a.id(), " AND NOT rolled"));
            assertEquals(70_000, flowSum(db, "analytics.agent_flow_day", a.id(), ""), "counted once in the day rows");
            assertEquals(70_000, flowSum(db, "analytics.agent_flow_day_all", a.id(), ""));
        }
        LocalDate today = LocalDate.ofInstant(now, ZoneOffset.UTC);
        ListAgentFlowsResponse whole = flows(a, midnight(today), midnight(today.plusDays(1)));
        assertEquals(70_000, whole.getFlows(0).getAmountMicros());
    }

    private static long flowSum(Connection db, String relation, String payer, String filter) throws Exception {
        try (PreparedStatement q = db.prepareStatement("SELECT COALESCE(SUM(amount_micros), 0) FROM " + relation
                + " WHERE payer_agent_id = ?" + filter)) {
            q.setString(1, payer);
            try (ResultSet r = q.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }

    private static long counter(String metrics, String table) {
        Matcher m = Pattern.compile("agentspend_analytics_retention_purged_rows_total\\{[^}]*table=\"" + table
                + "\"[^}]*} ([0-9.eE+]+)").matcher(metrics);
        return m.find() ? (long) Double.parseDouble(m.group(1)) : -1;
    }

    private static long rows(Connection db, String table, String agentColumn, String agentId, Instant before,
                             boolean rolled) throws Exception {
        try (PreparedStatement q = db.prepareStatement("SELECT count(*) FROM analytics." + table + " WHERE "
                + agentColumn + " = ? AND minute < ? AND rolled = ?")) {
            q.setString(1, agentId);
            q.setTimestamp(2, Timestamp.from(before));
            q.setBoolean(3, rolled);
            try (ResultSet r = q.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }

    private static void refused(String expected, Executable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    private static GetToolAttributionResponse attribution(Agent agent, Instant start, Instant end) {
        return analyticsAdmin().getToolAttribution(GetToolAttributionRequest.newBuilder().setAgentId(agent.id())
                .setStartTime(ts(start)).setEndTime(ts(end)).build());
    }

    private static Map<String, Long> byTool(GetToolAttributionResponse r) {
        Map<String, Long> out = new TreeMap<>();
        for (ToolSpend t : r.getToolsList()) {
            out.put(t.getTool(), t.getSpendMicros());
        }
        return out;
    }

    private static ListAgentFlowsResponse flows(Agent agent, Instant start, Instant end) {
        return analyticsAdmin().listAgentFlows(ListAgentFlowsRequest.newBuilder().setAgentId(agent.id())
                .setStartTime(ts(start)).setEndTime(ts(end)).build());
    }

    private static GetTimeSeriesResponse dailySpend(Agent agent, Instant start, Instant end) {
        return analyticsAdmin().getTimeSeries(GetTimeSeriesRequest.newBuilder().setAgentId(agent.id())
                .setMetric(SeriesMetric.SERIES_METRIC_SPEND).setStepSeconds(86400)
                .setStartTime(ts(start)).setEndTime(ts(end)).build());
    }

    private static Instant midnight(LocalDate day) {
        return day.atStartOfDay(ZoneOffset.UTC).toInstant();
    }

    private void pay(Agent agent, long micros, String tool, String task, Instant occurred) {
        PayRequest.Builder r = PayRequest.newBuilder().setRequestId(suite + "-" + ++requests).setAmountMicros(micros)
                .setCurrencyCode("USD").setTool(tool).setTaskId(task);
        if (occurred != null) {
            r.setOccurredTime(ts(occurred));
        }
        track(ledgerAs(agent).pay(r.build()).getEntry().getPosition());
    }

    private void payAgent(Agent payer, Agent payee, long micros, Instant occurred) {
        PayAgentRequest.Builder r = PayAgentRequest.newBuilder().setRequestId(suite + "-" + ++requests)
                .setPayeeAgentId(payee.id()).setAmountMicros(micros).setCurrencyCode("USD").setTool("a2a");
        if (occurred != null) {
            r.setOccurredTime(ts(occurred));
        }
        track(ledgerAs(payer).payAgent(r.build()).getEntry().getPosition());
    }

    private void complete(Agent agent, String task, Instant occurred) {
        track(ledgerAs(agent).completeTask(CompleteTaskRequest.newBuilder().setRequestId(suite + "-" + ++requests)
                .setTaskId(task).setOutcome(TaskOutcome.TASK_OUTCOME_SUCCEEDED).setOccurredTime(ts(occurred)).build())
                .getEntry().getPosition());
    }

    private void track(long position) {
        lastPosition = Math.max(lastPosition, position);
    }
}
