package dev.agentspend.common.db;

import io.quarkus.flyway.FlywayConfigurationCustomizer;
import jakarta.inject.Singleton;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.flywaydb.database.postgresql.PostgreSQLConfigurationExtension;

/**
 * Every service's Flyway serializes replicas that migrate at once with a session advisory lock
 * instead of its default, a transaction-level one. That transaction stays open for the whole
 * migration, and {@code CREATE INDEX CONCURRENTLY} (the ledger's V12, analytics' V5) waits for every
 * transaction older than itself to end: with the default lock the migration waited for itself,
 * forever. A bean here (common's jar carries a Jandex index) so that no service can miss it.
 */
@Singleton
public class FlywaySessionLock implements FlywayConfigurationCustomizer {
    @Override
    public void customize(FluentConfiguration configuration) {
        configuration.getPluginRegister().getPlugin(PostgreSQLConfigurationExtension.class).setTransactionalLock(false);
    }
}
