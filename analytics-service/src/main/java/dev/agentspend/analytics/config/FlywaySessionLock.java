package dev.agentspend.analytics.config;

import io.quarkus.flyway.FlywayConfigurationCustomizer;
import jakarta.inject.Singleton;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.flywaydb.database.postgresql.PostgreSQLConfigurationExtension;

/**
 * Flyway serializes replicas that migrate at once with a session advisory lock instead of its
 * default, a transaction-level one. That transaction stays open for the whole migration, and
 * {@code CREATE INDEX CONCURRENTLY} (V5) waits for every transaction older than itself to end: with
 * the default lock the migration waited for itself, forever.
 */
@Singleton
public class FlywaySessionLock implements FlywayConfigurationCustomizer {
    @Override
    public void customize(FluentConfiguration configuration) {
        configuration.getPluginRegister().getPlugin(PostgreSQLConfigurationExtension.class).setTransactionalLock(false);
    }
}
