package dev.agentspend.ledger.grpc;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import io.grpc.StatusRuntimeException;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.agentspend.ledger.support.Fixture.pay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Pay batch sends its entries statement and its COMMIT together, after the balances and
 * counters were written: when the entries statement fails in PostgreSQL, nothing of the batch
 * may commit, and its other payments still get their own outcome (the batch is retried one payment
 * per transaction). A trigger that refuses one tool's entries stands in for any failure of that
 * statement in PostgreSQL.
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class FailedBatchGrpcTest {
    private static final String REFUSED_TOOL = "test/refused-by-trigger";

    @Inject
    MeterRegistry registry;

    @BeforeEach
    void refuseOneToolsEntries() throws Exception {
        try (Connection c = Fixture.sql(); Statement st = c.createStatement()) {
            st.execute("""
                    CREATE OR REPLACE FUNCTION public.refuse_test_tool() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        IF NEW.tool = '%s' THEN RAISE EXCEPTION 'refused by the test'; END IF;
                        RETURN NEW;
                    END $$""".formatted(REFUSED_TOOL));
            st.execute("CREATE OR REPLACE TRIGGER refuse_test_tool BEFORE INSERT ON ledger.entries "
                    + "FOR EACH ROW EXECUTE FUNCTION public.refuse_test_tool()");
        }
    }

    @AfterEach
    void acceptEntriesAgain() throws Exception {
        try (Connection c = Fixture.sql(); Statement st = c.createStatement()) {
            st.execute("DROP TRIGGER IF EXISTS refuse_test_tool ON ledger.entries");
        }
    }

    @Test
    void aPaymentWhoseEntryFailsLeavesBalanceCountersAndIdempotencyUntouched() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000);
        a.ledger().pay(pay(100_000).build());
        String countersBefore = counters(a);
        PayRequest refused = pay(200_000).setTool(REFUSED_TOOL).build();

        assertThrows(StatusRuntimeException.class, () -> a.ledger().pay(refused));

        assertEquals(900_000, Fixture.balance(a).getBalanceMicros());
        assertEquals(900_000, Fixture.queryLong("SELECT balance_micros FROM ledger.agent_state WHERE agent_id = ?", a.id()));
        assertEquals(countersBefore, counters(a));
        assertEquals(0, Fixture.queryLong("SELECT COUNT(*) FROM ledger.idempotency WHERE request_id = ?",
                refused.getRequestId()));
        assertEquals(0, Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE tool = ?", REFUSED_TOOL));

        // nothing was recorded, so the same request is decided afresh once the entry can be written
        acceptEntriesAgain();
        PayResponse later = a.ledger().pay(refused);
        assertEquals(Decision.DECISION_APPROVED, later.getEntry().getDecision());
        assertEquals(700_000, Fixture.balance(a).getBalanceMicros());
    }

    @Test
    void theOtherPaymentsOfAFailedBatchAreRecordedOnce() throws Exception {
        TestAgent blocker = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000);
        int others = 23;
        List<TestAgent> fleet = new ArrayList<>();
        for (int i = 0; i < others + 1; i++) {
            fleet.add(Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000));
        }
        double retriedBefore = registry.counter("agentspend.ledger.pay.batches.retried").count();
        long waitsBefore = timed("agentspend.ledger.pay.queue.wait");
        long preparedBefore = timed("agentspend.ledger.pay.batch.preparing");
        long committedBefore = timed("agentspend.ledger.pay.batch.committing");
        ExecutorService clients = Executors.newFixedThreadPool(others + 2);
        List<Future<PayResponse>> answers = new ArrayList<>();
        Future<PayResponse> blocked;
        try (Connection lock = Fixture.sql(); Statement st = lock.createStatement()) {
            // a first batch waits for this agent's row, so the next payments queue up behind it (no
            // batch starts beside one still preparing) and go together in a second batch once it has
            // committed: the refused one first, then the others
            lock.setAutoCommit(false);
            st.executeQuery("SELECT 1 FROM ledger.agent_state WHERE agent_id = '" + blocker.id() + "' FOR UPDATE").close();
            blocked = clients.submit(() -> blocker.ledger().pay(pay(1_000).build()));
            Fixture.await(Duration.ofSeconds(10), "a batch waiting for the locked agent row",
                    () -> Fixture.ledgerConnectionsWaitingForALock() > 0);
            TestAgent refused = fleet.get(0);
            answers.add(clients.submit(() -> refused.ledger().pay(pay(1_000).setTool(REFUSED_TOOL).build())));
            Fixture.await(Duration.ofSeconds(10), "the refused payment queued", () -> queued() == 1);
            for (int i = 1; i <= others; i++) {
                TestAgent a = fleet.get(i);
                answers.add(clients.submit(() -> a.ledger().pay(pay(1_000).build())));
            }
            Fixture.await(Duration.ofSeconds(10), "every payment queued", () -> queued() == others + 1);
            lock.rollback();
        }
        Fixture.await(Duration.ofSeconds(20), "the second batch to fail and be retried one by one",
                () -> registry.counter("agentspend.ledger.pay.batches.retried").count() > retriedBefore);
        try {
            ExecutionException e = assertThrows(ExecutionException.class, () -> answers.get(0).get(30, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof StatusRuntimeException, e.toString());
            for (int i = 1; i <= others; i++) {
                assertEquals(Decision.DECISION_APPROVED, answers.get(i).get(30, TimeUnit.SECONDS).getEntry().getDecision());
            }
            assertEquals(Decision.DECISION_APPROVED, blocked.get(30, TimeUnit.SECONDS).getEntry().getDecision());
        } finally {
            clients.shutdownNow();
        }
        assertEquals(1_000_000, Fixture.balance(fleet.get(0)).getBalanceMicros());
        for (int i = 1; i <= others; i++) {
            assertEquals(999_000, Fixture.balance(fleet.get(i)).getBalanceMicros(), "agent " + i);
            assertEquals(1, Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE agent_id = ? AND event_type = 1",
                    fleet.get(i).id()), "agent " + i);
        }
        // timed: every call's queue wait; both batches' preparing (the failed one did send its COMMIT);
        // committing only for the blocker's batch: neither the failure nor the 24 retries are a batch's commit
        assertEquals(others + 2, timed("agentspend.ledger.pay.queue.wait") - waitsBefore);
        assertEquals(2, timed("agentspend.ledger.pay.batch.preparing") - preparedBefore);
        assertEquals(1, timed("agentspend.ledger.pay.batch.committing") - committedBefore);
    }

    /** The timer's count; 0 before the batcher's first call (the bean, and its timers, are created on first use). */
    private long timed(String timer) {
        io.micrometer.core.instrument.Timer t = registry.find(timer).timer();
        return t == null ? 0 : t.count();
    }

    @Test
    void aPaymentRefusedBeforeItsDecisionIsAnsweredAloneAndItsBatchGoesOn() throws Exception {
        TestAgent blocker = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000);
        // Long.MAX_VALUE on top of 1 spent under a cap overflows its window's sum: AMOUNT_OVERFLOW
        TestAgent overflowing = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(Fixture.cap(CapWindow.CAP_WINDOW_DAY, 5_000_000, true)).build(), 10_000_000);
        overflowing.ledger().pay(pay(1).build());
        int others = 12;
        List<TestAgent> fleet = new ArrayList<>();
        for (int i = 0; i < others; i++) {
            fleet.add(Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000));
        }
        double retriedBefore = registry.counter("agentspend.ledger.pay.batches.retried").count();
        ExecutorService clients = Executors.newFixedThreadPool(others + 2);
        List<Future<PayResponse>> answers = new ArrayList<>();
        Future<PayResponse> refused;
        try (Connection lock = Fixture.sql(); Statement st = lock.createStatement()) {
            // as above: the blocker's batch waits for its row, the rest queue and go in one batch after it
            lock.setAutoCommit(false);
            st.executeQuery("SELECT 1 FROM ledger.agent_state WHERE agent_id = '" + blocker.id() + "' FOR UPDATE").close();
            Future<PayResponse> blocked = clients.submit(() -> blocker.ledger().pay(pay(1_000).build()));
            Fixture.await(Duration.ofSeconds(10), "a batch waiting for the locked agent row",
                    () -> Fixture.ledgerConnectionsWaitingForALock() > 0);
            refused = clients.submit(() -> overflowing.ledger().pay(pay(Long.MAX_VALUE).build()));
            for (TestAgent a : fleet) {
                answers.add(clients.submit(() -> a.ledger().pay(pay(1_000).build())));
            }
            Fixture.await(Duration.ofSeconds(10), "every payment queued", () -> queued() == others + 1);
            lock.rollback();
            assertEquals(Decision.DECISION_APPROVED, blocked.get(30, TimeUnit.SECONDS).getEntry().getDecision());
        }
        try {
            ExecutionException e = assertThrows(ExecutionException.class, () -> refused.get(30, TimeUnit.SECONDS));
            StatusRuntimeException status = (StatusRuntimeException) e.getCause();
            assertEquals(io.grpc.Status.Code.FAILED_PRECONDITION, status.getStatus().getCode());
            assertTrue(status.getStatus().getDescription().contains("overflow"), status.toString());
            for (Future<PayResponse> answer : answers) {
                assertEquals(Decision.DECISION_APPROVED, answer.get(30, TimeUnit.SECONDS).getEntry().getDecision());
            }
        } finally {
            clients.shutdownNow();
        }
        assertEquals(retriedBefore, registry.counter("agentspend.ledger.pay.batches.retried").count(),
                "the batch committed as one: no payment of it went one by one");
        assertEquals(9_999_999, Fixture.balance(overflowing).getBalanceMicros());
        for (TestAgent a : fleet) {
            assertEquals(999_000, Fixture.balance(a).getBalanceMicros());
        }
    }

    private double queued() {
        return registry.get("agentspend.ledger.pay.queue.size").gauge().value();
    }

    /** The agent's window and bucket counters, as one comparable string. */
    private static String counters(TestAgent a) throws Exception {
        StringBuilder out = new StringBuilder();
        try (Connection c = Fixture.sql(); Statement st = c.createStatement()) {
            for (String sql : new String[]{
                    "SELECT * FROM ledger.window_counters WHERE scope_id = '" + a.id() + "' ORDER BY tool",
                    "SELECT * FROM ledger.counters WHERE scope_id = '" + a.id() + "' ORDER BY bucket, tool"}) {
                try (var rs = st.executeQuery(sql)) {
                    int n = rs.getMetaData().getColumnCount();
                    while (rs.next()) {
                        for (int i = 1; i <= n; i++) {
                            out.append(rs.getString(i)).append('|');
                        }
                        out.append('\n');
                    }
                }
            }
        }
        return out.toString();
    }
}
