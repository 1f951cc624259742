package dev.agentspend.analytics.it;

import dev.agentspend.analytics.support.AnalyticsTestResource;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.PayAgentRequest;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Map;

import static dev.agentspend.analytics.support.Platform.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A flow minute before the rollup's W that is not rolled up (V4 leaves every flow row stored before
 * it so, and a consumer of the release before V4 inserts such rows during a rolling update) meets a
 * late agent payment of that minute: the payment is counted once, in the view readers sum.
 */
@QuarkusTest
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class LateFlowAfterUpgradeTest {
    @Test
    void aLateAgentPaymentOnAFlowMinuteNotRolledUpIsCountedOnce() throws Exception {
        Agent payer = createAgent("late-flow", "", Map.of(), SpendingPolicy.getDefaultInstance(),
                WorkingHours.getDefaultInstance(), 1_000_000);
        Agent payee = createAgent("late-flow", "", Map.of(), SpendingPolicy.getDefaultInstance(),
                WorkingHours.getDefaultInstance(), 0);
        Instant minute = Instant.now().truncatedTo(ChronoUnit.MINUTES).minus(10, ChronoUnit.MINUTES);
        try (Connection db = DriverManager.getConnection(AnalyticsTestResource.analyticsJdbcUrl(), "postgres", "")) {
            try (PreparedStatement st = db.prepareStatement("SELECT through_minute FROM analytics.day_rollup");
                 ResultSet r = st.executeQuery()) {
                assertTrue(r.next());
                assertTrue(r.getObject(1, OffsetDateTime.class).toInstant().isAfter(minute), "the minute is before W");
            }
            // as the release before V4 wrote it: no flag of its own, so not rolled up
            try (PreparedStatement st = db.prepareStatement("INSERT INTO analytics.agent_flow_minute "
                    + "(payer_agent_id, payee_agent_id, minute, amount_micros, payment_count) VALUES (?, ?, ?, 500, 1)")) {
                st.setString(1, payer.id());
                st.setString(2, payee.id());
                st.setObject(3, OffsetDateTime.ofInstant(minute, ZoneOffset.UTC));
                st.executeUpdate();
            }
            Entry e = ledgerAs(payer).payAgent(PayAgentRequest.newBuilder().setRequestId(payer.handle() + "-late")
                    .setPayeeAgentId(payee.id()).setAmountMicros(200).setCurrencyCode("USD")
                    .setOccurredTime(ts(minute.plusSeconds(5))).build()).getEntry();
            assertEquals(Decision.DECISION_APPROVED, e.getDecision(), e.toString());
            awaitIngested(e.getPosition());
            try (PreparedStatement st = db.prepareStatement("SELECT COALESCE(SUM(amount_micros), 0), COALESCE(SUM(payment_count), 0) "
                    + "FROM analytics.agent_flow_day_all WHERE payer_agent_id = ? AND payee_agent_id = ?")) {
                st.setString(1, payer.id());
                st.setString(2, payee.id());
                try (ResultSet r = st.executeQuery()) {
                    assertTrue(r.next());
                    assertEquals(700, r.getLong(1), "the stored 500 and the late 200, each once");
                    assertEquals(2, r.getLong(2));
                }
            }
        }
    }
}
