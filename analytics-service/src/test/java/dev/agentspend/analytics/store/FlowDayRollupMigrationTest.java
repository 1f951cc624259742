package dev.agentspend.analytics.store;

import dev.agentspend.common.db.FlywaySessionLock;
import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.platform.SqlRows;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Migrations V4 (flow day rollup) and V5 (the task purge's index) on an analytics database that ran
 * on V3, where flows had minute rows only: the rows stored before start out not rolled up, the flow
 * day view reads exactly what the minutes held, and {@link IngestionStore#ROLL_UP_FLOWS} moves the
 * minutes before its bound into the day rows, each once, the view reading the same all along.
 */
class FlowDayRollupMigrationTest {
    private static final String DATABASE = "analytics_flow_migration_test";
    private static final String BY_DAY = "SELECT payer_agent_id, payee_agent_id, day, SUM(amount_micros), SUM(payment_count) "
            + "FROM analytics.agent_flow_day_all GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

    @Test
    @Timeout(120)
    void flowsStoredBeforeAreRolledUpOnceAndReadTheSameAllAlong() throws SQLException {
        EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
        db.createDatabase(DATABASE);
        String url = db.jdbcUrl(DATABASE);
        flyway(url).target("3").load().migrate();
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            st.executeUpdate("""
                    INSERT INTO analytics.agent_flow_minute VALUES
                      ('agt_a', 'agt_b', '2026-11-28T23:59:00Z', 100, 1),
                      ('agt_a', 'agt_b', '2026-11-29T10:00:00Z', 200, 2),
                      ('agt_a', 'agt_b', '2026-11-29T10:01:00Z', -50, 0),
                      ('agt_b', 'agt_a', '2026-11-29T10:02:00Z', 30, 1)""");
        }
        flyway(url).load().migrate();
        List<String> expected = List.of("agt_a|agt_b|2026-11-28|100|1", "agt_a|agt_b|2026-11-29|150|2",
                "agt_b|agt_a|2026-11-29|30|1");
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            assertEquals(List.of("4|0"), SqlRows.rows(st, "SELECT count(*), count(*) FILTER (WHERE rolled) "
                    + "FROM analytics.agent_flow_minute"), "nothing of before is in the day rows yet");
            assertEquals(expected, SqlRows.rows(st, BY_DAY));

            rollUp(c, "2026-11-29T10:01:00Z");
            assertEquals(List.of("4|2"), SqlRows.rows(st, "SELECT count(*), count(*) FILTER (WHERE rolled) "
                    + "FROM analytics.agent_flow_minute"));
            assertEquals(List.of("agt_a|agt_b|2026-11-28|100|1", "agt_a|agt_b|2026-11-29|200|2"),
                    SqlRows.rows(st, "SELECT payer_agent_id, payee_agent_id, day, amount_micros, payment_count "
                            + "FROM analytics.agent_flow_day ORDER BY 1, 2, 3"));
            assertEquals(expected, SqlRows.rows(st, BY_DAY));

            rollUp(c, "2026-11-29T10:03:00Z");
            rollUp(c, "2026-11-29T10:03:00Z");
            assertEquals(List.of("4|4"), SqlRows.rows(st, "SELECT count(*), count(*) FILTER (WHERE rolled) "
                    + "FROM analytics.agent_flow_minute"));
            assertEquals(expected, SqlRows.rows(st, "SELECT payer_agent_id, payee_agent_id, day, amount_micros, payment_count "
                    + "FROM analytics.agent_flow_day ORDER BY 1, 2, 3"), "a second rollup to the same bound adds nothing");
            assertEquals(expected, SqlRows.rows(st, BY_DAY));
            assertEquals(List.of("t"), SqlRows.rows(st, "SELECT indisvalid FROM pg_index "
                    + "WHERE indexrelid = 'analytics.task_age'::regclass"), "V5's index, built concurrently, is valid");
        }
    }

    private static void rollUp(Connection c, String before) throws SQLException {
        // the statement as the consumer sends it, with its $1
        try (Statement s = c.createStatement()) {
            s.execute("PREPARE roll_up_flows(timestamptz) AS " + IngestionStore.ROLL_UP_FLOWS);
            s.execute("EXECUTE roll_up_flows('" + before + "')");
            s.execute("DEALLOCATE roll_up_flows");
        }
    }

    private static FluentConfiguration flyway(String url) {
        FluentConfiguration c = Flyway.configure().dataSource(url, EmbeddedDatabase.USER, "").schemas("analytics")
                .defaultSchema("analytics").locations("classpath:db/migration");
        new FlywaySessionLock().customize(c); // as the service migrates: V5 builds an index concurrently
        return c;
    }
}
