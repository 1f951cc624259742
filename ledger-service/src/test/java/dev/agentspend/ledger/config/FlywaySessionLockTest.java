package dev.agentspend.ledger.config;

import io.quarkus.flyway.FlywayConfigurationCustomizer;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.enterprise.inject.Any;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.flywaydb.database.postgresql.PostgreSQLConfigurationExtension;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The service's Flyway migrates under a session lock: the customizer lives in common (every service's
 * jar, the same bean: this one service checks it), found through common's Jandex index. Without it
 * V12's CREATE INDEX CONCURRENTLY waits for the migration's own transaction, forever.
 */
@QuarkusTest
class FlywaySessionLockTest {
    @Inject
    @Any
    Instance<FlywayConfigurationCustomizer> customizers;

    @Test
    void flywayTakesItsSessionLockNotATransactionLock() {
        FluentConfiguration configuration = Flyway.configure();
        assertTrue(postgres(configuration).isTransactionalLock(), "Flyway's own default, which this service must not keep");
        assertFalse(customizers.isUnsatisfied(), "common's customizer is a bean of the service");
        customizers.forEach(c -> c.customize(configuration));
        assertFalse(postgres(configuration).isTransactionalLock());
    }

    private static PostgreSQLConfigurationExtension postgres(FluentConfiguration configuration) {
        return configuration.getPluginRegister().getPlugin(PostgreSQLConfigurationExtension.class);
    }
}
