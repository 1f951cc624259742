package dev.agentspend.identity.store;

import dev.agentspend.identity.support.Database;
import dev.agentspend.identity.support.FeedWatcher;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.proto.identity.v1.AgentStatus;
import dev.agentspend.proto.identity.v1.ReinstateAgentRequest;
import dev.agentspend.proto.identity.v1.SuspendAgentRequest;
import dev.agentspend.proto.identity.v1.WatchPoliciesResponse;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.agentspend.identity.support.Fixtures.createAgent;
import static dev.agentspend.identity.support.Fixtures.requestId;
import static dev.agentspend.identity.support.Grpc.admin;
import static org.junit.jupiter.api.Assertions.*;

/** Compaction bounds the feed without making any watcher miss the current state of a subject. */
@QuarkusTest
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
class FeedCompactionTest {
    @Inject
    FeedCompaction compaction;

    @Test
    void supersededOldChangesGoAndResumingFromBeforeThemGivesASnapshot() throws Exception {
        String agentId = createAgent().getAgent().getId();
        admin().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId).build());
        admin().reinstateAgent(ReinstateAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId).build());
        List<Long> before = versionsOf(agentId);
        assertEquals(3, before.size());
        try (Connection c = Database.connect(); Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE identity.policy_changes SET commit_time = commit_time - interval '8 days'");
        }

        assertTrue(compaction.compact().await().atMost(Duration.ofSeconds(30)) >= 2);

        assertEquals(List.of(before.get(2)), versionsOf(agentId), "only the latest change of the agent is kept");
        long horizon = horizon();
        assertTrue(horizon >= before.get(2));

        try (FeedWatcher stale = FeedWatcher.service(before.get(0))) {
            List<WatchPoliciesResponse> snapshot = new ArrayList<>();
            WatchPoliciesResponse event = stale.next();
            while (!event.hasSnapshotComplete()) {
                snapshot.add(event);
                event = stale.next();
            }
            assertTrue(snapshot.stream().anyMatch(e -> e.getAgentPolicy().getAgentId().equals(agentId)
                    && e.getAgentPolicy().getStatus() == AgentStatus.AGENT_STATUS_ACTIVE
                    && e.getAgentPolicy().getAgentVersion() == 3), "the snapshot holds the agent's latest state");
        }

        try (FeedWatcher current = FeedWatcher.service(horizon)) {
            admin().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId).build());
            WatchPoliciesResponse change = current.nextChange();
            assertFalse(change.hasSnapshotComplete(), "resuming at the horizon is exact");
            assertEquals(agentId, change.getAgentPolicy().getAgentId());
            assertEquals(AgentStatus.AGENT_STATUS_SUSPENDED, change.getAgentPolicy().getStatus());
            assertTrue(change.getVersion() > horizon);
        }
    }

    @Test
    void aConnectedWatcherLeftBelowTheHorizonIsToldToStartOver() throws Exception {
        String agentId = createAgent().getAgent().getId();
        long head;
        try (Connection c = Database.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT max(version) FROM identity.policy_changes")) {
            assertTrue(rs.next());
            head = rs.getLong(1);
        }
        try (FeedWatcher watcher = FeedWatcher.service(head)) {
            // another replica appends two changes of the agent and compacts the older one away, in
            // one transaction, so the watcher can only ever see the compacted state
            try (Connection c = Database.connect()) {
                c.setAutoCommit(false);
                try (Statement s = c.createStatement()) {
                    for (int i = 0; i < 2; i++) {
                        s.executeUpdate("INSERT INTO identity.policy_changes (version, subject_type, subject_id, payload,"
                                + " commit_time) SELECT nextval('identity.feed_version'), subject_type, subject_id, payload,"
                                + " now() - interval '8 days' FROM identity.policy_changes WHERE subject_id = '" + agentId
                                + "' ORDER BY version DESC LIMIT 1");
                    }
                    s.executeUpdate("DELETE FROM identity.policy_changes WHERE version = (SELECT min(version) FROM"
                            + " identity.policy_changes WHERE subject_id = '" + agentId + "' AND version > " + head + ")");
                    s.executeUpdate("UPDATE identity.feed_horizon SET version = (SELECT max(version) FROM identity.policy_changes)");
                }
                c.commit();
            }
            io.grpc.StatusRuntimeException e = assertThrows(io.grpc.StatusRuntimeException.class, watcher::nextChange);
            assertEquals(io.grpc.Status.Code.ABORTED, e.getStatus().getCode());
            assertEquals("FEED_COMPACTED", dev.agentspend.common.error.GrpcErrors.reasonOf(e));
        }
        try (FeedWatcher again = FeedWatcher.service(head)) {
            WatchPoliciesResponse event = again.next();
            while (!event.hasSnapshotComplete()) {
                event = again.next();
            }
            assertEquals(horizon(), event.getVersion(), "reconnecting from below the horizon gives a snapshot");
        }
    }

    private static List<Long> versionsOf(String agentId) throws SQLException {
        List<Long> versions = new ArrayList<>();
        try (Connection c = Database.connect(); PreparedStatement s = c.prepareStatement(
                "SELECT version FROM identity.policy_changes WHERE subject_id = ? ORDER BY version")) {
            s.setString(1, agentId);
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    versions.add(rs.getLong(1));
                }
            }
        }
        return versions;
    }

    private static long horizon() throws SQLException {
        try (Connection c = Database.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT version FROM identity.feed_horizon")) {
            assertTrue(rs.next());
            return rs.getLong(1);
        }
    }
}
