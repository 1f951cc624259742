package dev.agentspend.analytics.support;

import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.platform.ServiceProcess;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What analytics' tests run against: an embedded PostgreSQL with a database each for identity,
 * the ledger and analytics, and the REAL identity and ledger services as their own processes on
 * free ports (the ledger following identity's policy feed). Returns analytics' configuration aimed
 * at both (port AND test-port: in test mode a client otherwise calls the application itself).
 */
public class AnalyticsTestResource implements QuarkusTestResourceLifecycleManager {
    public static final String ADMIN_TOKEN = "test-admin-token";
    public static final String SERVICE_TOKEN = "test-service-token";
    private static final Duration READY = Duration.ofSeconds(90);

    private static ServiceProcess identity;
    private static ServiceProcess ledger;
    private static String analyticsDatabase;

    public static synchronized int identityPort() {
        return identity.httpPort();
    }

    public static synchronized int ledgerPort() {
        return ledger.httpPort();
    }

    /** JDBC URL of analytics' own database, for tests that compare the stored aggregates. */
    public static String analyticsJdbcUrl() {
        return EmbeddedPostgresTestResource.server().jdbcUrl(analyticsDatabase);
    }

    @Override
    public Map<String, String> start() {
        EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
        long run = System.nanoTime() % 1_000_000;
        String identityDb = "identity_for_analytics_" + run;
        String ledgerDb = "ledger_for_analytics_" + run;
        analyticsDatabase = "analytics_test_" + run;
        db.createDatabase(identityDb);
        db.createDatabase(ledgerDb);
        db.createDatabase(analyticsDatabase);
        synchronized (AnalyticsTestResource.class) {
            identity = ServiceProcess.of(snapshot("identity-service"), ServiceProcess.freePort(),
                    env(db, identityDb, Map.of())).start();
            identity.awaitReady(READY);
            ledger = ServiceProcess.of(snapshot("ledger-service"), ServiceProcess.freePort(), env(db, ledgerDb, Map.of(
                    "QUARKUS_GRPC_CLIENTS_IDENTITY_HOST", "localhost",
                    "QUARKUS_GRPC_CLIENTS_IDENTITY_PORT", Integer.toString(identity.httpPort()),
                    "AGENTSPEND_IDENTITY_HOST", "localhost",
                    "AGENTSPEND_IDENTITY_PORT", Integer.toString(identity.httpPort())))).start();
            ledger.awaitReady(READY);
        }
        return Map.ofEntries(
                Map.entry("quarkus.datasource.jdbc.url", db.jdbcUrl(analyticsDatabase)),
                Map.entry("quarkus.datasource.reactive.url", db.reactiveUrl(analyticsDatabase)),
                Map.entry("quarkus.datasource.username", EmbeddedDatabase.USER),
                Map.entry("quarkus.datasource.password", ""),
                Map.entry("quarkus.grpc.clients.ledger.host", "localhost"),
                Map.entry("quarkus.grpc.clients.ledger.port", Integer.toString(ledger.httpPort())),
                Map.entry("quarkus.grpc.clients.ledger.test-port", Integer.toString(ledger.httpPort())),
                Map.entry("quarkus.grpc.clients.identity.host", "localhost"),
                Map.entry("quarkus.grpc.clients.identity.port", Integer.toString(identity.httpPort())),
                Map.entry("quarkus.grpc.clients.identity.test-port", Integer.toString(identity.httpPort())),
                Map.entry("agentspend.auth.admin-token", ADMIN_TOKEN),
                Map.entry("agentspend.auth.service-token", SERVICE_TOKEN),
                Map.entry("agentspend.analytics.ingest.batch-size", "100"),
                Map.entry("agentspend.analytics.ingest.batch-wait", "50ms"),
                Map.entry("agentspend.analytics.ingest.min-backoff", "50ms"),
                Map.entry("agentspend.analytics.ingest.max-backoff", "1s"),
                Map.entry("agentspend.analytics.ingest.lock-retry", "100ms"),
                Map.entry("agentspend.analytics.metrics.refresh", "500ms"),
                Map.entry("agentspend.analytics.metrics.top-agents", "3"),
                Map.entry("agentspend.dashboard.alerts-url", "http://alerts.test:8084/"));
    }

    private static Map<String, String> env(EmbeddedDatabase db, String database, Map<String, String> extra) {
        java.util.HashMap<String, String> env = new java.util.HashMap<>(Map.of(
                "QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl(database),
                "QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl(database),
                "QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER,
                "QUARKUS_DATASOURCE_PASSWORD", "",
                "AGENTSPEND_ADMIN_TOKEN", ADMIN_TOKEN,
                "AGENTSPEND_SERVICE_TOKEN", SERVICE_TOKEN));
        env.putAll(extra);
        return env;
    }

    /**
     * Copies a service's built application into this module's target folder and runs the copy,
     * so that a rebuild of that module while these tests run (others build in the same checkout)
     * cannot pull the jars from under the running process.
     */
    private static String snapshot(String module) {
        Path root = ServiceProcess.repositoryRoot();
        Path source = root.resolve(module).resolve("target/quarkus-app");
        String copy = "analytics-service/target/" + module + "-snapshot";
        Path target = root.resolve(copy).resolve("target/quarkus-app");
        if (!Files.isRegularFile(source.resolve("quarkus-run.jar"))) {
            throw new IllegalStateException(source + " is missing: build it first "
                    + "(mvn -B -q install -pl identity-service,ledger-service -DskipTests)");
        }
        try {
            if (Files.exists(target)) {
                try (Stream<Path> old = Files.walk(target)) {
                    old.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
            try (Stream<Path> files = Files.walk(source)) {
                for (Path p : (Iterable<Path>) files::iterator) {
                    Path to = target.resolve(source.relativize(p).toString());
                    if (Files.isDirectory(p)) {
                        Files.createDirectories(to);
                    } else {
                        Files.copy(p, to, StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("could not copy " + module + "'s application: " + e.getMessage(), e);
        }
        return copy;
    }

    @Override
    public void stop() {
        synchronized (AnalyticsTestResource.class) {
            if (ledger != null) {
                ledger.stop();
                ledger = null;
            }
            if (identity != null) {
                identity.stop();
                identity = null;
            }
        }
    }
}
