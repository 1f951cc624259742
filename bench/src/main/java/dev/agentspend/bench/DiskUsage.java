package dev.agentspend.bench;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * What the platform keeps on disk, for sizing: each service's schema (its tables with their
 * indexes and TOAST, as PostgreSQL accounts for them) after the run, and the ledger's entries
 * they hold. Every payment is an entry and its idempotency row, both kept for good, so the
 * ledger's bytes per entry are what a deployment's database grows by per payment.
 */
final class DiskUsage {
    /** The services' schemas, as their Flyway configurations name them. */
    static final List<String> SCHEMAS = List.of("ledger", "analytics", "alerts", "identity");
    static final long SECONDS_PER_DAY = 86_400;

    /** One schema's bytes on disk. */
    record Schema(String name, long bytes) {
    }

    /** The schemas, largest first, and the ledger's entries in them. */
    record Sizes(List<Schema> schemas, long ledgerEntries) {
        long bytes(String schema) {
            return schemas.stream().filter(s -> s.name().equals(schema)).mapToLong(Schema::bytes).sum();
        }

        double ledgerBytesPerEntry() {
            return ledgerEntries == 0 ? 0 : (double) bytes("ledger") / ledgerEntries;
        }
    }

    private DiskUsage() {
    }

    static Sizes read(Connection c) throws SQLException {
        List<Schema> schemas = new ArrayList<>();
        String names = String.join("', '", SCHEMAS);
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("""
                     SELECT n.nspname, COALESCE(SUM(pg_total_relation_size(t.oid)), 0)::bigint
                     FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace
                     WHERE t.relkind IN ('r', 'm') AND n.nspname IN ('%s')
                     GROUP BY n.nspname ORDER BY 2 DESC""".formatted(names))) {
            while (rs.next()) {
                schemas.add(new Schema(rs.getString(1), rs.getLong(2)));
            }
        }
        long entries;
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT last_position FROM ledger.feed_position")) {
            entries = rs.next() ? rs.getLong(1) : 0;
        }
        return new Sizes(schemas, entries);
    }

    /** Bytes a day at {@code bytesPerSecond}, in gigabytes (10^9): a straight extrapolation. */
    static double gigabytesPerDay(double bytesPerSecond) {
        return bytesPerSecond * SECONDS_PER_DAY / 1e9;
    }
}
