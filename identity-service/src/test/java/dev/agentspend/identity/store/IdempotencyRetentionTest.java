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

import static dev.agentspend.identity.support.Fixtures.agentRequest;
import static dev.agentspend.identity.support.Grpc.admin;
import static org.junit.jupiter.api.Assertions.*;

/** Request ids are remembered for the retention period, then forgotten, so the table stays bounded. */
@QuarkusTest
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
class IdempotencyRetentionTest {
    @Inject
    IdempotencyRetention retention;

    @Test
    void recordsOlderThanTheRetentionArePurgedAndRecentOnesKept() throws Exception {
        CreateAgentRequest old = agentRequest().build();
        CreateAgentRequest recent = agentRequest().build();
        CreateAgentResponse oldAgent = admin().createAgent(old);
        admin().createAgent(recent);
        try (Connection c = Database.connect(); PreparedStatement age = c.prepareStatement(
                "UPDATE identity.idempotency_records SET create_time = now() - interval '8 days' WHERE request_id = ?")) {
            age.setString(1, old.getRequestId());
            assertEquals(1, age.executeUpdate());
        }

        assertTrue(retention.purge().await().atMost(Duration.ofSeconds(30)) >= 1);

        assertFalse(recordExists(old.getRequestId()));
        assertTrue(recordExists(recent.getRequestId()));
        assertEquals("", admin().createAgent(recent).getApiKeySecret(), "a recent retry still replays");
        assertEquals(oldAgent.getAgent().getId(), admin().getAgent(dev.agentspend.proto.identity.v1.GetAgentRequest
                .newBuilder().setAgent(oldAgent.getAgent().getId()).build()).getAgent().getId(), "only the record goes");
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
