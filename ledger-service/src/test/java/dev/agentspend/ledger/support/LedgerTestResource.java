package dev.agentspend.ledger.support;

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
import java.util.stream.Stream;
import java.util.Map;

/**
 * Starts what the ledger's tests need around it: the embedded PostgreSQL (a database for the
 * ledger, one for identity) and the real identity service as its own process on port 19081;
 * returns the ledger's configuration pointing at both.
 */
public class LedgerTestResource implements QuarkusTestResourceLifecycleManager {
    public static final int IDENTITY_PORT = 19081;
    public static final String LEDGER_DB = "ledger_test";
    public static final String IDENTITY_DB = "identity_for_ledger";
    public static final String ADMIN_TOKEN = "test-admin-token";
    public static final String SERVICE_TOKEN = "test-service-token";
    /** The staleness bound the ledger runs with in these tests (identity heartbeats every 2 s). */
    public static final Duration STALENESS = Duration.ofSeconds(5);

    private static ServiceProcess identity;

    public static synchronized ServiceProcess identity() {
        return identity;
    }

    public static EmbeddedDatabase database() {
        return EmbeddedPostgresTestResource.server();
    }

    @Override
    public Map<String, String> start() {
        EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
        db.createDatabase(LEDGER_DB);
        db.createDatabase(IDENTITY_DB);
        synchronized (LedgerTestResource.class) {
            identity = ServiceProcess.of(snapshotOfIdentity(), IDENTITY_PORT, Map.of(
                    "QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl(IDENTITY_DB),
                    "QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl(IDENTITY_DB),
                    "QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER,
                    "QUARKUS_DATASOURCE_PASSWORD", "",
                    "AGENTSPEND_ADMIN_TOKEN", ADMIN_TOKEN,
                    "AGENTSPEND_SERVICE_TOKEN", SERVICE_TOKEN)).start().awaitReady(Duration.ofSeconds(60));
        }
        return Map.ofEntries(
                Map.entry("quarkus.datasource.jdbc.url", db.jdbcUrl(LEDGER_DB)),
                Map.entry("quarkus.datasource.reactive.url", db.reactiveUrl(LEDGER_DB)),
                Map.entry("quarkus.datasource.username", EmbeddedDatabase.USER),
                Map.entry("quarkus.datasource.password", ""),
                Map.entry("quarkus.grpc.clients.identity.host", "localhost"),
                Map.entry("quarkus.grpc.clients.identity.port", Integer.toString(IDENTITY_PORT)),
                Map.entry("quarkus.grpc.clients.identity.test-port", Integer.toString(IDENTITY_PORT)),
                Map.entry("agentspend.auth.admin-token", ADMIN_TOKEN),
                Map.entry("agentspend.auth.service-token", SERVICE_TOKEN),
                Map.entry("agentspend.ledger.policy-staleness", STALENESS.toMillis() + "ms"),
                Map.entry("agentspend.ledger.policy-reconnect-max-backoff", "1s"),
                Map.entry("agentspend.ledger.hold-sweep-interval", "200ms"));
    }

    /**
     * Copies identity's built application into this module's target folder and runs the copy, so
     * that a rebuild of identity-service while these tests run (other builds share the checkout)
     * cannot pull the jars from under the running process. Returns the copy's module path for
     * {@link ServiceProcess#of}.
     */
    private static String snapshotOfIdentity() {
        Path root = ServiceProcess.repositoryRoot();
        Path source = root.resolve("identity-service/target/quarkus-app");
        String module = "ledger-service/target/identity-snapshot";
        Path target = root.resolve(module).resolve("target/quarkus-app");
        if (!Files.isRegularFile(source.resolve("quarkus-run.jar"))) {
            throw new IllegalStateException(source + " is missing: build identity-service first "
                    + "(mvn -B -q install -pl identity-service -DskipTests)");
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
            throw new IllegalStateException("could not copy identity-service's application: " + e.getMessage(), e);
        }
        return module;
    }

    @Override
    public void stop() {
        synchronized (LedgerTestResource.class) {
            if (identity != null) {
                identity.stop();
                identity = null;
            }
        }
    }
}
