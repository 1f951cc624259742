package dev.agentspend.ledger.grpc;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
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
 * may commit, and its other payments still get their own outcome. A trigger that refuses one
 * tool's entries stands in for any failure of that statement.
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class FailedBatchGrpcTest {
    private static final String REFUSED_TOOL = "test/refused-by-trigger";

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
        int agents = 24;
        List<TestAgent> fleet = new ArrayList<>();
        for (int i = 0; i < agents; i++) {
            fleet.add(Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000));
        }
        ExecutorService clients = Executors.newFixedThreadPool(agents);
        try {
            for (int round = 0; round < 5; round++) {
                List<Future<PayResponse>> answers = new ArrayList<>();
                for (int i = 0; i < agents; i++) {
                    TestAgent a = fleet.get(i);
                    PayRequest r = pay(1_000).setTool(i == 0 ? REFUSED_TOOL : "openai/chat.completions").build();
                    answers.add(clients.submit(() -> a.ledger().pay(r)));
                }
                for (int i = 0; i < agents; i++) {
                    if (i == 0) {
                        Future<PayResponse> f = answers.get(i);
                        java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                                () -> f.get(30, TimeUnit.SECONDS));
                        assertTrue(e.getCause() instanceof StatusRuntimeException, e.toString());
                    } else {
                        assertEquals(Decision.DECISION_APPROVED, answers.get(i).get(30, TimeUnit.SECONDS).getEntry().getDecision());
                    }
                }
            }
        } finally {
            clients.shutdownNow();
        }
        assertEquals(1_000_000, Fixture.balance(fleet.get(0)).getBalanceMicros());
        for (int i = 1; i < agents; i++) {
            assertEquals(995_000, Fixture.balance(fleet.get(i)).getBalanceMicros(), "agent " + i);
            assertEquals(5, Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE agent_id = ? AND event_type = 1",
                    fleet.get(i).id()), "agent " + i);
        }
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
