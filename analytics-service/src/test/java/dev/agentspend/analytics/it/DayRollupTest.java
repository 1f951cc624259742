package dev.agentspend.analytics.it;

import dev.agentspend.analytics.grpc.LedgerConsumer;
import dev.agentspend.analytics.store.IngestionStore;
import dev.agentspend.analytics.support.AnalyticsTestResource;
import dev.agentspend.analytics.support.TestClock;
import dev.agentspend.proto.analytics.v1.GetToolAttributionRequest;
import dev.agentspend.proto.analytics.v1.ToolSpend;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.ledger.v1.PayRequest;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

import static dev.agentspend.analytics.support.Platform.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The day rows are rolled up from settled minutes in the consumer's transactions (V2__day_rollup):
 * through the real ledger's feed, with the consumer's clock pinned, an entry reaches the day rows
 * exactly once, whether its minute is rolled up after it arrives or it arrives after its minute
 * was rolled up (a late entry), and readers (the views, the API) see every entry all along; and a
 * consumer whose W another writer moved rolls its batch back instead of counting an entry nowhere.
 */
@QuarkusTest
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class DayRollupTest {
    private final String suite = "rollup-" + UUID.randomUUID().toString().substring(0, 8);
    private long lastPosition;
    private int requests;

    @Inject
    LedgerConsumer consumer;

    @AfterEach
    void releaseClock() {
        TestClock.release();
    }

    @Test
    void everyEntryReachesTheDayRowsOnceWhetherRolledUpOrLate() throws Exception {
        Agent agent = createAgent(suite, "", Map.of(), SpendingPolicy.getDefaultInstance(),
                WorkingHours.getDefaultInstance(), 10_000_000);
        // entries count at their occurred time, never after now: the test's minutes are in the past,
        // so W is moved back 30 minutes first (with the consumer stopped: it reads W when it starts)
        Instant w = Instant.now().truncatedTo(ChronoUnit.MINUTES).minus(30, ChronoUnit.MINUTES);
        try (Connection db = DriverManager.getConnection(AnalyticsTestResource.analyticsJdbcUrl(), "postgres", "")) {
            consumer.stop().await().atMost(Duration.ofSeconds(30));
            unroll(db, w);
            TestClock.pin(w.plus(1, ChronoUnit.MINUTES).plusSeconds(10)); // horizon W: nothing to roll up
            consumer.start();

            pay(agent, 1_000, "tool-a", w.minus(10, ChronoUnit.MINUTES));   // before W: late, to the day rows at once
            pay(agent, 20_000, "tool-a", w.plus(2, ChronoUnit.MINUTES));
            pay(agent, 300_000, "tool-b", w.plus(10, ChronoUnit.MINUTES));
            awaitIngested(lastPosition);
            assertEquals(w, rolledThrough(db));
            assertEquals(1_000, sum(db, "analytics.agent_day", agent.id()), "the day rows: the late entry only");
            assertEquals(1_000, sum(db, "analytics.agent_tool_day", agent.id()));
            assertEquals(321_000, sum(db, "analytics.agent_day_all", agent.id()), "readers see the unrolled minutes too");
            assertEquals(321_000, sum(db, "analytics.agent_tool_day_all", agent.id()));
            assertEquals(Map.of("tool-a", 21_000L, "tool-b", 300_000L), attribution(agent, w));
            assertEquals(2, unrolledRows(db, agent.id()), "the late entry's new minute row is marked rolled up");

            TestClock.pin(w.plus(5, ChronoUnit.MINUTES).plusSeconds(10)); // horizon W + 4 min
            pay(agent, 5_000, "tool-a", w.plus(3, ChronoUnit.MINUTES));    // not late: rolled up with its own batch
            awaitIngested(lastPosition);
            assertEquals(w.plus(4, ChronoUnit.MINUTES), rolledThrough(db), "W moves to the horizon");
            assertEquals(26_000, sum(db, "analytics.agent_day", agent.id()), "the minutes W+2 and W+3 rolled up");
            assertEquals(26_000, sum(db, "analytics.agent_tool_day", agent.id()));
            assertEquals(326_000, sum(db, "analytics.agent_day_all", agent.id()));
            assertEquals(326_000, sum(db, "analytics.agent_tool_day_all", agent.id()));

            TestClock.pin(w.plus(13, ChronoUnit.MINUTES));
            pay(agent, 4_000, "tool-a", w.plus(2, ChronoUnit.MINUTES));    // its minute is rolled up: late
            awaitIngested(lastPosition);
            assertEquals(w.plus(12, ChronoUnit.MINUTES), rolledThrough(db));
            assertEquals(330_000, sum(db, "analytics.agent_day", agent.id()), "every minute in the day rows, once");
            assertEquals(330_000, sum(db, "analytics.agent_tool_day", agent.id()));
            assertEquals(330_000, sum(db, "analytics.agent_day_all", agent.id()));
            assertEquals(330_000, sum(db, "analytics.agent_tool_day_all", agent.id()));
            assertEquals(330_000, sum(db, "analytics.agent_tool_minute", agent.id()));
            assertEquals(Map.of("tool-a", 30_000L, "tool-b", 300_000L), attribution(agent, w));
            assertEquals(0, unrolledRows(db, agent.id()));

            // another writer rolls up to W + 20 behind the consumer's back (it still holds W + 12): its
            // next batch must not add an entry of W + 15 to the minute row alone (already rolled up,
            // so counted nowhere else), but roll back and start again from the stored W
            pay(agent, 50_000, "tool-b", w.plus(15, ChronoUnit.MINUTES));
            awaitIngested(lastPosition);
            assertEquals(1, unrolledRows(db, agent.id()));
            db.setAutoCommit(false);
            try (Statement s = db.createStatement()) {
                s.execute("PREPARE roll_up(timestamptz) AS " + IngestionStore.ROLL_UP);
                s.execute("EXECUTE roll_up('" + w.plus(20, ChronoUnit.MINUTES) + "')");
                s.execute("DEALLOCATE roll_up");
                assertEquals(1, s.executeUpdate("UPDATE analytics.day_rollup SET through_minute = '"
                        + w.plus(20, ChronoUnit.MINUTES) + "'"));
                db.commit();
            } finally {
                db.setAutoCommit(true);
            }
            pay(agent, 7_000, "tool-b", w.plus(15, ChronoUnit.MINUTES));
            awaitIngested(lastPosition);
            assertEquals(387_000, sum(db, "analytics.agent_day", agent.id()), "the second entry of W + 15 arrived late");
            assertEquals(387_000, sum(db, "analytics.agent_day_all", agent.id()));
            assertEquals(387_000, sum(db, "analytics.agent_tool_day_all", agent.id()));
            assertEquals(387_000, sum(db, "analytics.agent_tool_minute", agent.id()));
            assertEquals(0, unrolledRows(db, agent.id()));
        }
    }

    /**
     * Moves W back to {@code to}: takes the minutes from {@code to} on out of the day rows again and
     * marks them not rolled up (the inverse of the rollup: the day rows hold every rolled minute row
     * exactly once), so that the rollup counts them once when it gets there again.
     */
    private static void unroll(Connection db, Instant to) throws Exception {
        db.setAutoCommit(false);
        try (PreparedStatement tools = db.prepareStatement("""
                UPDATE analytics.agent_tool_day t SET spend_micros = t.spend_micros - m.spend, call_count = t.call_count - m.calls,
                  retry_call_count = t.retry_call_count - m.retries, retry_spend_micros = t.retry_spend_micros - m.retry_spend,
                  decline_count = t.decline_count - m.declines, declined_micros = t.declined_micros - m.declined
                FROM (SELECT agent_id, (minute AT TIME ZONE 'UTC')::date AS day, tool, team_id, SUM(spend_micros) AS spend,
                             SUM(call_count) AS calls, SUM(retry_call_count) AS retries, SUM(retry_spend_micros) AS retry_spend,
                             SUM(decline_count) AS declines, SUM(declined_micros) AS declined
                      FROM analytics.agent_tool_minute WHERE rolled AND minute >= ? GROUP BY 1, 2, 3, 4) m
                WHERE t.agent_id = m.agent_id AND t.day = m.day AND t.tool = m.tool AND t.team_id = m.team_id""");
             PreparedStatement agents = db.prepareStatement("""
                UPDATE analytics.agent_day a SET spend_micros = a.spend_micros - m.spend, call_count = a.call_count - m.calls,
                  decline_count = a.decline_count - m.declines
                FROM (SELECT agent_id, (minute AT TIME ZONE 'UTC')::date AS day, SUM(spend_micros) AS spend,
                             SUM(call_count) AS calls, SUM(decline_count) AS declines
                      FROM analytics.agent_tool_minute WHERE rolled AND minute >= ? GROUP BY 1, 2) m
                WHERE a.agent_id = m.agent_id AND a.day = m.day""");
             PreparedStatement minutes = db.prepareStatement(
                     "UPDATE analytics.agent_tool_minute SET rolled = false WHERE rolled AND minute >= ?");
             PreparedStatement rollup = db.prepareStatement(
                     "UPDATE analytics.day_rollup SET through_minute = ? WHERE through_minute > ?")) {
            for (PreparedStatement s : new PreparedStatement[]{tools, agents, minutes, rollup}) {
                s.setTimestamp(1, Timestamp.from(to));
            }
            rollup.setTimestamp(2, Timestamp.from(to));
            tools.executeUpdate();
            agents.executeUpdate();
            minutes.executeUpdate();
            assertEquals(1, rollup.executeUpdate(), "W was already before " + to);
            db.commit();
        } finally {
            db.setAutoCommit(true);
        }
    }

    private void pay(Agent agent, long micros, String tool, Instant occurred) {
        long position = ledgerAs(agent).pay(PayRequest.newBuilder().setRequestId(suite + "-" + ++requests)
                .setAmountMicros(micros).setCurrencyCode("USD").setTool(tool).setOccurredTime(ts(occurred)).build())
                .getEntry().getPosition();
        lastPosition = Math.max(lastPosition, position);
    }

    /** Spend per tool over whole days around the history, as the API answers it. */
    private static Map<String, Long> attribution(Agent agent, Instant w) {
        Instant start = w.truncatedTo(ChronoUnit.DAYS).minus(1, ChronoUnit.DAYS);
        Map<String, Long> out = new TreeMap<>();
        for (ToolSpend t : analyticsAdmin().getToolAttribution(GetToolAttributionRequest.newBuilder().setAgentId(agent.id())
                .setStartTime(ts(start)).setEndTime(ts(start.plus(3, ChronoUnit.DAYS))).build()).getToolsList()) {
            out.put(t.getTool(), t.getSpendMicros());
        }
        return out;
    }

    private static Instant rolledThrough(Connection db) throws Exception {
        try (ResultSet r = db.createStatement().executeQuery("SELECT through_minute FROM analytics.day_rollup")) {
            r.next();
            return r.getTimestamp(1).toInstant();
        }
    }

    private static long unrolledRows(Connection db, String agentId) throws Exception {
        try (PreparedStatement q = db.prepareStatement(
                "SELECT count(*) FROM analytics.agent_tool_minute WHERE agent_id = ? AND NOT rolled")) {
            q.setString(1, agentId);
            try (ResultSet r = q.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }

    private static long sum(Connection db, String relation, String agentId) throws Exception {
        try (PreparedStatement q = db.prepareStatement("SELECT COALESCE(SUM(spend_micros), 0) FROM " + relation
                + " WHERE agent_id = ?")) {
            q.setString(1, agentId);
            try (ResultSet r = q.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }
}
