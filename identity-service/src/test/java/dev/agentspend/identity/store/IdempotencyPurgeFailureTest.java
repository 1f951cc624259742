package dev.agentspend.identity.store;

import dev.agentspend.identity.support.Database;
import dev.agentspend.platform.Await;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.platform.PrometheusText;
import dev.agentspend.platform.RefusedDeletes;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

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
    private static final Duration WAIT = Duration.ofSeconds(20);

    public static class FastPurge implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("agentspend.idempotency.purge-interval-ms", "100");
        }
    }

    @Test
    void failedRunsAreCountedDeleteNothingAndTheNextGoodRunCatchesUp() throws Exception {
        List<String> aged = new ArrayList<>();
        double purgedBefore;
        String jdbcUrl = ConfigProvider.getConfig().getValue("quarkus.datasource.jdbc.url", String.class);
        // refused before any record is aged, so that no run can purge them before the failures
        try (RefusedDeletes refused = RefusedDeletes.on(jdbcUrl, "identity.idempotency_records")) {
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

            Await.until(WAIT, "two failed purge runs counted", () -> metric(FAILED) >= failedBefore + 2);
            assertEquals(3, recordsLeft(aged), "a failed run deletes nothing");
            assertFalse(admin().createAgent(agentRequest().build()).getApiKeySecret().isEmpty(),
                    "the service answers while the purge fails");
            // read while no run can succeed: a run right after the refusal ends would be missed
            purgedBefore = metric(PURGED);
        }
        Await.until(WAIT, "the aged records purged once deletes are accepted again", () -> recordsLeft(aged) == 0);
        Await.until(WAIT, "the purged records counted", () -> metric(PURGED) >= purgedBefore + 3);
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
        return PrometheusText.sum(given().get("/q/metrics").then().statusCode(200).extract().asString(), name);
    }
}
