package dev.agentspend.ledger.grpc;

import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.CompleteTaskResponse;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.CaptureRequest;
import dev.agentspend.proto.ledger.v1.CaptureResponse;
import dev.agentspend.proto.ledger.v1.HoldRequest;
import dev.agentspend.proto.ledger.v1.HoldResponse;
import dev.agentspend.proto.ledger.v1.HoldStatus;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import dev.agentspend.proto.ledger.v1.ReleaseRequest;
import dev.agentspend.proto.ledger.v1.ReleaseResponse;
import dev.agentspend.proto.ledger.v1.ReverseRequest;
import dev.agentspend.proto.ledger.v1.ReverseResponse;
import dev.agentspend.proto.ledger.v1.TaskOutcome;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.agentspend.ledger.support.Fixture.pay;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class IdempotencyGrpcTest {
    static long entriesOf(TestAgent a) {
        return Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE agent_id = ?", a.id());
    }

    @Test
    void aRepeatReturnsTheOriginalResultAndChangesNothing() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        PayRequest r = pay(1_000_000).setRequestId("same-1").putLabels("k", "v").putLabels("a", "b").build();
        PayResponse first = a.ledger().pay(r);
        long entries = entriesOf(a);
        PayResponse again = a.ledger().pay(r);
        assertEquals(first, again);
        assertEquals(entries, entriesOf(a));
        assertEquals(9_000_000, Fixture.balance(a).getBalanceMicros());
    }

    /**
     * An idempotency row refers to its entry instead of copying the response (V11), and rows written
     * before, which hold the copy, are still replayed from it: by the Pay batches and by the other
     * write calls, which look their request_id up alone.
     */
    @Test
    void rowsReferToTheirEntryAndRowsWithACopyStillReplay() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        PayResponse paid = a.ledger().pay(pay(1_000).setRequestId("by-ref").build());
        CreditRequest credit = CreditRequest.newBuilder().setRequestId("by-ref-credit-" + a.id()).setAgentId(a.id())
                .setAmountMicros(5).setCurrencyCode("USD").build();
        var credited = Fixture.admin().credit(credit);
        try (Connection c = Fixture.sql(); PreparedStatement st = c.prepareStatement(
                "SELECT response IS NULL, entry_position, response_suffix IS NULL FROM ledger.idempotency WHERE request_id = ?")) {
            st.setString(1, "by-ref");
            try (ResultSet rs = st.executeQuery()) {
                assertTrue(rs.next());
                assertTrue(rs.getBoolean(1), "no copy of the response");
                assertEquals(paid.getEntry().getPosition(), rs.getLong(2));
                assertTrue(rs.getBoolean(3), "a Pay's response is its entry alone");
            }
        }
        assertArrayEquals(paid.toByteArray(), storedResponse(a, "by-ref", "Pay"));

        // as a row written before V11: the response copied, no entry position
        for (var row : List.of(List.of("by-ref", (Object) paid.toByteArray()), List.of(credit.getRequestId(), (Object) credited.toByteArray()))) {
            try (Connection c = Fixture.sql(); PreparedStatement st = c.prepareStatement(
                    "UPDATE ledger.idempotency SET response = ?, entry_position = NULL WHERE request_id = ?")) {
                st.setBytes(1, (byte[]) row.get(1));
                st.setString(2, (String) row.get(0));
                assertEquals(1, st.executeUpdate());
            }
        }
        long entries = entriesOf(a);
        assertEquals(paid, a.ledger().pay(pay(1_000).setRequestId("by-ref").build()));
        assertEquals(credited, Fixture.admin().credit(credit));
        assertEquals(entries, entriesOf(a));
        assertEquals(10_000_000 + 5 - 1_000, Fixture.balance(a).getBalanceMicros());
    }

    /**
     * CompleteTask stores its response in the statement that writes its entry (as a Pay batch does):
     * a repeat, also many at once, gets the original bytes back and changes nothing, the stored bytes
     * are exactly what the service answered, and the request_id stays taken for other methods.
     */
    @Test
    void aCompleteTaskRepeatReturnsTheOriginalResponse() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        a.ledger().pay(pay(1_000).setTaskId("job-r").build());
        CompleteTaskRequest r = CompleteTaskRequest.newBuilder().setRequestId("done-r").setTaskId("job-r")
                .setOutcome(TaskOutcome.TASK_OUTCOME_SUCCEEDED).putLabels("k", "v").build();
        CompleteTaskResponse first = a.ledger().completeTask(r);
        assertTrue(first.getEntry().getPosition() > 0);
        long entries = entriesOf(a);
        try (Connection c = Fixture.sql(); PreparedStatement st = c.prepareStatement(
                "SELECT method, response FROM ledger.stored_responses WHERE caller = ? AND request_id = 'done-r'")) {
            st.setString(1, "agent:" + a.id());
            try (ResultSet rs = st.executeQuery()) {
                assertTrue(rs.next(), "the stored response");
                assertEquals("CompleteTask", rs.getString(1));
                assertArrayEquals(first.toByteArray(), rs.getBytes(2));
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<CompleteTaskResponse>> again = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                again.add(pool.submit(() -> a.ledger().completeTask(r)));
            }
            for (Future<CompleteTaskResponse> f : again) {
                assertEquals(first, f.get(30, TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(entries, entriesOf(a));
        Fixture.expectError(Status.Code.ALREADY_EXISTS, () -> a.ledger().pay(pay(1_000).setRequestId("done-r").build()));
        Fixture.expectError(Status.Code.ALREADY_EXISTS, () -> a.ledger().completeTask(r.toBuilder()
                .setOutcome(TaskOutcome.TASK_OUTCOME_FAILED).build()));
        // a task completed under another request_id is refused and records nothing
        Fixture.expectError(Status.Code.FAILED_PRECONDITION, () -> a.ledger().completeTask(r.toBuilder().setRequestId("done-r2").build()));
        assertEquals(entries, entriesOf(a));
        assertEquals(0, Fixture.queryLong("SELECT COUNT(*) FROM ledger.idempotency WHERE caller = ? AND request_id = 'done-r2'", "agent:" + a.id()));
    }

    /**
     * Hold, Capture and Release store a response with the hold after the entry (the entries statement
     * serializes the entry, the service the rest): the stored bytes are the answer's, and a repeat
     * returns it whole.
     */
    @Test
    void holdCaptureAndReleaseRepeatsReturnTheHoldToo() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        HoldRequest h = HoldsGrpcTest.hold(300_000).setRequestId("hold-r").build();
        HoldResponse held = a.ledger().hold(h);
        assertTrue(held.hasHold() && held.getEntry().getPosition() > 0);
        assertArrayEquals(held.toByteArray(), storedResponse(a, "hold-r", "Hold"));
        assertEquals(held, a.ledger().hold(h));

        CaptureRequest c = HoldsGrpcTest.capture(held.getHold().getHoldId(), 200_000).toBuilder().setRequestId("capture-r").build();
        CaptureResponse captured = a.ledger().capture(c);
        assertEquals(HoldStatus.HOLD_STATUS_CAPTURED, captured.getHold().getStatus());
        assertArrayEquals(captured.toByteArray(), storedResponse(a, "capture-r", "Capture"));
        assertEquals(captured, a.ledger().capture(c));

        String second = a.ledger().hold(HoldsGrpcTest.hold(100_000).build()).getHold().getHoldId();
        ReleaseRequest r = ReleaseRequest.newBuilder().setRequestId("release-r").setHoldId(second).build();
        ReleaseResponse released = a.ledger().release(r);
        assertEquals(HoldStatus.HOLD_STATUS_RELEASED, released.getHold().getStatus());
        assertArrayEquals(released.toByteArray(), storedResponse(a, "release-r", "Release"));
        assertEquals(released, a.ledger().release(r));
        assertEquals(10_000_000 - 200_000, Fixture.balance(a).getBalanceMicros());
    }

    /**
     * A reversal learns its agents from the entry it reverses, so it re-checks its request_id once
     * their lock is held: racing repeats of a full reversal all get its entry, none ALREADY_REVERSED.
     */
    @Test
    void racingRepeatsOfAReversalGetItsEntry() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        String paid = a.ledger().pay(pay(400_000).build()).getEntry().getEntryId();
        ReverseRequest r = ReverseRequest.newBuilder().setRequestId("reverse-race-" + a.id()).setEntryId(paid)
                .setNote("refund").build();
        Set<String> entryIds = new HashSet<>();
        for (ReverseResponse answer : race(8, () -> Fixture.admin().reverse(r))) {
            entryIds.add(answer.getEntry().getEntryId());
        }
        assertEquals(1, entryIds.size());
        assertEquals(10_000_000, Fixture.balance(a).getBalanceMicros());
        assertEquals(1, Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE reversed_entry_id = ?", paid));
    }

    /** Makes {@code call} from {@code racers} threads released at once; their answers. */
    private static <T> List<T> race(int racers, java.util.concurrent.Callable<T> call) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(racers);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<T>> results = new ArrayList<>();
        try {
            for (int i = 0; i < racers; i++) {
                results.add(pool.submit(() -> {
                    start.await();
                    return call.call();
                }));
            }
            start.countDown();
            List<T> answers = new ArrayList<>();
            for (Future<T> f : results) {
                answers.add(f.get(60, TimeUnit.SECONDS));
            }
            return answers;
        } finally {
            pool.shutdownNow();
        }
    }

    private static byte[] storedResponse(TestAgent a, String requestId, String method) {
        try (Connection c = Fixture.sql(); PreparedStatement st = c.prepareStatement(
                "SELECT method, response FROM ledger.stored_responses WHERE caller = ? AND request_id = ?")) {
            st.setString(1, "agent:" + a.id());
            st.setString(2, requestId);
            try (ResultSet rs = st.executeQuery()) {
                assertTrue(rs.next(), "the stored response of " + requestId);
                assertEquals(method, rs.getString(1));
                return rs.getBytes(2);
            }
        } catch (java.sql.SQLException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void declinesAreReplayedToo() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000);
        PayRequest r = pay(2_000_000).setRequestId("declined-1").build();
        PayResponse first = a.ledger().pay(r);
        assertEquals(DeclineReason.DECLINE_REASON_INSUFFICIENT_BALANCE, first.getEntry().getDeclineReason());
        Fixture.credit(a, 5_000_000);
        PayResponse again = a.ledger().pay(r);
        assertEquals(first, again);
        assertEquals(6_000_000, Fixture.balance(a).getBalanceMicros());
    }

    @Test
    void sameIdWithDifferentContentIsRefused() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        a.ledger().pay(pay(1_000).setRequestId("reused-1").build());
        long entries = entriesOf(a);
        StatusRuntimeException e = Fixture.expectError(Status.Code.ALREADY_EXISTS,
                () -> a.ledger().pay(pay(2_000).setRequestId("reused-1").build()));
        assertEquals("REQUEST_ID_REUSED", GrpcErrors.reasonOf(e));
        Fixture.expectError(Status.Code.ALREADY_EXISTS, () -> a.ledger().hold(HoldRequest.newBuilder().setRequestId("reused-1")
                .setAmountMicros(1_000).setCurrencyCode("USD").setTool("openai/chat.completions").build()));
        assertEquals(entries, entriesOf(a));
        // request ids are scoped to the caller: another agent may use the same one
        TestAgent b = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        assertEquals(Decision.DECISION_APPROVED, b.ledger().pay(pay(2_000).setRequestId("reused-1").build()).getEntry().getDecision());
        // and so is the admin's
        Fixture.admin().credit(CreditRequest.newBuilder().setRequestId("admin-reused-" + a.id()).setAgentId(a.id())
                .setAmountMicros(1).setCurrencyCode("USD").build());
        Fixture.expectError(Status.Code.ALREADY_EXISTS, () -> Fixture.admin().credit(CreditRequest.newBuilder()
                .setRequestId("admin-reused-" + a.id()).setAgentId(b.id()).setAmountMicros(1).setCurrencyCode("USD").build()));
    }

    @Test
    void concurrentDuplicatesRaceToOneEffect() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        int racers = 32;
        for (int round = 0; round < 5; round++) {
            PayRequest r = pay(100_000).setRequestId("race-" + round).build();
            Set<String> entryIds = new HashSet<>();
            for (PayResponse answer : race(racers, () -> a.ledger().pay(r))) {
                entryIds.add(answer.getEntry().getEntryId());
            }
            assertEquals(1, entryIds.size(), "every racer sees the one effect");
        }
        assertEquals(10_000_000 - 5 * 100_000, Fixture.balance(a).getBalanceMicros());
        assertEquals(5, Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE agent_id = ? AND event_type = 1", a.id()));
    }

    /**
     * Racers with one request_id but two different requests: whether they share a batch or not,
     * exactly one request takes effect; the racers that sent it get its entry, the others
     * ALREADY_EXISTS, and nothing else is recorded.
     */
    @Test
    void concurrentReuseWithDifferentContentHasOneEffect() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        int racers = 32;
        PayRequest small = pay(100_000).setRequestId("reuse-race").build();
        PayRequest large = pay(200_000).setRequestId("reuse-race").build();
        ExecutorService pool = Executors.newFixedThreadPool(racers);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Object>> results = new ArrayList<>();
        for (int i = 0; i < racers; i++) {
            PayRequest r = i % 2 == 0 ? small : large;
            results.add(pool.submit(() -> {
                start.await();
                try {
                    return a.ledger().pay(r);
                } catch (StatusRuntimeException e) {
                    return e;
                }
            }));
        }
        start.countDown();
        Set<String> entryIds = new HashSet<>();
        Set<Long> amounts = new HashSet<>();
        int refused = 0;
        for (Future<Object> f : results) {
            Object o = f.get(60, TimeUnit.SECONDS);
            if (o instanceof PayResponse p) {
                entryIds.add(p.getEntry().getEntryId());
                amounts.add(p.getEntry().getAmountMicros());
            } else {
                StatusRuntimeException e = (StatusRuntimeException) o;
                assertEquals(Status.Code.ALREADY_EXISTS, e.getStatus().getCode(), e.toString());
                assertEquals("REQUEST_ID_REUSED", GrpcErrors.reasonOf(e));
                refused++;
            }
        }
        pool.shutdown();
        assertEquals(1, entryIds.size(), "one effect");
        assertEquals(1, amounts.size(), "every success is the same request");
        assertEquals(racers / 2, refused, "the other request's racers are all refused");
        long charged = amounts.iterator().next();
        assertEquals(10_000_000 - charged, Fixture.balance(a).getBalanceMicros());
        assertEquals(1, Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE agent_id = ? AND event_type = 1", a.id()));
    }
}
