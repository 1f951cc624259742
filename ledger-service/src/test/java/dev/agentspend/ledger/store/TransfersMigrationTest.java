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
 * Migration V5 on a ledger that ran on V4: ledger.every_posting lists the postings written before
 * it (and by a previous-release pod during a rolling update, which still inserts into
 * ledger.postings), next to the two legs of every transfer written into an entry since; the
 * database refuses a transfer that is not whole (and, until V8, one naming an unknown account).
 */
class TransfersMigrationTest {
    private static final String DATABASE = "ledger_transfers_migration_test";
    private static final String ENTRY_COLUMNS = "position, entry_id, event_type, agent_id, team_id, tool, task_id, decision, "
            + "amount_micros, spend_micros, currency_code, hold_id, reversed_entry_id, recorded_time, payload";

    @Test
    @Timeout(120)
    void everyPostingListsPostingsRowsAndTwoLegsPerTransferInAnEntry() throws SQLException {
        String url = databaseAt(DATABASE, "4");
        List<String> v4;
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            st.executeUpdate("""
                    INSERT INTO ledger.accounts (account_id, kind, owner_id, currency_code) VALUES
                      ('agent:agt_a', 'AGENT', 'agt_a', 'USD'), ('agent:agt_b', 'AGENT', 'agt_b', 'USD'),
                      ('funding:USD', 'FUNDING', 'funding', 'USD'), ('vendor:USD', 'VENDOR', 'vendor', 'USD')""");
            st.executeUpdate("INSERT INTO ledger.entries (" + ENTRY_COLUMNS + ") VALUES "
                    + "(1, 'ent_credit', 11, 'agt_a', '', '', '', 1, 900, 0, 'USD', '', '', now(), '\\x00'), "
                    + "(2, 'ent_pay', 1, 'agt_a', '', 'openai/chat', 't1', 1, 300, 300, 'USD', '', '', now(), '\\x00')");
            st.executeUpdate("""
                    INSERT INTO ledger.postings (entry_id, account_id, amount_micros, currency_code) VALUES
                      ('ent_credit', 'funding:USD', -900, 'USD'), ('ent_credit', 'agent:agt_a', 900, 'USD'),
                      ('ent_pay', 'agent:agt_a', -300, 'USD'), ('ent_pay', 'vendor:USD', 300, 'USD')""");
            v4 = postings(st, "ledger.postings");
        }
        flyway(url).target("6").load().migrate();
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            assertEquals(v4, postings(st, "ledger.every_posting"));
            assertEquals(List.of("ent_credit|funding:USD|-900|USD", "ent_credit|agent:agt_a|900|USD",
                    "ent_pay|agent:agt_a|-300|USD", "ent_pay|vendor:USD|300|USD"), v4);

            st.executeUpdate("INSERT INTO ledger.entries (" + ENTRY_COLUMNS
                    + ", from_account_id, to_account_id, transfer_micros) VALUES "
                    + "(3, 'ent_agent_pay', 9, 'agt_a', '', '', '', 1, 200, 200, 'USD', '', '', now(), '\\x00', "
                    + "'agent:agt_a', 'agent:agt_b', 200), "
                    + "(4, 'ent_declined', 2, 'agt_a', '', '', '', 2, 5000, 0, 'USD', '', '', now(), '\\x00', NULL, NULL, NULL)");
            // a pod of the previous release, during a rolling update, writes as before V5
            st.executeUpdate("INSERT INTO ledger.entries (" + ENTRY_COLUMNS + ") VALUES "
                    + "(5, 'ent_old_pod', 1, 'agt_b', '', '', '', 1, 50, 50, 'USD', '', '', now(), '\\x00')");
            st.executeUpdate("INSERT INTO ledger.postings (entry_id, account_id, amount_micros, currency_code) VALUES "
                    + "('ent_old_pod', 'agent:agt_b', -50, 'USD'), ('ent_old_pod', 'vendor:USD', 50, 'USD')");
            List<String> now = postings(st, "ledger.every_posting");
            assertEquals(v4, now.subList(0, 4));
            assertEquals(List.of("ent_agent_pay|agent:agt_a|-200|USD", "ent_agent_pay|agent:agt_b|200|USD",
                    "ent_old_pod|agent:agt_b|-50|USD", "ent_old_pod|vendor:USD|50|USD"), now.subList(4, 8));
            assertEquals(8, now.size(), "an entry without a transfer has no legs");
            assertEquals(List.of("agent:agt_a|400", "agent:agt_b|150", "funding:USD|-900", "vendor:USD|350"),
                    rows(st, "SELECT account_id, SUM(amount_micros) FROM ledger.every_posting GROUP BY 1 ORDER BY 1"));

            refused(st, "'agent:agt_a', NULL, 5", "entries_transfer_whole");
            refused(st, "'agent:agt_a', 'agent:agt_b', 0", "entries_transfer_whole");
            refused(st, "'agent:agt_a', 'agent:agt_a', 5", "entries_transfer_whole");
            refused(st, "'agent:agt_a', 'agent:nobody', 5", "entries_to_account_fkey");
            refused(st, "'agent:nobody', 'agent:agt_a', 5", "entries_from_account_fkey");
            // added NOT VALID by V5 (no scan under its exclusive lock), validated by V6
            assertEquals(List.of("entries_from_account_fkey|t", "entries_to_account_fkey|t", "entries_transfer_whole|t"),
                    rows(st, "SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'ledger.entries'::regclass "
                            + "AND conname IN ('entries_from_account_fkey', 'entries_to_account_fkey', 'entries_transfer_whole') "
                            + "ORDER BY conname"));
        }
    }

    /** An entry with the given transfer (from, to, amount) is refused by the named constraint. */
    private static void refused(Statement st, String transfer, String constraint) {
        SQLException e = assertThrows(SQLException.class, () -> st.executeUpdate("INSERT INTO ledger.entries ("
                + ENTRY_COLUMNS + ", from_account_id, to_account_id, transfer_micros) VALUES "
                + "(9, 'ent_bad', 9, 'agt_a', '', '', '', 1, 5, 5, 'USD', '', '', now(), '\\x00', " + transfer + ")"));
        assertTrue(e.getMessage().contains(constraint), e.getMessage());
    }

    private static List<String> postings(Statement st, String relation) throws SQLException {
        return rows(st, "SELECT p.entry_id, p.account_id, p.amount_micros, p.currency_code FROM " + relation + " p "
                + "JOIN ledger.entries e USING (entry_id) ORDER BY e.position, p.amount_micros");
    }
}
