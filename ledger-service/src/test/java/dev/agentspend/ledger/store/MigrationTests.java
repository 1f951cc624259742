package dev.agentspend.ledger.store;

import dev.agentspend.common.db.FlywaySessionLock;
import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.configuration.FluentConfiguration;

/** What the migration tests share: the ledger's Flyway setup (rows as comparable strings: SqlRows). */
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

    /** The ledger's migrations against {@code url}, set up as the service sets them up; add a target to stop at a version. */
    static FluentConfiguration flyway(String url) {
        FluentConfiguration c = Flyway.configure().dataSource(url, EmbeddedDatabase.USER, "").schemas("ledger")
                .defaultSchema("ledger").locations("classpath:db/migration");
        new FlywaySessionLock().customize(c);
        return c;
    }
}
