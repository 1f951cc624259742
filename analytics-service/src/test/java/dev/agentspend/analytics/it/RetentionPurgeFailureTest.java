package dev.agentspend.analytics.it;

import dev.agentspend.analytics.support.AnalyticsTestResource;
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
import java.util.function.BooleanSupplier;

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

    public static class FastPurge implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("agentspend.analytics.retention.purge-interval", "100ms");
        }
    }

    @Test
    void failedRunsAreCountedDeleteNothingAndTheNextGoodRunCatchesUp() throws Exception {
        try (Connection db = database(); Statement s = db.createStatement()) {
            // installed before the old rows exist, so that no run can purge them before the failures
            s.execute("""
                    CREATE FUNCTION public.test_refuse_purge() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'the test refuses deletes from analytics.agent_tool_minute'; END $$""");
            s.execute("CREATE TRIGGER test_refuse_purge BEFORE DELETE ON analytics.agent_tool_minute "
                    + "FOR EACH STATEMENT EXECUTE FUNCTION public.test_refuse_purge()");
        }
        double purgedBefore;
        try {
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
            await("two failed purge runs counted", () -> metric(FAILED) >= failedBefore + 2);
            assertEquals(3, oldMinutes(), "a failed run deletes nothing");
            // read while no run can succeed: a run right after the trigger goes would be missed
            purgedBefore = metric(PURGED);
        } finally {
            try (Connection db = database(); Statement s = db.createStatement()) {
                s.execute("DROP TRIGGER test_refuse_purge ON analytics.agent_tool_minute");
                s.execute("DROP FUNCTION public.test_refuse_purge()");
            }
        }
        await("the old minutes purged once deletes are accepted again", () -> oldMinutes() == 0);
        await("the purged minutes counted", () -> metric(PURGED) >= purgedBefore + 3);
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
        String metrics = RestAssured.get("/q/metrics").then().statusCode(200).extract().asString();
        return metrics.lines().filter(l -> l.startsWith(name + " ") || l.startsWith(name + "{"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    /** Polls every 20 ms for up to 20 s; the purge runs every 100 ms here. */
    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after 20 s waiting for " + what);
            }
            Thread.sleep(20);
        }
    }
}
