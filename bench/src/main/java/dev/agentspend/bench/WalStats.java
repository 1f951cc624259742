package dev.agentspend.bench;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * What PostgreSQL wrote to its WAL during a measured window: its bytes in every run (two
 * {@link Mark}s), and with {@code --statements} the detail per ledger entry written in it: bytes
 * and records in all, and per relation the block references (one per page a record changes: a row
 * version, an index entry, a lock), the record bytes and the full-page images. Unlike time and CPU
 * these counts do not drift with the machine's speed, so two builds compare exactly: a statement
 * that writes a row version or takes a lock for nothing shows as block references on its
 * relation. The detail is read with pg_walinspect (PostgreSQL 16) from the WAL between the two
 * marks, right after the window, while those segments are still there.
 */
final class WalStats {
    /** Where the WAL and the ledger's feed stood at one moment. */
    record Mark(String lsn, long feedPosition) {
        /** WAL bytes written from {@code earlier} to this mark. */
        long walBytesSince(Mark earlier) {
            return lsnBytes(lsn) - lsnBytes(earlier.lsn);
        }

        /** Ledger entries written from {@code earlier} to this mark (positions are handed out without gaps). */
        long entriesSince(Mark earlier) {
            return feedPosition - earlier.feedPosition;
        }
    }

    /** A pg_lsn's text ("16/B374D848": the high and low 32 bits in hex) as a byte offset into the WAL. */
    static long lsnBytes(String lsn) {
        int slash = lsn.indexOf('/');
        if (slash <= 0 || slash == lsn.length() - 1) {
            throw new IllegalArgumentException("not a pg_lsn: " + lsn);
        }
        return (Long.parseLong(lsn.substring(0, slash), 16) << 32) + Long.parseLong(lsn.substring(slash + 1), 16);
    }

    /** One relation's share of the window's WAL. */
    record Relation(String name, long blockRefs, long recordBytes, long fullPageBytes) {
    }

    /** The window: entries written, WAL bytes and records, the relations with the most record bytes first. */
    record Window(long entries, long walBytes, long records, List<Relation> relations) {
        double perEntry(long n) {
            return entries == 0 ? 0 : (double) n / entries;
        }
    }

    static final int TOP = 15;

    private WalStats() {
    }

    /** Creates the extension in the benchmark's database. */
    static void install(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect");
        }
    }

    static Mark mark(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_current_wal_lsn()::text, (SELECT last_position FROM ledger.feed_position)")) {
            rs.next();
            return new Mark(rs.getString(1), rs.getLong(2));
        }
    }

    static Window read(Connection c, Mark start, Mark end) throws SQLException {
        long records;
        try (PreparedStatement s = c.prepareStatement(
                "SELECT COALESCE(SUM(count), 0)::bigint FROM pg_get_wal_stats(?::pg_lsn, ?::pg_lsn)")) {
            s.setString(1, start.lsn());
            s.setString(2, end.lsn());
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                records = rs.getLong(1);
            }
        }
        List<Relation> relations = new ArrayList<>();
        // a relation of another database (or one dropped since) has no name here: its file number stands in
        try (PreparedStatement s = c.prepareStatement("""
                SELECT COALESCE(pg_filenode_relation(CASE WHEN b.reltablespace = d.dattablespace THEN 0
                                                          ELSE b.reltablespace END, b.relfilenode)::text,
                                'file ' || b.relfilenode) AS relation,
                       count(*), SUM(b.record_length)::bigint, SUM(b.block_fpi_length)::bigint
                FROM pg_get_wal_block_info(?::pg_lsn, ?::pg_lsn) b
                JOIN pg_database d ON d.datname = current_database()
                WHERE b.reldatabase = d.oid
                GROUP BY 1 ORDER BY 3 DESC""")) {
            s.setString(1, start.lsn());
            s.setString(2, end.lsn());
            try (ResultSet rs = s.executeQuery()) {
                while (rs.next()) {
                    relations.add(new Relation(rs.getString(1), rs.getLong(2), rs.getLong(3), rs.getLong(4)));
                }
            }
        }
        return new Window(end.entriesSince(start), end.walBytesSince(start), records, relations);
    }
}
