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
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Migrations V11 and V12 on a ledger that ran on V10: its idempotency rows, which hold copies of their
 * responses, read the same through ledger.stored_responses; a new row that refers to its entry reads
 * as the response ledger.pay_response builds; a row with neither is refused; the purge's index is
 * built (CONCURRENTLY, which needs Flyway's session lock: with its default lock this test hangs).
 */
class IdempotencyMigrationTest {
    private static final String DATABASE = "ledger_idempotency_migration_test";

    @Test
    @Timeout(120)
    void copiedResponsesStayReadableAndNewRowsReferToTheirEntry() throws SQLException {
        String url = databaseAt(DATABASE, "10");
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO ledger.idempotency (caller, request_id, method, fingerprint, response) "
                    + "VALUES ('agent:agt_a', 'before', 'Pay', '\\x01', '\\x0a03080712')");
        }
        flyway(url).load().migrate();
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            st.executeUpdate("INSERT INTO ledger.entries (position, entry_id, event_type, agent_id, team_id, tool, task_id, "
                    + "decision, amount_micros, spend_micros, currency_code, hold_id, reversed_entry_id, recorded_time, "
                    + "payload) VALUES (300, 'ent_after', 1, 'agt_a', '', '', '', 1, 5, 5, 'USD', '', '', now(), '\\x1207')");
            st.executeUpdate("INSERT INTO ledger.idempotency (caller, request_id, method, fingerprint, entry_position, "
                    + "response_suffix) VALUES ('agent:agt_a', 'after', 'Pay', '\\x02', 300, NULL), "
                    + "('agent:agt_a', 'hold', 'Hold', '\\x03', 300, '\\x1200')");
            // PayResponse{entry{position 300 (varint ac 02), payload}}: field 1, length 5
            assertEquals(List.of("before|\\x0a03080712", "after|\\x0a0508ac021207", "hold|\\x0a0508ac0212071200"),
                    rows(st, "SELECT request_id, response FROM ledger.stored_responses ORDER BY create_time, request_id = 'hold'"));
            SQLException neither = assertThrows(SQLException.class, () -> st.executeUpdate("INSERT INTO ledger.idempotency "
                    + "(caller, request_id, method, fingerprint) VALUES ('agent:agt_a', 'nothing', 'Pay', '\\x04')"));
            assertTrue(neither.getMessage().contains("idempotency_response_or_entry"), neither.getMessage());
            assertEquals(List.of("t"), rows(st, "SELECT indisvalid FROM pg_index "
                    + "WHERE indexrelid = 'ledger.idempotency_create_time'::regclass"));
        }
    }
}
