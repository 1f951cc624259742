package dev.agentspend.ledger.grpc;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.CompleteTaskResponse;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import dev.agentspend.proto.ledger.v1.TaskOutcome;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.agentspend.ledger.support.Fixture.pay;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CompleteTask goes in the Pay batches (group commit), in its agent's arrival order. The test
 * holds a lock the first batch needs, so that the calls sent meanwhile wait in the queue, one by
 * one in a known order, and go together in the next batch once the lock is released.
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class TaskCompletionBatchGrpcTest {
    private ExecutorService clients;
    private int queued;

    @BeforeEach
    void clients() {
        clients = Executors.newCachedThreadPool();
        queued = 0;
    }

    @AfterEach
    void stop() {
        clients.shutdownNow();
    }

    @Test
    void completionsAreDecidedInTheirAgentsPayBatchInArrivalOrder() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000);
        double retriedBefore = metric("agentspend_ledger_pay_batches_retried_total");
        Future<?> first;
        List<Future<Entry>> batch = new ArrayList<>();
        Future<Entry> refusedTwice;
        Future<Entry> sameRequestAgain;
        CompleteTaskRequest t1 = complete("batch-t1", "t1");
        try (Connection lock = lockAgentRow(a)) {
            first = clients.submit(() -> a.ledger().pay(pay(1_000).build()));
            Fixture.await(Duration.ofSeconds(10), "the first batch waiting for the agent's lock", () -> Fixture.ledgerConnectionsWaitingForALock() == 1);
            batch.add(queue(() -> a.ledger().pay(pay(1_000).setTaskId("t1").build()).getEntry()));
            batch.add(queue(() -> a.ledger().pay(pay(2_000).setTaskId("t1").build()).getEntry()));
            batch.add(queue(() -> a.ledger().completeTask(t1).getEntry()));
            batch.add(queue(() -> a.ledger().pay(pay(4_000).setTaskId("t2").build()).getEntry()));
            batch.add(queue(() -> a.ledger().completeTask(complete("batch-t2", "t2")).getEntry()));
            refusedTwice = queue(() -> a.ledger().completeTask(complete("batch-t1-again", "t1")).getEntry());
            sameRequestAgain = queue(() -> a.ledger().completeTask(t1).getEntry());
            lock.rollback();
        }
        first.get(30, TimeUnit.SECONDS);
        List<Entry> entries = new ArrayList<>();
        for (Future<Entry> f : batch) {
            entries.add(f.get(30, TimeUnit.SECONDS));
        }
        // each decided against the state the calls before it left: 1,000,000 - 1,000 (the first batch)
        assertEquals(998_000, entries.get(0).getBalanceMicros());
        assertEquals(996_000, entries.get(1).getBalanceMicros());
        assertEquals(996_000, entries.get(2).getBalanceMicros());
        assertEquals("t1", entries.get(2).getTaskId());
        assertEquals(TaskOutcome.TASK_OUTCOME_SUCCEEDED, entries.get(2).getTaskOutcome());
        assertEquals(992_000, entries.get(3).getBalanceMicros());
        assertEquals(992_000, entries.get(4).getBalanceMicros());
        for (int i = 1; i < entries.size(); i++) {
            assertEquals(entries.get(i - 1).getPosition() + 1, entries.get(i).getPosition(), "feed order is arrival order");
        }
        assertEquals(Decision.DECISION_APPROVED, entries.get(3).getDecision());

        ExecutionException refusal = assertThrows(ExecutionException.class,
                () -> refusedTwice.get(30, TimeUnit.SECONDS));
        StatusRuntimeException status = assertInstanceOf(StatusRuntimeException.class, refusal.getCause());
        assertEquals(Status.Code.FAILED_PRECONDITION, status.getStatus().getCode());
        assertTrue(status.getStatus().getDescription().contains("already completed"), status.getStatus().getDescription());
        assertEquals(entries.get(2), sameRequestAgain.get(30, TimeUnit.SECONDS), "a repeat in the same batch is its replay");

        // one transaction for the five calls queued together, another for the first
        Set<String> transactions = new HashSet<>();
        for (Entry e : entries) {
            transactions.add(transactionOf(e.getEntryId()));
        }
        assertEquals(1, transactions.size(), "the queued calls committed together");
        // the second completion of t1 was refused inside the batch, not by the batch failing on the task row
        assertEquals(retriedBefore, metric("agentspend_ledger_pay_batches_retried_total"));
        assertNotEquals(transactions.iterator().next(), transactionOfFirstPayment(a));
        // the refused completion wrote nothing: two task rows, two completion entries, no stored response
        assertEquals(2, Fixture.queryLong("SELECT COUNT(*) FROM ledger.tasks WHERE agent_id = ?", a.id()));
        assertEquals(1, Fixture.queryLong("SELECT COUNT(*) FROM ledger.tasks WHERE agent_id = ? AND task_id = 't1' AND entry_id = ?",
                a.id(), entries.get(2).getEntryId()));
        assertEquals(2, Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE agent_id = ? AND event_type = ?",
                a.id(), EventType.EVENT_TYPE_TASK_COMPLETED_VALUE));
        assertEquals(0, Fixture.queryLong("SELECT COUNT(*) FROM ledger.idempotency WHERE request_id = 'batch-t1-again'"));
        // and the stored response replays after the batch too
        assertEquals(entries.get(2), a.ledger().completeTask(t1).getEntry());
    }

    @Test
    void anAdminsRequestIdUsedForTwoAgentsInOneBatchIsRefusedForTheSecond() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000);
        TestAgent b = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 0);
        Future<CompleteTaskResponse> forA;
        Future<CompleteTaskResponse> forB;
        try (Connection lock = lockAgentRow(a)) {
            Future<?> first = clients.submit(() -> Fixture.admin().completeTask(adminComplete("admin-first", a, "t0")));
            Fixture.await(Duration.ofSeconds(10), "the first batch waiting for the agent's lock", () -> Fixture.ledgerConnectionsWaitingForALock() == 1);
            forA = queue(() -> Fixture.admin().completeTask(adminComplete("admin-shared", a, "t1")));
            forB = queue(() -> Fixture.admin().completeTask(adminComplete("admin-shared", b, "t1")));
            lock.rollback();
            first.get(30, TimeUnit.SECONDS);
        }
        assertEquals(a.id(), forA.get(30, TimeUnit.SECONDS).getEntry().getAgentId());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> forB.get(30, TimeUnit.SECONDS));
        assertEquals(Status.Code.ALREADY_EXISTS, assertInstanceOf(StatusRuntimeException.class, e.getCause()).getStatus().getCode());
        assertEquals(0, Fixture.queryLong("SELECT COUNT(*) FROM ledger.tasks WHERE agent_id = ?", b.id()));
    }

    @Test
    void anAdminsRequestIdCommittedByAnotherBatchMeanwhileIsRefusedNotLost() throws Exception {
        // two batches at their commit at once, both storing ("admin", the same request_id): the
        // second fails as a whole, its calls are committed one by one, and the completion that
        // collided finds the first one's stored response: a reuse of the request_id, refused
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 0);
        TestAgent b = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 0);
        List<TestAgent> payers = new ArrayList<>();
        for (int i = 0; i < BatchOverlapGrpcTest.BESIDE_ANOTHER_MIN; i++) {
            payers.add(Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000));
        }
        Future<CompleteTaskResponse> forA;
        Future<CompleteTaskResponse> forB;
        List<Future<Entry>> payments = new ArrayList<>();
        try (Connection lock = Fixture.sql(); Statement st = lock.createStatement()) {
            lock.setAutoCommit(false);
            st.executeQuery("SELECT 1 FROM ledger.feed_position WHERE id = 1 FOR UPDATE").close();
            forA = clients.submit(() -> Fixture.admin().completeTask(adminComplete("admin-collide", a, "t1")));
            Fixture.await(Duration.ofSeconds(10), "the first batch waiting at its commit", () -> Fixture.ledgerConnectionsWaitingForALock() == 1);
            forB = clients.submit(() -> Fixture.admin().completeTask(adminComplete("admin-collide", b, "t1")));
            for (TestAgent p : payers) {
                payments.add(clients.submit(() -> p.ledger().pay(pay(1_000).build()).getEntry()));
            }
            Fixture.await(Duration.ofSeconds(10), "a second batch at its commit too", () -> Fixture.ledgerConnectionsWaitingForALock() == 2);
            lock.rollback();
        }
        assertEquals(a.id(), forA.get(30, TimeUnit.SECONDS).getEntry().getAgentId());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> forB.get(30, TimeUnit.SECONDS));
        assertEquals(Status.Code.ALREADY_EXISTS, assertInstanceOf(StatusRuntimeException.class, e.getCause()).getStatus().getCode());
        for (Future<Entry> p : payments) {
            assertEquals(Decision.DECISION_APPROVED, p.get(30, TimeUnit.SECONDS).getDecision());
        }
        assertEquals(0, Fixture.queryLong("SELECT COUNT(*) FROM ledger.tasks WHERE agent_id = ?", b.id()));
    }

    /** Sends a call and waits until it is in the queue, so that calls queue in the order sent. */
    private <T> Future<T> queue(Callable<T> call) {
        Future<T> f = clients.submit(call);
        int expected = ++queued;
        Fixture.await(Duration.ofSeconds(10), expected + " calls queued", () -> queueSize() == expected);
        return f;
    }

    private static CompleteTaskRequest complete(String requestId, String taskId) {
        return CompleteTaskRequest.newBuilder().setRequestId(requestId).setTaskId(taskId)
                .setOutcome(TaskOutcome.TASK_OUTCOME_SUCCEEDED).build();
    }

    private static CompleteTaskRequest adminComplete(String requestId, TestAgent agent, String taskId) {
        return complete(requestId, taskId).toBuilder().setAgentId(agent.id()).build();
    }

    /** Holds the agent's state row locked (the ledger's batches lock it first) until rolled back. */
    private static Connection lockAgentRow(TestAgent a) throws Exception {
        Connection c = Fixture.sql();
        c.setAutoCommit(false);
        try (PreparedStatement st = c.prepareStatement("SELECT 1 FROM ledger.agent_state WHERE agent_id = ? FOR UPDATE")) {
            st.setString(1, a.id());
            try (ResultSet rs = st.executeQuery()) {
                assertTrue(rs.next(), "the agent's row exists (it was credited or paid before)");
            }
        }
        return c;
    }

    private static String transactionOf(String entryId) {
        return String.valueOf(Fixture.queryLong("SELECT xmin::text::bigint FROM ledger.entries WHERE entry_id = ?", entryId));
    }

    private static String transactionOfFirstPayment(TestAgent a) {
        return String.valueOf(Fixture.queryLong("SELECT xmin::text::bigint FROM ledger.entries WHERE agent_id = ? "
                + "AND event_type = ? ORDER BY position LIMIT 1", a.id(),
                EventType.EVENT_TYPE_PAYMENT_APPROVED_VALUE));
    }

    private static long queueSize() {
        return (long) metric("agentspend_ledger_pay_queue_size");
    }

    private static double metric(String name) {
        String metrics = given().port(Fixture.LEDGER_PORT).get("/q/metrics").then().statusCode(200).extract().asString();
        return metrics.lines().filter(l -> l.startsWith(name + " ") || l.startsWith(name + "{"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }
}
