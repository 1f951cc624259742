package dev.agentspend.k8s;

import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.platform.ServiceProcess;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A ledger started while identity cannot be reached is alive but not ready (it could only refuse
 * every agent's call), and becomes ready once identity comes up and its first policy snapshot
 * arrives: what lets a rollout keep the pods that have policies when new ones cannot get them.
 */
class LedgerReadinessTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void aLedgerIsReadyOnlyOnceItHoldsIdentitysPolicies() throws Exception {
        EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
        db.createDatabase("agentspend_readiness");
        Map<String, String> env = new HashMap<>(Map.of(
                "QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl("agentspend_readiness"),
                "QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl("agentspend_readiness"),
                "QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER,
                "QUARKUS_DATASOURCE_PASSWORD", "",
                "AGENTSPEND_ADMIN_TOKEN", ReplicasTest.randomToken(),
                "AGENTSPEND_SERVICE_TOKEN", ReplicasTest.randomToken()));
        int identityPort = ServiceProcess.freePort();
        Map<String, String> ledgerEnv = new HashMap<>(env);
        ledgerEnv.put("QUARKUS_GRPC_CLIENTS_IDENTITY_HOST", "localhost");
        ledgerEnv.put("QUARKUS_GRPC_CLIENTS_IDENTITY_PORT", Integer.toString(identityPort));
        ServiceProcess ledger = ServiceProcess.of(ReplicasTest.snapshot("ledger-service"), ServiceProcess.freePort(), ledgerEnv);
        ServiceProcess identity = null;
        try {
            ledger.start();
            awaitStatus(ledger, "/q/health/live", 200, Duration.ofSeconds(180));
            HttpResponse<String> notReady = get(ledger, "/q/health/ready");
            assertEquals(503, notReady.statusCode(), notReady.body());
            assertTrue(notReady.body().matches("(?s).*\"name\"\\s*:\\s*\"policy-snapshot\",\\s*\"status\"\\s*:\\s*\"DOWN\".*"),
                    notReady.body());

            identity = ServiceProcess.of(ReplicasTest.snapshot("identity-service"), identityPort, env).start()
                    .awaitReady(Duration.ofSeconds(180));
            // the ledger's feed reconnects with a backoff of at most 5 s
            ledger.awaitReady(Duration.ofSeconds(60));
        } finally {
            ledger.stop();
            if (identity != null) {
                identity.stop();
            }
        }
    }

    private static void awaitStatus(ServiceProcess p, String path, int status, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                if (get(p, path).statusCode() == status) {
                    return;
                }
            } catch (java.io.IOException notYet) {
                // not listening yet
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(path + " did not answer " + status + " within " + timeout);
            }
            Thread.sleep(200);
        }
    }

    private static HttpResponse<String> get(ServiceProcess p, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + p.httpPort() + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
