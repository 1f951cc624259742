package dev.agentspend.ledger.store;

import dev.agentspend.ledger.support.LedgerTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The plans PostgreSQL keeps for the agent-row statements of every batch, on the ledger's own pool
 * (its connection settings included), with the benchmark's fleet of agent rows: each finds its rows
 * through the primary key. A sequential scan would read every agent's row for each batch, a cost
 * that grows with the fleet, not with the batch. The plans checked are the generic ones, which
 * prepared statements settle on after their first executions.
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class AgentRowPlansTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final int FLEET_AGENTS = 1_000;

    @Inject
    Pool pool;

    @Test
    void lockingAndUpdatingABatchOfAgentsProbesThePrimaryKey() {
        List<String> lock = plan(Tx.LOCK_AGENTS);
        List<String> update = plan(Tx.UPDATE_AGENTS);

        for (List<String> plan : List.of(lock, update)) {
            assertTrue(plan.stream().anyMatch(l -> l.contains("Index Scan") && l.contains("agent_state_pkey")),
                    "the agent rows are found by key:\n" + String.join("\n", plan));
            assertFalse(plan.stream().anyMatch(l -> l.contains("Seq Scan on agent_state")),
                    "no batch reads the whole agent table:\n" + String.join("\n", plan));
        }
    }

    /** The generic plan of {@code sql} with {@link #FLEET_AGENTS} agent rows present, all rolled back. */
    private List<String> plan(String sql) {
        String prefix = "agt_plan_" + UUID.randomUUID().toString().replace("-", "") + "_";
        return pool.withConnection(conn -> conn.query("BEGIN").execute()
                        .chain(() -> conn.preparedQuery("INSERT INTO ledger.agent_state (agent_id, currency_code) "
                                        + "SELECT $1 || i, 'USD' FROM generate_series(1, $2) i")
                                .execute(Tuple.of(prefix, FLEET_AGENTS)))
                        .chain(() -> conn.query("ANALYZE ledger.agent_state").execute())
                        .chain(() -> conn.query("EXPLAIN (GENERIC_PLAN) " + sql).execute())
                        .map(rows -> {
                            List<String> lines = new ArrayList<>();
                            for (Row r : rows) {
                                lines.add(r.getString(0));
                            }
                            return lines;
                        })
                        .eventually(() -> conn.query("ROLLBACK").execute()))
                .await().atMost(WAIT);
    }
}
