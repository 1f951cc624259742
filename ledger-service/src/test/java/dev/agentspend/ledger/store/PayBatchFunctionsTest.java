package dev.agentspend.ledger.store;

import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.SqlRows;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import dev.agentspend.proto.ledger.v1.PayResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * V7's functions for a Pay batch. ledger.pay_response builds the bytes the service's
 * PayResponse.toByteArray() gives for the entry with its position: replays, and pods of the
 * previous release, read those rows. ledger.require_entry, sent with COMMIT, keeps a transaction
 * whose entries statement never ran from committing.
 */
class PayBatchFunctionsTest {
    private static final long[] POSITIONS = {1, 127, 128, 16_383, 16_384, 2_097_152, Integer.MAX_VALUE,
            1L << 35, Long.MAX_VALUE};
    private static Connection connection;

    @BeforeAll
    static void migrate() throws SQLException {
        String url = MigrationTests.databaseAt("ledger_pay_batch_functions_test", "7");
        connection = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
    }

    @AfterAll
    static void close() throws SQLException {
        connection.close();
    }

    @Test
    @Timeout(60)
    void sameBytesAsTheServiceForShortAndLongEntriesAndEveryVarintLength() throws SQLException {
        Entry small = Entry.newBuilder().setEntryId("ent_1").setEventType(EventType.EVENT_TYPE_PAYMENT_APPROVED)
                .setAgentId("agt_a").setAmountMicros(5).setCurrencyCode("USD")
                .setDecision(Decision.DECISION_APPROVED).build();
        Entry.Builder large = Entry.newBuilder().setEntryId("ent_01JABCDEFGHJKMNPQRSTVWXYZ0")
                .setEventType(EventType.EVENT_TYPE_PAYMENT_DECLINED).setAgentId("agt_01JABCDEFGHJKMNPQRSTVWXYZ0")
                .setTeamId("team_ops").setTool("openai/chat.completions").setTaskId("task-" + "x".repeat(200))
                .setDecision(Decision.DECISION_DECLINED).setAmountMicros(9_999).setSpendMicros(0)
                .setCurrencyCode("USD").setBalanceMicros(-1).setRecordedTime(Tx.timestamp(Instant.parse("2026-11-30T01:02:03.456Z")))
                .putLabels("env", "prod").putLabels("model", "m".repeat(20_000));
        for (Entry entry : new Entry[]{small, large.build()}) {
            for (long position : POSITIONS) {
                byte[] expected = PayResponse.newBuilder().setEntry(entry.toBuilder().setPosition(position)).build()
                        .toByteArray();
                byte[] built = payResponse(entry.toBuilder().clearPosition().build().toByteArray(), position);
                assertArrayEquals(expected, built, "entry of " + entry.getSerializedSize() + " bytes at " + position);
            }
        }
        assertTrue(large.build().getSerializedSize() > 16_384, "the long entry's length takes a three-byte varint");
    }

    @Test
    @Timeout(60)
    void refusesWhatIsNoLedgerPosition() {
        for (long position : new long[]{0, -1, Long.MIN_VALUE}) {
            SQLException e = assertThrows(SQLException.class, () -> payResponse(new byte[]{0x12, 0x01, 0x61}, position));
            assertTrue(e.getMessage().contains("is not a ledger position"), e.getMessage());
        }
        SQLException e = assertThrows(SQLException.class, () -> {
            try (PreparedStatement ps = connection.prepareStatement("SELECT ledger.protobuf_varint(-5)")) {
                ps.executeQuery();
            }
        });
        assertTrue(e.getMessage().contains("-5 is negative"), e.getMessage());
    }

    @Test
    @Timeout(60)
    void varintOfZeroIsOneZeroByte() throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT ledger.protobuf_varint(0)");
             ResultSet rs = ps.executeQuery()) {
            assertTrue(rs.next());
            assertArrayEquals(new byte[]{0}, rs.getBytes(1));
        }
    }

    @Test
    @Timeout(60)
    void requireEntryBeforeCommitKeepsATransactionWithoutItsEntryFromCommitting() throws SQLException {
        String missing = "ent_" + "a".repeat(26);
        try (Statement st = connection.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS public.written (note text)");
            st.execute("BEGIN");
            st.execute("INSERT INTO public.written VALUES ('a balance without its entry')");
            SQLException e = assertThrows(SQLException.class,
                    () -> st.execute("SELECT ledger.require_entry('" + missing + "'); COMMIT"));
            assertTrue(e.getMessage().contains("entry " + missing + " was not written"), e.getMessage());
            st.execute("ROLLBACK");
            assertEquals(List.of(), SqlRows.rows(st, "SELECT note FROM public.written"));

            st.execute("BEGIN");
            st.execute("INSERT INTO public.written VALUES ('with its entry')");
            st.execute("INSERT INTO ledger.entries (position, entry_id, event_type, agent_id, team_id, tool, task_id, "
                    + "decision, amount_micros, spend_micros, currency_code, hold_id, reversed_entry_id, recorded_time, "
                    + "payload) VALUES (1, '" + missing + "', 2, 'agt_a', '', '', '', 2, 1, 0, 'USD', '', '', now(), '\\x00')");
            st.execute("SELECT ledger.require_entry('" + missing + "'); COMMIT");
            assertEquals(List.of("with its entry"), SqlRows.rows(st, "SELECT note FROM public.written"));
        }
    }

    private static byte[] payResponse(byte[] payload, long position) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement("SELECT ledger.pay_response(?, ?)")) {
            ps.setBytes(1, payload);
            ps.setLong(2, position);
            try (ResultSet rs = ps.executeQuery()) {
                assertTrue(rs.next());
                byte[] out = rs.getBytes(1);
                assertEquals(false, rs.next());
                return out;
            }
        }
    }
}
