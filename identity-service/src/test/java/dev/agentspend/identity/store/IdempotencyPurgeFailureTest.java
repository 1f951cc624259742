package dev.agentspend.identity.store;

import dev.agentspend.identity.support.Database;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import static dev.agentspend.identity.support.Fixtures.agentRequest;
import static dev.agentspend.identity.support.Grpc.admin;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The scheduled purge as it runs in production, against a database that refuses it: every failed run
 * is counted in {@code agentspend_identity_idempotency_purge_failed_total} (what the PrometheusRule
 * AgentSpendPurgeFailing reads), deletes nothing, leaves the service answering, and the first run
 * after the database accepts deletes again purges what was waiting.
 */
@QuarkusTest
@TestProfile(IdempotencyPurgeFailureTest.FastPurge.class)
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
class IdempotencyPurgeFailureTest {
    private static final String FAILED = "agentspend_identity_idempotency_purge_failed_total";
    private static final String PURGED = "agentspend_identity_idempotency_purged_rows_total";

    public static class FastPurge implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("agentspend.idempotency.purge-interval-ms", "100");
        }
    }

    @Test
    void failedRunsAreCountedDeleteNothingAndTheNextGoodRunCatchesUp() throws Exception {
        try (Connection c = Database.connect(); Statement s = c.createStatement()) {
            // installed before any record is aged, so that no run can purge them before the failures
            s.execute("""
                    CREATE FUNCTION public.test_refuse_purge() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'the test refuses deletes from identity.idempotency_records'; END $$""");
            s.execute("CREATE TRIGGER test_refuse_purge BEFORE DELETE ON identity.idempotency_records "
                    + "FOR EACH STATEMENT EXECUTE FUNCTION public.test_refuse_purge()");
        }
        List<String> aged = new ArrayList<>();
        double purgedBefore;
        try {
            double failedBefore = metric(FAILED);
            for (int i = 0; i < 3; i++) {
                CreateAgentRequest r = agentRequest().build();
                admin().createAgent(r);
                aged.add(r.getRequestId());
            }
            try (Connection c = Database.connect(); PreparedStatement age = c.prepareStatement(
                    "UPDATE identity.idempotency_records SET create_time = now() - interval '8 days' WHERE request_id = ANY (?)")) {
                age.setArray(1, c.createArrayOf("text", aged.toArray()));
                assertEquals(3, age.executeUpdate(), "older than the retention (168 hours)");
            }

            await("two failed purge runs counted", () -> metric(FAILED) >= failedBefore + 2);
            assertEquals(3, recordsLeft(aged), "a failed run deletes nothing");
            CreateAgentRequest during = agentRequest().build();
            assertFalse(admin().createAgent(during).getApiKeySecret().isEmpty(), "the service answers while the purge fails");
            // read while no run can succeed: a run right after the trigger goes would be missed
            purgedBefore = metric(PURGED);
        } finally {
            try (Connection c = Database.connect(); Statement s = c.createStatement()) {
                s.execute("DROP TRIGGER test_refuse_purge ON identity.idempotency_records");
                s.execute("DROP FUNCTION public.test_refuse_purge()");
            }
        }
        await("the aged records purged once deletes are accepted again", () -> recordsLeft(aged) == 0);
        await("the purged records counted", () -> metric(PURGED) >= purgedBefore + 3);
    }

    private static long recordsLeft(List<String> requestIds) {
        try (Connection c = Database.connect(); PreparedStatement s = c.prepareStatement(
                "SELECT COUNT(*) FROM identity.idempotency_records WHERE request_id = ANY (?)")) {
            s.setArray(1, c.createArrayOf("text", requestIds.toArray()));
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static double metric(String name) {
        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
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
