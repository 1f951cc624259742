package dev.agentspend.ledger.grpc;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.PayResponse;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.agentspend.ledger.support.Fixture.pay;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A Pay batch that has sent its entries and COMMIT lets the next batch start beside it, so the
 * next reads and decides while the first waits for its commit. The feed position row, which
 * every batch's entries statement updates, is held here by the test: a batch waiting for it has
 * reached its commit.
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class BatchOverlapGrpcTest {
    /** The default fewest payments that start a batch beside another (pay-batch-min-beside-another). */
    static final int BESIDE_ANOTHER_MIN = 16;

    @Test
    void theNextBatchStartsBesideOneWaitingAtItsCommit() throws Exception {
        TestAgent first = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000);
        List<TestAgent> others = new ArrayList<>();
        for (int i = 0; i < BESIDE_ANOTHER_MIN; i++) {
            others.add(Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000));
        }
        ExecutorService clients = Executors.newFixedThreadPool(BESIDE_ANOTHER_MIN + 1);
        List<Future<PayResponse>> answers = new ArrayList<>();
        try (Connection lock = Fixture.sql(); Statement st = lock.createStatement()) {
            lock.setAutoCommit(false);
            st.executeQuery("SELECT 1 FROM ledger.feed_position WHERE id = 1 FOR UPDATE").close();
            answers.add(clients.submit(() -> first.ledger().pay(pay(1_000).build())));
            Fixture.await(Duration.ofSeconds(10), "the first batch waiting at its commit", () -> Fixture.ledgerConnectionsWaitingForALock() == 1);
            for (TestAgent a : others) {
                answers.add(clients.submit(() -> a.ledger().pay(pay(1_000).build())));
            }
            Fixture.await(Duration.ofSeconds(10), "a second batch beside it, read, decided and at its commit too",
                    () -> Fixture.ledgerConnectionsWaitingForALock() == 2);
            lock.rollback();
        }
        try {
            for (Future<PayResponse> answer : answers) {
                assertEquals(Decision.DECISION_APPROVED, answer.get(30, TimeUnit.SECONDS).getEntry().getDecision());
            }
        } finally {
            clients.shutdownNow();
        }
        for (TestAgent a : others) {
            assertEquals(999_000, Fixture.balance(a).getBalanceMicros());
        }
    }
}
