package dev.agentspend.bench;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * What PostgreSQL spent its time on during a measured window ({@code --statements}): the server
 * runs with pg_stat_statements (planning tracked too), which is reset when the window starts and
 * read when it ends. The execution time is wall time inside the executor (lock and I/O waits
 * included, parsing not), so it ranks statements; the process CPU in the report is the total.
 * Planning is counted on its own: a prepared statement that PostgreSQL keeps planning for each
 * execution (a custom plan each time instead of the cached generic one) shows as plans close to
 * calls, and its planning time is CPU spent before the executor starts.
 */
final class StatementStats {
    /** One statement: its normalized text, calls, rows, total execution time, plans and planning time. */
    record Row(String query, long calls, long rows, double totalMs, long plans, double planMs) {
    }

    /** Server settings for the window: the library preloaded, planning counted. */
    // wal_keep_size: the WAL of the measured window is read after it (WalStats); a checkpoint inside
    // the window may recycle its first segments before that (with task ids, 3 KB of WAL per entry:
    // "requested WAL segment ... has already been removed")
    static final java.util.Map<String, String> SERVER_CONFIG = java.util.Map.of(
            "shared_preload_libraries", "pg_stat_statements",
            "pg_stat_statements.track_planning", "on",
            "wal_keep_size", "4GB");

    static final int TOP = 15;
    private static final int QUERY_CHARS = 110;

    private StatementStats() {
    }

    /** Creates the extension in the benchmark's database (the library is preloaded at start). */
    static void install(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
        }
    }

    static void reset(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("SELECT pg_stat_statements_reset()");
        }
    }

    /** Every statement of the window, most execution time first. */
    static List<Row> read(Connection c) throws SQLException {
        List<Row> out = new ArrayList<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT query, calls, rows, total_exec_time, plans, total_plan_time"
                     + " FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC")) {
            while (rs.next()) {
                out.add(new Row(oneLine(rs.getString(1)), rs.getLong(2), rs.getLong(3), rs.getDouble(4), rs.getLong(5),
                        rs.getDouble(6)));
            }
        }
        return out;
    }

    /** The statement on one line, whitespace collapsed, cut to a readable length. */
    static String oneLine(String query) {
        String q = query.replaceAll("\\s+", " ").trim();
        return q.length() <= QUERY_CHARS ? q : q.substring(0, QUERY_CHARS - 3) + "...";
    }
}
