package dev.agentspend.ledger.store;

import dev.agentspend.common.api.Ids;
import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.LedgerTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * {@link Tx#lockAgents} on the ledger's own pool: an agent's row is locked without writing a new
 * version of it, a new agent gets its row and accounts once, and a transaction creating an agent
 * that another one is creating waits for it and then sees what it committed.
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class AgentLockTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @Inject
    Pool pool;

    @Test
    void lockingAnExistingAgentWritesNoNewVersionOfItsRow() {
        String agent = newAgentId();
        inTransaction(tx -> tx.lockAgents(Map.of(agent, "USD")));
        String before = rowVersion(agent);

        inTransaction(tx -> tx.lockAgents(Map.of(agent, "USD", newAgentId(), "USD")));

        assertEquals(before, rowVersion(agent), "ctid and xmin of the agent's row (a new version would change both)");
    }

    @Test
    void aNewAgentGetsOneRowAndItsAccounts() {
        String agent = newAgentId();
        inTransaction(tx -> tx.lockAgents(Map.of(agent, "USD")));
        inTransaction(tx -> tx.lockAgents(Map.of(agent, "USD")));

        assertEquals(1, Fixture.queryLong("SELECT count(*) FROM ledger.agent_state WHERE agent_id = ?", agent));
        assertEquals(1, Fixture.queryLong("SELECT count(*) FROM ledger.accounts WHERE owner_id = ? AND kind = 'AGENT'", agent));
    }

    @Test
    void creatingAnAgentAnotherTransactionIsCreatingWaitsForItAndSeesItsWrites() throws Exception {
        String existing = newAgentId();
        inTransaction(tx -> tx.lockAgents(Map.of(existing, "USD")));
        String created = newAgentId();
        SqlConnection first = pool.getConnection().await().atMost(WAIT);
        try {
            Tx tx1 = new Tx(first, Instant.now());
            tx1.begin().chain(() -> tx1.lockAgents(Map.of(existing, "USD", created, "USD"))).await().atMost(WAIT);
            Tx.AgentRow row = tx1.agent(created);
            row.balance = 700;
            row.dirty = true;
            tx1.flushState().await().atMost(WAIT);

            CompletableFuture<Long> second = pool.withConnection(conn -> {
                Tx tx2 = new Tx(conn, Instant.now());
                return tx2.begin().chain(() -> tx2.lockAgents(Map.of(created, "USD")))
                        .map(v -> tx2.agent(created).balance)
                        .call(() -> conn.query("COMMIT").execute());
            }).subscribe().asCompletionStage().toCompletableFuture();
            // the second session shows as waiting on a lock (the first holds the new row, uncommitted)
            Fixture.await(WAIT, "the second transaction to wait for the first's row", () -> Fixture.queryLong(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") > 0);
            assertFalse(second.isDone(), "the second transaction waits for the first's row");

            first.query("COMMIT").execute().await().atMost(WAIT);
            assertEquals(700, second.get(WAIT.toSeconds(), TimeUnit.SECONDS), "the balance the first committed");
        } finally {
            first.close().await().atMost(WAIT);
            // the balance had no entries behind it: VerifyLedger, run by other tests on this database, would say so
            try (var c = Fixture.sql(); var st = c.prepareStatement("UPDATE ledger.agent_state SET balance_micros = 0 WHERE agent_id = ?")) {
                st.setString(1, created);
                st.executeUpdate();
            }
        }
        assertEquals(1, Fixture.queryLong("SELECT count(*) FROM ledger.accounts WHERE owner_id = ? AND kind = 'AGENT'", created));
    }

    private void inTransaction(java.util.function.Function<Tx, Uni<Void>> work) {
        pool.withConnection(conn -> {
            Tx tx = new Tx(conn, Instant.now());
            return tx.begin().chain(() -> work.apply(tx)).call(() -> conn.query("COMMIT").execute());
        }).await().atMost(WAIT);
    }

    private static String rowVersion(String agentId) {
        try (var c = Fixture.sql(); var st = c.prepareStatement(
                "SELECT ctid::text || ' ' || xmin::text FROM ledger.agent_state WHERE agent_id = ?")) {
            st.setString(1, agentId);
            try (var rs = st.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String newAgentId() {
        return Ids.newId("agt");
    }
}
