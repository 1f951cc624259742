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
 * they hold. Every payment is an entry, kept for good, and an idempotency row, kept for the ledger's
 * idempotency retention (a week by default): the entries' bytes are what a deployment's database
 * grows by per payment, and the idempotency rows' are what it holds per payment of the last week.
 */
final class DiskUsage {
    /** The services' schemas, as their Flyway configurations name them. */
    static final List<String> SCHEMAS = List.of("ledger", "analytics", "alerts", "identity");
    static final long SECONDS_PER_DAY = 86_400;
    /** The ledger's agentspend.ledger.idempotency-retention by default (168h), which the bench's ledger runs with. */
    static final int DEFAULT_IDEMPOTENCY_RETENTION_DAYS = 7;

    /** One schema's bytes on disk. */
    record Schema(String name, long bytes) {
    }

    /**
     * The schemas, largest first, the ledger's entries in them, and the bytes of the ledger's
     * idempotency rows (their table and indexes, part of the ledger schema's).
     */
    record Sizes(List<Schema> schemas, long ledgerEntries, long idempotencyBytes) {
        long bytes(String schema) {
            return schemas.stream().filter(s -> s.name().equals(schema)).mapToLong(Schema::bytes).sum();
        }

        double ledgerBytesPerEntry() {
            return ledgerEntries == 0 ? 0 : (double) bytes("ledger") / ledgerEntries;
        }

        /** The ledger's bytes per entry without its idempotency rows: what stays for good. */
        double keptBytesPerEntry() {
            return ledgerEntries == 0 ? 0 : (double) (bytes("ledger") - idempotencyBytes) / ledgerEntries;
        }

        double idempotencyBytesPerEntry() {
            return ledgerEntries == 0 ? 0 : (double) idempotencyBytes / ledgerEntries;
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
        long idempotency;
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT COALESCE(pg_total_relation_size(to_regclass('ledger.idempotency')), 0)")) {
            idempotency = rs.next() ? rs.getLong(1) : 0;
        }
        return new Sizes(schemas, entries, idempotency);
    }

    /** Bytes a day at {@code bytesPerSecond}, in gigabytes (10^9): a straight extrapolation. */
    static double gigabytesPerDay(double bytesPerSecond) {
        return bytesPerSecond * SECONDS_PER_DAY / 1e9;
    }
}
