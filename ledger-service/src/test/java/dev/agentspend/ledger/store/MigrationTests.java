package dev.agentspend.ledger.store;

import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.configuration.FluentConfiguration;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/** What the migration tests share: the ledger's Flyway setup and rows as comparable strings. */
final class MigrationTests {
    private MigrationTests() {
    }

    /** A new database of the shared test server, migrated up to {@code version}: its JDBC URL. */
    static String databaseAt(String name, String version) {
        EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
        db.createDatabase(name);
        String url = db.jdbcUrl(name);
        flyway(url).target(version).load().migrate();
        return url;
    }

    /** The ledger's migrations against {@code url}; add a target to stop at a version. */
    static FluentConfiguration flyway(String url) {
        return Flyway.configure().dataSource(url, EmbeddedDatabase.USER, "").schemas("ledger").defaultSchema("ledger")
                .locations("classpath:db/migration");
    }

    /** Each row of {@code sql} as its columns joined by '|'. */
    static List<String> rows(Statement st, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (ResultSet rs = st.executeQuery(sql)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder row = new StringBuilder();
                for (int i = 1; i <= n; i++) {
                    row.append(i > 1 ? "|" : "").append(rs.getString(i));
                }
                out.add(row.toString());
            }
        }
        return out;
    }
}
