package dev.agentspend.analytics.it;

import dev.agentspend.analytics.support.AnalyticsTestResource;
import dev.agentspend.platform.Await;
import dev.agentspend.platform.PrometheusText;
import dev.agentspend.platform.RefusedDeletes;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.RestAssured;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The scheduled retention purge as it runs in production, against a database that refuses it: every
 * failed run is counted in {@code agentspend_analytics_retention_purge_failed_total} (what the
 * PrometheusRule AgentSpendPurgeFailing reads) and deletes nothing, and the first run after the
 * database accepts deletes again purges what was waiting.
 */
@QuarkusTest
@TestProfile(RetentionPurgeFailureTest.FastPurge.class)
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class RetentionPurgeFailureTest {
    private static final String FAILED = "agentspend_analytics_retention_purge_failed_total";
    private static final String PURGED = "agentspend_analytics_retention_purged_rows_total";
    /** An agent id no payment of the test platform uses: the rows below are this test's own. */
    private static final String AGENT = "agt_purge_failure_test";
    private static final Duration WAIT = Duration.ofSeconds(20);

    public static class FastPurge implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("agentspend.analytics.retention.purge-interval", "100ms");
        }
    }

    @Test
    void failedRunsAreCountedDeleteNothingAndTheNextGoodRunCatchesUp() throws Exception {
        double purgedBefore;
        // refused before the old rows exist, so that no run can purge them before the failures
        try (RefusedDeletes refused = RefusedDeletes.on(AnalyticsTestResource.analyticsJdbcUrl(), "analytics.agent_tool_minute")) {
            double failedBefore = metric(FAILED);
            try (Connection db = database(); Statement s = db.createStatement()) {
                // three rolled-up minutes 40 days old: past the 35 days of minutes kept by default
                assertEquals(3, s.executeUpdate("""
                        INSERT INTO analytics.agent_tool_minute (agent_id, minute, tool, team_id, spend_micros, call_count,
                          retry_call_count, retry_spend_micros, decline_count, declined_micros, rolled)
                        SELECT '%s', date_trunc('minute', now() - interval '40 days') + m * interval '1 minute',
                          'openai/chat.completions', '', 1000, 1, 0, 0, 0, 0, true
                        FROM generate_series(0, 2) AS m""".formatted(AGENT)));
            }
            Await.until(WAIT, "two failed purge runs counted", () -> metric(FAILED) >= failedBefore + 2);
            assertEquals(3, oldMinutes(), "a failed run deletes nothing");
            // read while no run can succeed: a run right after the refusal ends would be missed
            purgedBefore = metric(PURGED);
        }
        Await.until(WAIT, "the old minutes purged once deletes are accepted again", () -> oldMinutes() == 0);
        Await.until(WAIT, "the purged minutes counted", () -> metric(PURGED) >= purgedBefore + 3);
    }

    private static Connection database() throws Exception {
        return DriverManager.getConnection(AnalyticsTestResource.analyticsJdbcUrl(), "postgres", "");
    }

    private static long oldMinutes() {
        try (Connection db = database(); Statement s = db.createStatement();
             ResultSet r = s.executeQuery("SELECT COUNT(*) FROM analytics.agent_tool_minute WHERE agent_id = '" + AGENT + "'")) {
            r.next();
            return r.getLong(1);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static double metric(String name) {
        return PrometheusText.sum(RestAssured.get("/q/metrics").then().statusCode(200).extract().asString(), name);
    }
}
