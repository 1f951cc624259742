package dev.agentspend.ledger.grpc;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.CompleteTaskResponse;
import dev.agentspend.proto.ledger.v1.TaskOutcome;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A batch of one call whose idempotency row collides with another batch's, committed meanwhile:
 * possible for an admin's CompleteTask, whose caller ("admin") does not name the agent, so the
 * same request_id can be in two batches of different agents at once. The call is answered from
 * the other's stored response: ALREADY_EXISTS, as any reuse of a request_id is, rather than the
 * database's error. With every batch starting beside another as soon as
 * one call waits, two single-call batches can be at their commit together.
 */
@QuarkusTest
@TestProfile(RequestIdCollisionGrpcTest.SingleCallBatches.class)
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class RequestIdCollisionGrpcTest {
    public static class SingleCallBatches implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("agentspend.ledger.pay-batch-min-beside-another", "1");
        }
    }

    @Test
    void aSingleCallWhoseRequestIdWasJustTakenIsAnsweredAlreadyExists() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 0);
        TestAgent b = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 0);
        ExecutorService clients = Executors.newFixedThreadPool(2);
        try {
            Future<CompleteTaskResponse> forA;
            Future<CompleteTaskResponse> forB;
            try (Connection lock = Fixture.sql(); Statement st = lock.createStatement()) {
                lock.setAutoCommit(false);
                st.executeQuery("SELECT 1 FROM ledger.feed_position WHERE id = 1 FOR UPDATE").close();
                forA = clients.submit(() -> Fixture.admin().completeTask(complete(a)));
                Fixture.await(Duration.ofSeconds(10), "the first batch waiting at its commit", () -> Fixture.ledgerConnectionsWaitingForALock() == 1);
                forB = clients.submit(() -> Fixture.admin().completeTask(complete(b)));
                Fixture.await(Duration.ofSeconds(10), "the second batch at its commit too", () -> Fixture.ledgerConnectionsWaitingForALock() == 2);
                lock.rollback();
            }
            assertEquals(a.id(), forA.get(30, TimeUnit.SECONDS).getEntry().getAgentId());
            ExecutionException e = assertThrows(ExecutionException.class, () -> forB.get(30, TimeUnit.SECONDS));
            assertEquals(Status.Code.ALREADY_EXISTS, assertInstanceOf(StatusRuntimeException.class, e.getCause()).getStatus().getCode());
        } finally {
            clients.shutdownNow();
        }
        assertEquals(0, Fixture.queryLong("SELECT COUNT(*) FROM ledger.tasks WHERE agent_id = ?", b.id()));
        assertEquals(0, Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE agent_id = ?", b.id()));
    }

    private static CompleteTaskRequest complete(TestAgent agent) {
        return CompleteTaskRequest.newBuilder().setRequestId("admin-single-collide").setAgentId(agent.id()).setTaskId("t1")
                .setOutcome(TaskOutcome.TASK_OUTCOME_SUCCEEDED).build();
    }
}
