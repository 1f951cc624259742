package dev.agentspend.alerts.support;

import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.platform.ServiceProcess;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The real platform around the alert service under test: one embedded PostgreSQL with a database
 * each for identity, the ledger and alerts, and identity and the ledger running as their own
 * processes (their built jars) on free ports. Returns the alert service's configuration,
 * including {@code test-port} for its gRPC clients (in test mode Quarkus otherwise aims them at
 * the application itself) and the ports tests use to call identity and the ledger.
 */
public class Platform implements QuarkusTestResourceLifecycleManager {
    public static final String ADMIN = "test-admin-token";
    public static final String SERVICE = "test-service-token";
    private static final AtomicInteger STARTS = new AtomicInteger();

    private ServiceProcess identity;
    private ServiceProcess ledger;

    @Override
    public Map<String, String> start() {
        EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
        int n = STARTS.incrementAndGet();
        String identityDb = "alerts_it_identity_" + n, ledgerDb = "alerts_it_ledger_" + n, alertsDb = "alerts_it_alerts_" + n;
        db.createDatabase(identityDb);
        db.createDatabase(ledgerDb);
        db.createDatabase(alertsDb);

        int identityPort = ServiceProcess.freePort();
        identity = ServiceProcess.of("identity-service", identityPort, env(db, identityDb, Map.of())).start();
        identity.awaitReady(Duration.ofSeconds(60));

        int ledgerPort = ServiceProcess.freePort();
        ledger = ServiceProcess.of("ledger-service", ledgerPort, env(db, ledgerDb, Map.of(
                "QUARKUS_GRPC_CLIENTS_IDENTITY_HOST", "localhost",
                "QUARKUS_GRPC_CLIENTS_IDENTITY_PORT", Integer.toString(identityPort),
                "AGENTSPEND_IDENTITY_HOST", "localhost",
                "AGENTSPEND_IDENTITY_PORT", Integer.toString(identityPort)))).start();
        ledger.awaitReady(Duration.ofSeconds(60));

        Map<String, String> config = new HashMap<>();
        config.put("quarkus.datasource.jdbc.url", db.jdbcUrl(alertsDb));
        config.put("quarkus.datasource.reactive.url", db.reactiveUrl(alertsDb));
        config.put("quarkus.datasource.username", EmbeddedDatabase.USER);
        config.put("quarkus.datasource.password", "");
        for (String client : new String[]{"identity", "ledger"}) {
            int port = client.equals("identity") ? identityPort : ledgerPort;
            config.put("quarkus.grpc.clients." + client + ".host", "localhost");
            config.put("quarkus.grpc.clients." + client + ".port", Integer.toString(port));
            config.put("quarkus.grpc.clients." + client + ".test-port", Integer.toString(port));
        }
        config.put("test.identity.port", Integer.toString(identityPort));
        config.put("test.ledger.port", Integer.toString(ledgerPort));
        return config;
    }

    private static Map<String, String> env(EmbeddedDatabase db, String database, Map<String, String> extra) {
        Map<String, String> env = new HashMap<>(extra);
        env.put("QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl(database));
        env.put("QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl(database));
        env.put("QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER);
        env.put("QUARKUS_DATASOURCE_PASSWORD", "");
        env.put("AGENTSPEND_ADMIN_TOKEN", ADMIN);
        env.put("AGENTSPEND_SERVICE_TOKEN", SERVICE);
        return env;
    }

    @Override
    public void stop() {
        if (ledger != null) {
            ledger.stop();
        }
        if (identity != null) {
            identity.stop();
        }
    }
}
