package dev.agentspend.platform;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Gives a {@code @QuarkusTest} a real PostgreSQL: one throwaway embedded server per test JVM and a
 * fresh database for every application start, unless a database URL is configured already
 * (environment {@code QUARKUS_DATASOURCE_JDBC_URL}), in which case that real server is used.
 *
 * <p>Tests that need to take the database away (readiness, recovery) call {@link #server()}.
 */
public class EmbeddedPostgresTestResource implements QuarkusTestResourceLifecycleManager {
    private static final AtomicInteger DATABASES = new AtomicInteger();
    private static EmbeddedDatabase server;

    public static synchronized EmbeddedDatabase server() {
        if (server == null) {
            server = EmbeddedDatabase.throwaway().start();
            Runtime.getRuntime().addShutdownHook(new Thread(server::close, "test-postgres-stop"));
        }
        return server;
    }

    @Override
    public Map<String, String> start() {
        if (System.getenv("QUARKUS_DATASOURCE_JDBC_URL") != null) {
            return Map.of();
        }
        EmbeddedDatabase db = server();
        String database = "test_" + DATABASES.incrementAndGet();
        db.createDatabase(database);
        return Map.of(
                "quarkus.datasource.jdbc.url", db.jdbcUrl(database),
                "quarkus.datasource.reactive.url", db.reactiveUrl(database),
                "quarkus.datasource.username", EmbeddedDatabase.USER,
                "quarkus.datasource.password", "");
    }

    @Override
    public void stop() {
        // the server lives for the whole test JVM; each application start gets its own database
    }
}
