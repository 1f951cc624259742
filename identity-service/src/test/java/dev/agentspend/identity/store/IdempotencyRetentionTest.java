package dev.agentspend.identity.store;

import dev.agentspend.identity.support.Database;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.agentspend.identity.support.Fixtures.agentRequest;
import static dev.agentspend.identity.support.Grpc.admin;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Request ids are remembered for the retention period, then forgotten, so the table stays bounded; the
 * purge deletes them a bounded statement at a time.
 */
@QuarkusTest
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
class IdempotencyRetentionTest {
    @Inject
    IdempotencyRetention retention;

    @Test
    void recordsOlderThanTheRetentionArePurgedInBatchesAndRecentOnesKept() throws Exception {
        List<CreateAgentRequest> old = new ArrayList<>();
        List<CreateAgentResponse> oldAgents = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            CreateAgentRequest r = agentRequest().build();
            old.add(r);
            oldAgents.add(admin().createAgent(r));
        }
        CreateAgentRequest recent = agentRequest().build();
        admin().createAgent(recent);
        try (Connection c = Database.connect(); PreparedStatement age = c.prepareStatement(
                "UPDATE identity.idempotency_records SET create_time = now() - interval '8 days' WHERE request_id = ANY (?)")) {
            age.setArray(1, c.createArrayOf("text", old.stream().map(CreateAgentRequest::getRequestId).toArray()));
            assertEquals(25, age.executeUpdate());
        }
        double purgedBefore = purgedRowsMetric();

        // other tests' records are recent: exactly the 25 aged ones go, in statements of 7 (the test profile's)
        assertEquals(25L, retention.purge().await().atMost(Duration.ofSeconds(30)));

        for (CreateAgentRequest r : old) {
            assertFalse(recordExists(r.getRequestId()));
        }
        assertTrue(recordExists(recent.getRequestId()));
        assertEquals(0L, retention.purge().await().atMost(Duration.ofSeconds(30)), "nothing left to purge");
        assertEquals(25.0, purgedRowsMetric() - purgedBefore, "the purged records are counted");
        assertEquals("", admin().createAgent(recent).getApiKeySecret(), "a recent retry still replays");
        assertEquals(oldAgents.get(0).getAgent().getId(), admin().getAgent(dev.agentspend.proto.identity.v1.GetAgentRequest
                .newBuilder().setAgent(oldAgents.get(0).getAgent().getId()).build()).getAgent().getId(), "only the record goes");
    }

    private static double purgedRowsMetric() {
        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        return metrics.lines().filter(l -> l.startsWith("agentspend_identity_idempotency_purged_rows_total"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst()
                .orElseThrow(() -> new AssertionError("no agentspend_identity_idempotency_purged_rows_total in /q/metrics"));
    }

    private static boolean recordExists(String requestId) throws Exception {
        try (Connection c = Database.connect(); PreparedStatement s = c.prepareStatement(
                "SELECT 1 FROM identity.idempotency_records WHERE request_id = ?")) {
            s.setString(1, requestId);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next();
            }
        }
    }
}
