package dev.agentspend.platform;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * A table that refuses every DELETE until closed: a statement trigger that raises an error, for tests
 * that need a real database failure of one statement (a purge's) while everything else goes on.
 */
public final class RefusedDeletes implements AutoCloseable {
    private static final Pattern TABLE = Pattern.compile("[a-z_]+\\.[a-z_]+");
    private static final AtomicInteger NEXT = new AtomicInteger();

    private final String jdbcUrl;
    private final String table;
    private final String name;

    private RefusedDeletes(String jdbcUrl, String table, String name) {
        this.jdbcUrl = jdbcUrl;
        this.table = table;
        this.name = name;
    }

    /** From now until {@link #close}, every DELETE on {@code table} (schema.table) fails. */
    public static RefusedDeletes on(String jdbcUrl, String table) throws SQLException {
        if (!TABLE.matcher(table).matches()) {
            throw new IllegalArgumentException("a schema-qualified table of lower-case letters and _, not " + table);
        }
        String name = "test_refuse_delete_" + NEXT.incrementAndGet();
        try (Connection c = DriverManager.getConnection(jdbcUrl, EmbeddedDatabase.USER, ""); Statement s = c.createStatement()) {
            s.execute("CREATE FUNCTION public." + name + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    + "RAISE EXCEPTION 'the test refuses deletes from " + table + "'; END $$");
            s.execute("CREATE TRIGGER " + name + " BEFORE DELETE ON " + table
                    + " FOR EACH STATEMENT EXECUTE FUNCTION public." + name + "()");
        }
        return new RefusedDeletes(jdbcUrl, table, name);
    }

    @Override
    public void close() throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl, EmbeddedDatabase.USER, ""); Statement s = c.createStatement()) {
            s.execute("DROP TRIGGER " + name + " ON " + table);
            s.execute("DROP FUNCTION public." + name + "()");
        }
    }
}
