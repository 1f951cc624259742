package dev.agentspend.ledger.store;

import dev.agentspend.platform.EmbeddedDatabase;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

import static dev.agentspend.ledger.store.MigrationTests.databaseAt;
import static dev.agentspend.ledger.store.MigrationTests.flyway;
import static dev.agentspend.platform.SqlRows.rows;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Migrations V2 (and V10, below) on a ledger that ran on V1: every counter keeps its value, either as the current
 * bucket of its window row (the newest of each window, and lifetime) or still in ledger.counters
 * (older buckets, tasks), so ledger.every_counter lists exactly what ledger.counters did.
 */
class WindowCountersMigrationTest {
    private static final String DATABASE = "ledger_migration_test";

    @Test
    @Timeout(120)
    void everyV1CounterKeepsItsValueAfterV2() throws SQLException {
        String url = databaseAt(DATABASE, "1");
        List<String> v1;
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            st.executeUpdate("""
                    INSERT INTO ledger.counters (scope_id, bucket, tool, spent_micros, held_micros, hard_limit_micros) VALUES
                      ('agt_a', 'H:2026-11-29:09', '', 100, 0, NULL),
                      ('agt_a', 'H:2026-11-29:10', '', 200, 50, 1000),
                      ('agt_a', 'D:2026-11-28', '', 700, 0, NULL),
                      ('agt_a', 'D:2026-11-29', '', 300, 50, 5000),
                      ('agt_a', 'W:2026-W48', '', 1000, 50, NULL),
                      ('agt_a', 'M:2026-10', '', 9000, 0, NULL),
                      ('agt_a', 'M:2026-11', '', 1000, 50, NULL),
                      ('agt_a', 'L', '', 10000, 50, 20000),
                      ('agt_a', 'T:task-1', '', 40, 0, NULL),
                      ('agt_a', 'H:2026-11-29:10', 'openai/chat', 200, 0, NULL),
                      ('agt_a', 'L', 'openai/chat', 200, 0, NULL),
                      ('team_t', 'D:2026-11-29', '', 77, 0, 100),
                      ('team_t', 'L', '', 77, 0, NULL)""");
            v1 = counters(st, "ledger.counters");
        }
        flyway(url).load().migrate();
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            assertEquals(v1, counters(st, "ledger.every_counter"));
            assertEquals(List.of(
                            "agt_a||H:2026-11-29:10|D:2026-11-29|W:2026-W48|M:2026-11|10000",
                            "agt_a|openai/chat|H:2026-11-29:10|null|null|null|200",
                            "team_t||null|D:2026-11-29|null|null|77"),
                    rows(st, "SELECT scope_id, tool, hour_bucket, day_bucket, week_bucket, month_bucket, lifetime_spent "
                            + "FROM ledger.window_counters ORDER BY scope_id, tool"));
            assertEquals(List.of("agt_a|D:2026-11-28", "agt_a|H:2026-11-29:09", "agt_a|M:2026-10", "agt_a|T:task-1"),
                    rows(st, "SELECT scope_id, bucket FROM ledger.counters ORDER BY scope_id, bucket COLLATE \"C\""));
            // V4: no index on postings by account (no query reads them that way)
            assertEquals(List.of("postings_pkey"), rows(st, "SELECT indexname FROM pg_indexes "
                    + "WHERE schemaname = 'ledger' AND tablename = 'postings' ORDER BY indexname"));
            // V3: the identifiers of the payment path's indexes compare byte by byte
            assertEquals(List.of("C|C|C|C"), rows(st, """
                    SELECT string_agg(collation_name, '|' ORDER BY table_name) FROM information_schema.columns
                    WHERE table_schema = 'ledger' AND (table_name, column_name) IN (('agent_state', 'agent_id'),
                          ('idempotency', 'request_id'), ('entries', 'entry_id'), ('window_counters', 'hour_bucket'))"""));
            // V10: every row the releases before wrote counted every payment: complete; a row such a
            // release inserts during a rolling update (without the column) is not, and is rebuilt when read
            assertEquals(List.of("agt_a||t", "agt_a|openai/chat|t", "team_t||t"),
                    rows(st, "SELECT scope_id, tool, complete FROM ledger.window_counters ORDER BY scope_id, tool"));
            st.executeUpdate("INSERT INTO ledger.window_counters (scope_id, tool, lifetime_spent) VALUES ('agt_b', 'x', 5)");
            assertEquals(List.of("f"), rows(st, "SELECT complete FROM ledger.window_counters WHERE scope_id = 'agt_b'"));
        }
    }

    private static List<String> counters(Statement st, String relation) throws SQLException {
        return rows(st, "SELECT scope_id, bucket, tool, spent_micros, held_micros, hard_limit_micros FROM " + relation
                + " ORDER BY scope_id, bucket COLLATE \"C\", tool");
    }
}
