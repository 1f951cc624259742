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
 * Migration V2 (day rollup) on an analytics database that ran on V1, where every batch wrote the
 * minute and the day rows: every minute row is marked rolled up and W starts after the newest
 * minute stored, so the day views read exactly the day rows of before (nothing counted twice), and
 * the ledger feed's row is renamed with its position.
 */
class DayRollupMigrationTest {
    private static final String DATABASE = "analytics_migration_test";

    @Test
    @Timeout(120)
    void theDayViewsReadWhatTheDayRowsHeldAndTheRollupStartsAfterTheNewestMinute() throws SQLException {
        EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
        db.createDatabase(DATABASE);
        String url = db.jdbcUrl(DATABASE);
        flyway(url).target("1").load().migrate();
        List<String> v1Tools;
        List<String> v1Agents;
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            // a minute three days ahead of now: W must start after it, not at the current minute
            st.executeUpdate("""
                    INSERT INTO analytics.agent_tool_minute VALUES
                      ('agt_a', '2026-11-28T23:59:00Z', 'llm', '', 100, 1, 0, 0, 0, 0),
                      ('agt_a', '2026-11-29T10:00:00Z', 'llm', '', 200, 2, 1, 50, 1, 70),
                      ('agt_a', date_trunc('minute', now()) + interval '3 days', 'search', '', 300, 1, 0, 0, 0, 0)""");
            st.executeUpdate("""
                    INSERT INTO analytics.agent_tool_day
                    SELECT agent_id, (minute AT TIME ZONE 'UTC')::date, tool, team_id, SUM(spend_micros), SUM(call_count),
                           SUM(retry_call_count), SUM(retry_spend_micros), SUM(decline_count), SUM(declined_micros)
                    FROM analytics.agent_tool_minute GROUP BY 1, 2, 3, 4""");
            st.executeUpdate("""
                    INSERT INTO analytics.agent_day
                    SELECT agent_id, day, SUM(spend_micros), SUM(call_count), SUM(decline_count), 1, 42
                    FROM analytics.agent_tool_day GROUP BY 1, 2""");
            st.executeUpdate("UPDATE analytics.feed_state SET position = 1234 WHERE feed = 'ledger'");
            v1Tools = SqlRows.rows(st, "SELECT agent_id, day, tool, spend_micros, call_count, retry_call_count, retry_spend_micros, "
                    + "decline_count, declined_micros FROM analytics.agent_tool_day ORDER BY day, tool");
            v1Agents = SqlRows.rows(st, "SELECT agent_id, day, spend_micros, call_count, decline_count, completed_task_count, "
                    + "completed_task_micros FROM analytics.agent_day ORDER BY day");
        }
        flyway(url).load().migrate();
        try (Connection c = DriverManager.getConnection(url, EmbeddedDatabase.USER, "");
             Statement st = c.createStatement()) {
            assertEquals(v1Tools, SqlRows.rows(st, "SELECT agent_id, day, tool, SUM(spend_micros), SUM(call_count), "
                    + "SUM(retry_call_count), SUM(retry_spend_micros), SUM(decline_count), SUM(declined_micros) "
                    + "FROM analytics.agent_tool_day_all GROUP BY 1, 2, 3 ORDER BY day, tool"));
            assertEquals(v1Agents, SqlRows.rows(st, "SELECT agent_id, day, spend_micros, call_count, decline_count, "
                    + "completed_task_count, completed_task_micros FROM analytics.agent_day_all ORDER BY day"));
            assertEquals(List.of("t"), SqlRows.rows(st, "SELECT through_minute = (SELECT max(minute) + interval '1 minute' "
                    + "FROM analytics.agent_tool_minute) FROM analytics.day_rollup"));
            assertEquals(List.of("3|3"), SqlRows.rows(st, "SELECT count(*), count(*) FILTER (WHERE rolled) "
                    + "FROM analytics.agent_tool_minute"), "every minute row of before is in the day rows");
            assertEquals(List.of("ledger-entries|1234", "policy|0"),
                    SqlRows.rows(st, "SELECT feed, position FROM analytics.feed_state ORDER BY feed"));
            assertEquals(IngestionStore.LEDGER_FEED, "ledger-entries");
        }
    }

    private static FluentConfiguration flyway(String url) {
        FluentConfiguration c = Flyway.configure().dataSource(url, EmbeddedDatabase.USER, "").schemas("analytics")
                .defaultSchema("analytics").locations("classpath:db/migration");
        new FlywaySessionLock().customize(c); // as the service migrates: V5 builds an index concurrently
        return c;
    }

}
