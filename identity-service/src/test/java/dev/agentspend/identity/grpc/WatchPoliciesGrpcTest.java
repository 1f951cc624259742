package dev.agentspend.identity.grpc;

import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.identity.support.Database;
import dev.agentspend.identity.support.FeedWatcher;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.proto.identity.v1.*;
import io.grpc.Status;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.agentspend.identity.support.Fixtures.*;
import static dev.agentspend.identity.support.Grpc.*;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.*;

/** The policy feed: snapshot, live changes, exact resumption in commit order, heartbeats, access. */
@QuarkusTest
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
class WatchPoliciesGrpcTest {

    @Test
    void snapshotHoldsEveryAgentAndTeamThenChangesFollow() {
        Team team = createTeam();
        CreateAgentResponse created = admin().createAgent(agentRequest().setTeamId(team.getId()).build());
        String agentId = created.getAgent().getId();

        try (FeedWatcher watcher = FeedWatcher.service(0)) {
            Map<String, AgentPolicy> agents = new HashMap<>();
            Map<String, TeamPolicy> teams = new HashMap<>();
            List<Long> snapshotVersions = new ArrayList<>();
            WatchPoliciesResponse event = watcher.next();
            while (!event.hasSnapshotComplete()) {
                snapshotVersions.add(event.getVersion());
                if (event.hasAgentPolicy()) {
                    agents.put(event.getAgentPolicy().getAgentId(), event.getAgentPolicy());
                } else {
                    teams.put(event.getTeamPolicy().getTeamId(), event.getTeamPolicy());
                }
                event = watcher.next();
            }
            long snapshotVersion = event.getVersion();
            assertEquals(agents.size(), event.getSnapshotComplete().getAgentCount());
            assertEquals(teams.size(), event.getSnapshotComplete().getTeamCount());
            assertTrue(snapshotVersions.stream().allMatch(v -> v == snapshotVersion));

            AgentPolicy policy = agents.get(agentId);
            assertNotNull(policy, "the snapshot holds the agent");
            assertEquals(created.getAgent().getHandle(), policy.getHandle());
            assertEquals(team.getId(), policy.getTeamId());
            assertEquals(created.getAgent().getPolicy(), policy.getPolicy());
            assertEquals(created.getAgent().getWorkingHours(), policy.getWorkingHours());
            assertEquals(AgentStatus.AGENT_STATUS_ACTIVE, policy.getStatus());
            assertEquals(1, policy.getKeysCount());
            String secret = ApiKeys.parse(created.getApiKeySecret()).orElseThrow().secret();
            assertArrayEquals(ApiKeys.sha256(secret), policy.getKeys(0).getSecretSha256().toByteArray());
            assertEquals(team.getCapsList(), teams.get(team.getId()).getCapsList());

            admin().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId).build());
            WatchPoliciesResponse change = watcher.nextChange();
            assertTrue(change.getVersion() > snapshotVersion);
            assertEquals(agentId, change.getAgentPolicy().getAgentId());
            assertEquals(AgentStatus.AGENT_STATUS_SUSPENDED, change.getAgentPolicy().getStatus());
            assertEquals(2, change.getAgentPolicy().getAgentVersion());

            admin().revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(requestId())
                    .setKeyId(created.getApiKey().getKeyId()).build());
            WatchPoliciesResponse keyRevoked = watcher.nextChange();
            assertTrue(keyRevoked.getVersion() > change.getVersion());
            assertEquals(0, keyRevoked.getAgentPolicy().getKeysCount(), "revoked keys leave the feed");
        }
    }

    @Test
    void expiredKeysLeaveTheFeedAtTheAgentsNextChange() throws InterruptedException {
        CreateAgentResponse created = admin().createAgent(agentRequest().build());
        String agentId = created.getAgent().getId();
        long expireMillis = System.currentTimeMillis() + 1_500;
        CreateApiKeyResponse shortLived = admin().createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(requestId())
                .setAgentId(agentId).setExpireTime(com.google.protobuf.util.Timestamps.fromMillis(expireMillis)).build());
        try (FeedWatcher watcher = FeedWatcher.service(0)) {
            WatchPoliciesResponse event = watcher.next();
            AgentPolicy before = null;
            while (!event.hasSnapshotComplete()) {
                if (event.hasAgentPolicy() && event.getAgentPolicy().getAgentId().equals(agentId)) {
                    before = event.getAgentPolicy();
                }
                event = watcher.next();
            }
            assertNotNull(before);
            assertEquals(2, before.getKeysCount(), "both keys are usable when the snapshot is taken");

            // the key's expiry is a point on identity's wall clock: nothing to wait for but the clock
            long left = expireMillis - System.currentTimeMillis() + 100;
            if (left > 0) {
                Thread.sleep(left);
            }
            admin().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId).build());
            WatchPoliciesResponse change = watcher.nextChange();
            while (!change.hasAgentPolicy() || !change.getAgentPolicy().getAgentId().equals(agentId)) {
                change = watcher.nextChange();
            }
            assertEquals(List.of(created.getApiKey().getKeyId()),
                    change.getAgentPolicy().getKeysList().stream().map(KeyVerifier::getKeyId).toList(),
                    "the expired key " + shortLived.getApiKey().getKeyId() + " is no longer published");
        }
    }

    @Test
    void quietFeedSendsHeartbeatsAtTheCurrentVersion() {
        try (FeedWatcher watcher = FeedWatcher.service(0)) {
            WatchPoliciesResponse event = watcher.next();
            while (!event.hasSnapshotComplete()) {
                event = watcher.next();
            }
            WatchPoliciesResponse heartbeat = watcher.next();
            assertTrue(heartbeat.hasHeartbeat(), heartbeat.toString());
            assertEquals(event.getVersion(), heartbeat.getVersion());
            assertTrue(heartbeat.getHeartbeat().hasServerTime());
        }
    }

    @Test
    void resumingWatcherMissesNothingAndSeesCommitOrderUnderConcurrentWriters() throws Exception {
        List<String> agentIds = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            agentIds.add(createAgent().getAgent().getId());
        }
        long start;
        try (FeedWatcher snapshot = FeedWatcher.service(0)) {
            WatchPoliciesResponse event = snapshot.next();
            while (!event.hasSnapshotComplete()) {
                event = snapshot.next();
            }
            start = event.getVersion();
        }

        int writers = 8;
        int changesPerWriter = 12;
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        List<Future<?>> done = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            String agentId = agentIds.get(w);
            done.add(pool.submit(() -> {
                for (int i = 0; i < changesPerWriter; i++) {
                    admin().updateAgent(UpdateAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId)
                            .addUpdateMask("labels").putLabels("step", Integer.toString(i)).build());
                }
            }));
        }

        List<WatchPoliciesResponse> seen = new ArrayList<>();
        long resumeFrom = start;
        // disconnect twice mid-stream while the writers run, resuming each time from the last version applied
        for (int session = 0; session < 2; session++) {
            try (FeedWatcher watcher = FeedWatcher.service(resumeFrom)) {
                for (int i = 0; i < 20; i++) {
                    WatchPoliciesResponse change = watcher.nextChange();
                    assertFalse(change.hasSnapshotComplete(), "a resumed watcher gets no snapshot");
                    seen.add(change);
                }
            }
            resumeFrom = seen.get(seen.size() - 1).getVersion();
        }
        for (Future<?> f : done) {
            f.get(60, TimeUnit.SECONDS);
        }
        pool.shutdown();

        List<Long> expected = new ArrayList<>();
        try (Connection c = Database.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT version FROM identity.policy_changes WHERE version > " + start
                     + " ORDER BY version")) {
            while (rs.next()) {
                expected.add(rs.getLong(1));
            }
        }
        assertEquals(writers * changesPerWriter, expected.size());
        try (FeedWatcher watcher = FeedWatcher.service(resumeFrom)) {
            while (seen.get(seen.size() - 1).getVersion() < expected.get(expected.size() - 1)) {
                seen.add(watcher.nextChange());
            }
        }
        assertEquals(expected, seen.stream().map(WatchPoliciesResponse::getVersion).toList(),
                "every committed change, each once, in version order");
        Map<String, Long> lastAgentVersion = new HashMap<>();
        for (WatchPoliciesResponse e : seen) {
            AgentPolicy p = e.getAgentPolicy();
            Long before = lastAgentVersion.put(p.getAgentId(), p.getAgentVersion());
            assertTrue(before == null || before + 1 == p.getAgentVersion(),
                    () -> p.getAgentId() + " went from version " + before + " to " + p.getAgentVersion());
        }
        for (String agentId : agentIds) {
            assertEquals(1L + changesPerWriter, lastAgentVersion.get(agentId));
        }
    }

    @Test
    void versionBeyondTheHeadStartsOverWithASnapshot() {
        try (FeedWatcher watcher = FeedWatcher.service(Long.MAX_VALUE)) {
            WatchPoliciesResponse event = watcher.next();
            while (!event.hasSnapshotComplete()) {
                event = watcher.next();
            }
            assertTrue(event.getVersion() < Long.MAX_VALUE);
        }
    }

    @Test
    void accessAndInputAreChecked() {
        String agentKey = createAgent().getApiKeySecret();
        fails(Status.Code.PERMISSION_DENIED, () -> new FeedWatcher(agentKey, 0).next());
        fails(Status.Code.UNAUTHENTICATED, () -> new FeedWatcher("nope", 0).next());
        assertEquals(List.of("after_version"), violatedFields(fails(Status.Code.INVALID_ARGUMENT,
                () -> FeedWatcher.service(-1).next())));
        try (FeedWatcher adminWatcher = new FeedWatcher(ADMIN_TOKEN, 0)) {
            assertNotNull(adminWatcher.next());
        }
    }

    @Test
    void cancelledWatchersStopAndAreReleased() {
        for (int i = 0; i < 3; i++) {
            try (FeedWatcher watcher = FeedWatcher.service(0)) {
                watcher.next();
            }
        }
        awaitNoWatchers();
    }

    @Test
    void watchersPerReplicaAreBounded() {
        awaitNoWatchers();
        List<FeedWatcher> open = new ArrayList<>();
        try {
            for (int i = 0; i < 8; i++) {
                FeedWatcher watcher = FeedWatcher.service(0);
                open.add(watcher);
                watcher.next();
            }
            assertEquals("TOO_MANY_WATCHERS", reason(fails(Status.Code.RESOURCE_EXHAUSTED,
                    () -> FeedWatcher.service(0).next())));
        } finally {
            open.forEach(FeedWatcher::close);
        }
        awaitNoWatchers();
        try (FeedWatcher again = FeedWatcher.service(0)) {
            assertNotNull(again.next(), "closed watchers free their places");
        }
    }

    private static void awaitNoWatchers() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (watcherGauge() != 0 && System.nanoTime() < deadline) {
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
        }
        assertEquals(0, watcherGauge());
    }

    private static double watcherGauge() {
        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        for (String line : metrics.split("\n")) {
            if (line.startsWith("identity_policy_watchers")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError("no identity_policy_watchers gauge in " + metrics.length() + " bytes of metrics");
    }
}
