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
 * Migration V8 on a ledger that ran on V7: the entries' transfers no longer have foreign keys to
 * ledger.accounts, VerifyLedger's unknown_account check reports an entry that names an account
 * that does not exist, and accounts can be neither deleted nor changed (what the keys kept).
 */
class AccountsMigrationTest {
    private static final String DATABASE = "ledger_accounts_migration_test";
    private static final String ENTRY_COLUMNS = "position, entry_id, event_type, agent_id, team_id, tool, task_id, decision, "
            + "amount_micros, spend_micros, currency_code, hold_id, reversed_entry_id, recorded_time, payload, "
            + "from_account_id, to_account_id, transfer_micros";

    @Test
    @Timeout(120)
    void unknownAccountsAreReportedByVerificationAndAccountsStay() throws SQLException {
        String url = databaseAt(DATABASE, "7");
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            st.executeUpdate("""
                    INSERT INTO ledger.accounts (account_id, kind, owner_id, currency_code) VALUES
                      ('agent:agt_a', 'AGENT', 'agt_a', 'USD'), ('vendor:USD', 'VENDOR', 'vendor', 'USD')""");
            st.executeUpdate("INSERT INTO ledger.entries (" + ENTRY_COLUMNS + ") VALUES "
                    + "(1, 'ent_known', 1, 'agt_a', '', '', '', 1, 300, 300, 'USD', '', '', now(), '\\x00', "
                    + "'agent:agt_a', 'vendor:USD', 300)");
        }
        flyway(url).load().migrate();
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            assertEquals(List.of(), rows(st, LedgerQueries.UNKNOWN_ACCOUNTS), "every account the entry names exists");

            st.executeUpdate("INSERT INTO ledger.entries (" + ENTRY_COLUMNS + ") VALUES "
                    + "(2, 'ent_to_nobody', 1, 'agt_a', '', '', '', 1, 5, 5, 'USD', '', '', now(), '\\x00', "
                    + "'agent:agt_a', 'vendor:EUR', 5), "
                    + "(3, 'ent_declined', 2, 'agt_a', '', '', '', 2, 5, 0, 'USD', '', '', now(), '\\x00', NULL, NULL, NULL), "
                    + "(4, 'ent_between_nobodies', 9, 'agt_x', '', '', '', 1, 7, 7, 'USD', '', '', now(), '\\x00', "
                    + "'agent:agt_x', 'agent:agt_y', 7)");
            assertEquals(List.of(
                            "ent_to_nobody|moves 5 from agent:agt_a to vendor:EUR: vendor:EUR does not exist",
                            "ent_between_nobodies|moves 7 from agent:agt_x to agent:agt_y: agent:agt_x and agent:agt_y do not exist"),
                    rows(st, LedgerQueries.UNKNOWN_ACCOUNTS));

            refused(st, "DELETE FROM ledger.accounts WHERE account_id = 'vendor:USD'", "DELETE refused");
            refused(st, "UPDATE ledger.accounts SET account_id = 'vendor:usd' WHERE account_id = 'vendor:USD'", "UPDATE refused");
            refused(st, "TRUNCATE ledger.accounts CASCADE", "TRUNCATE refused");
            assertEquals(List.of("none"), rows(st, "SELECT COALESCE(string_agg(conname, ','), 'none') FROM pg_constraint "
                    + "WHERE conrelid = 'ledger.entries'::regclass AND contype = 'f'"));
        }
    }

    private static void refused(Statement st, String sql, String message) {
        SQLException e = assertThrows(SQLException.class, () -> st.execute(sql));
        assertTrue(e.getMessage().contains("ledger.accounts is append-only: " + message), e.getMessage());
    }
}
