package dev.agentspend.platform;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What PostgreSQL wrote to its WAL for given rows, for tests of what a statement costs (a row lock
 * before an update, say): note the rows' tuples and the WAL position, act, then read the heap
 * records that touch those tuples ({@code pg_walinspect}, PostgreSQL 16; the connection's user must
 * be allowed to create the extension and read the WAL, as the embedded server's is).
 */
public final class WalInspection {
    /** A heap record names the tuple it changes as "off: N" (LOCK) or "old_off: N" (UPDATE, HOT_UPDATE). */
    private static final Pattern TUPLE_OFFSET = Pattern.compile("(?:^|[ ,])(?:old_)?off: (\\d+)");

    private WalInspection() {
    }

    /** One row version's place: its relation's file, page and line pointer. */
    public record Tuple(long relfilenode, long block, int offset) {
    }

    /** The tuples of {@code relation}'s rows that match {@code where} (SQL, trusted test text). */
    public static Set<Tuple> tuples(Connection db, String relation, String where) throws SQLException {
        Set<Tuple> out = new HashSet<>();
        try (Statement st = db.createStatement();
             ResultSet r = st.executeQuery("SELECT pg_relation_filenode('" + relation + "')::bigint AS f, "
                     + "(ctid::text::point)[0]::bigint AS b, (ctid::text::point)[1]::int AS o FROM " + relation
                     + " WHERE " + where)) {
            while (r.next()) {
                out.add(new Tuple(r.getLong("f"), r.getLong("b"), r.getInt("o")));
            }
        }
        return out;
    }

    /** The WAL insert position now (installs pg_walinspect first, so that the reads after need nothing). */
    public static String position(Connection db) throws SQLException {
        try (Statement st = db.createStatement()) {
            st.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect");
            try (ResultSet r = st.executeQuery("SELECT pg_current_wal_insert_lsn()::text")) {
                r.next();
                return r.getString(1);
            }
        }
    }

    /**
     * The record types (LOCK, UPDATE, HOT_UPDATE, ...) of the heap records written from {@code from}
     * until now that change one of {@code tuples}, in WAL order. Flushes the WAL up to now first:
     * pg_walinspect reads flushed WAL only, and a test database may commit asynchronously.
     */
    public static List<String> heapRecordTypes(Connection db, String from, Set<Tuple> tuples)
            throws SQLException, InterruptedException {
        String to;
        try (Statement st = db.createStatement(); ResultSet r = st.executeQuery("SELECT pg_current_wal_insert_lsn()::text")) {
            r.next();
            to = r.getString(1);
        }
        flush(db, to);
        List<String> types = new ArrayList<>();
        try (Statement st = db.createStatement();
             ResultSet r = st.executeQuery("SELECT record_type, relfilenode::bigint AS f, relblocknumber::bigint AS b, "
                     + "description FROM pg_get_wal_block_info('" + from + "', '" + to + "') "
                     + "WHERE resource_manager = 'Heap' ORDER BY start_lsn")) {
            while (r.next()) {
                Matcher offset = TUPLE_OFFSET.matcher(r.getString("description"));
                if (offset.find() && tuples.contains(new Tuple(r.getLong("f"), r.getLong("b"), Integer.parseInt(offset.group(1))))) {
                    types.add(r.getString("record_type"));
                }
            }
        }
        return types;
    }

    /**
     * Flushes the WAL up to {@code lsn} without waiting on a clock: a transaction that writes WAL (a
     * transactional logical message, which needs no table and no wal_level) commits synchronously
     * when synchronous_commit is on (set for that transaction only), flushing the WAL up to its
     * commit record, which lies after {@code lsn}. (A transaction that only takes an id writes no WAL
     * before its commit record and commits asynchronously.)
     */
    private static void flush(Connection db, String lsn) throws SQLException {
        if (!db.getAutoCommit()) {
            throw new IllegalStateException("WalInspection needs an autocommit connection: it commits a transaction to flush the WAL");
        }
        try (Statement st = db.createStatement()) {
            st.executeQuery("SELECT set_config('synchronous_commit', 'on', true), "
                    + "pg_logical_emit_message(true, 'agentspend-wal-inspection', '')").close();
            try (ResultSet r = st.executeQuery("SELECT pg_current_wal_flush_lsn() >= '" + lsn + "'::pg_lsn")) {
                r.next();
                if (!r.getBoolean(1)) {
                    throw new IllegalStateException("the WAL up to " + lsn + " is not flushed after a synchronous commit");
                }
            }
        }
    }
}
