package dev.agentspend.k8s;

import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.PayRequest;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The chart's TLS settings, run for real: identity and the ledger start with exactly the
 * environment the chart renders with tls.enabled (certificate paths pointed at a local copy of
 * the mounted Secret), serve HTTPS and gRPC over TLS on their one port and nothing in plain text,
 * and the ledger reaches identity's policy feed over TLS trusting the Secret's ca.crt.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class TlsTest {
    static final String DATABASE = "agentspend_tls";
    static final String ADMIN_TOKEN = ReplicasTest.randomToken();
    static final String SERVICE_TOKEN = ReplicasTest.randomToken();
    static Path secret;
    static ServiceProcess identity;
    static ServiceProcess ledger;
    static HttpClient https;
    static ManagedChannel identityChannel;
    static ManagedChannel ledgerChannel;

    @BeforeAll
    static void startWithTheChartsTlsEnvironment() throws Exception {
        secret = Files.createDirectories(Path.of("target/tls-secret").toAbsolutePath());
        issueCertificates(secret);
        List<HasMetadata> objects = KubernetesObjects.parse(Chart.render(t -> t.withValuesFile(
                Path.of("src/test/resources/values/tls.yaml").toAbsolutePath())));
        EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
        db.createDatabase(DATABASE);
        int identityPort = ServiceProcess.freePort();
        int ledgerPort = ServiceProcess.freePort();
        Map<String, String> local = Map.of(
                "QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl(DATABASE),
                "QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl(DATABASE),
                "QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER,
                "QUARKUS_DATASOURCE_PASSWORD", "",
                "AGENTSPEND_ADMIN_TOKEN", ADMIN_TOKEN,
                "AGENTSPEND_SERVICE_TOKEN", SERVICE_TOKEN,
                "QUARKUS_GRPC_CLIENTS_IDENTITY_HOST", "localhost",
                "QUARKUS_GRPC_CLIENTS_IDENTITY_PORT", Integer.toString(identityPort));
        identity = ServiceProcess.of(ReplicasTest.snapshot("identity-service"), identityPort,
                environment(objects, "agentspend-identity", identityPort, local)).start();
        ledger = ServiceProcess.of(ReplicasTest.snapshot("ledger-service"), ledgerPort,
                environment(objects, "agentspend-ledger", ledgerPort, local)).start();

        SSLContext ssl = SSLContext.getInstance("TLS");
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(secret.resolve("ca.crt"))) {
            trust.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        tmf.init(trust);
        ssl.init(null, tmf.getTrustManagers(), null);
        https = HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(2)).build();
        awaitReadyOverHttps(identity);
        awaitReadyOverHttps(ledger);
        TlsChannelCredentials.Builder credentials = TlsChannelCredentials.newBuilder();
        credentials.trustManager(secret.resolve("ca.crt").toFile());
        identityChannel = Grpc.newChannelBuilderForAddress("localhost", identityPort, credentials.build()).build();
        ledgerChannel = Grpc.newChannelBuilderForAddress("localhost", ledgerPort, credentials.build()).build();
    }

    @AfterAll
    static void stop() {
        for (ManagedChannel c : new ManagedChannel[] {identityChannel, ledgerChannel}) {
            if (c != null) {
                c.shutdownNow();
            }
        }
        for (ServiceProcess p : new ServiceProcess[] {ledger, identity}) {
            if (p != null) {
                p.stop();
            }
        }
    }

    /**
     * The container environment the chart renders for a Deployment, with what only a cluster
     * provides replaced: Secret values, the database, the Secret mount path, the peers' addresses.
     */
    static Map<String, String> environment(List<HasMetadata> objects, String deployment, int port,
                                           Map<String, String> local) {
        return environment(objects, deployment, secret, port, local);
    }

    /** As above, with the Secret's files in {@code secretDir}. */
    static Map<String, String> environment(List<HasMetadata> objects, String deployment, Path secretDir, int port,
                                           Map<String, String> local) {
        Deployment d = KubernetesObjects.ofKind(objects, Deployment.class).stream()
                .filter(x -> x.getMetadata().getName().equals(deployment)).findFirst().orElseThrow();
        Map<String, String> env = new HashMap<>();
        for (EnvVar e : d.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv()) {
            if (e.getValue() != null) {
                env.put(e.getName(), e.getValue().replace("/etc/agentspend/tls", secretDir.toString()));
            }
        }
        assertEquals(env.get("QUARKUS_HTTP_PORT"), env.get("QUARKUS_HTTP_SSL_PORT"), "one port, HTTPS on it");
        env.put("QUARKUS_HTTP_PORT", Integer.toString(port));
        env.put("QUARKUS_HTTP_SSL_PORT", Integer.toString(port));
        env.remove("QUARKUS_DATASOURCE_REACTIVE_TRUST_ALL");
        for (Map.Entry<String, String> e : local.entrySet()) {
            if (env.containsKey(e.getKey()) || !e.getKey().startsWith("QUARKUS_GRPC_CLIENTS_")) {
                env.put(e.getKey(), e.getValue());
            }
        }
        return env;
    }

    static void awaitReadyOverHttps(ServiceProcess p) {
        awaitReadyOverHttps(p, https);
    }

    /** Waits until {@code p} answers /q/health/ready with 200 over HTTPS through {@code https}. */
    static void awaitReadyOverHttps(ServiceProcess p, HttpClient https) {
        HttpRequest ready = HttpRequest.newBuilder(URI.create("https://localhost:" + p.httpPort() + "/q/health/ready"))
                .timeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new AssertionError("the service exited; see " + p.logFile());
            }
            try {
                if (https.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
        throw new AssertionError("not ready over HTTPS within 180 s; see " + p.logFile());
    }

    @Test
    void httpsAndGrpcOverTlsOnOnePortAndNoPlainText() throws Exception {
        for (ServiceProcess p : List.of(identity, ledger)) {
            for (String probe : List.of("/q/health/started", "/q/health/live", "/q/health/ready")) {
                HttpResponse<String> r = https.send(HttpRequest.newBuilder(URI.create("https://localhost:" + p.httpPort() + probe))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), probe + " over HTTPS: " + r.body());
            }
            HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
            assertThrows(IOException.class, () -> plain.send(HttpRequest.newBuilder(
                    URI.create("http://localhost:" + p.httpPort() + "/q/health/ready")).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.discarding()), "plain HTTP must not be served");
        }

        // identity over TLS; the ledger learns the agent from identity's feed over TLS (ca.crt)
        CreateAgentResponse created = IdentityServiceGrpc.newBlockingStub(identityChannel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(ADMIN_TOKEN)))
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .createAgent(CreateAgentRequest.newBuilder().setRequestId("tls-agent").setHandle("tls-agent")
                        .setDisplayName("TLS test agent").setMode(AgentMode.AGENT_MODE_PRODUCTION).setCurrencyCode("USD")
                        .setPolicy(SpendingPolicy.getDefaultInstance()).build());
        String agentId = created.getAgent().getId();
        String key = created.getApiKeySecret();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                ledger(key).getBalance(GetBalanceRequest.getDefaultInstance());
                break;
            } catch (StatusRuntimeException e) {
                // UNAVAILABLE: the ledger is up but its first policy snapshot has not arrived yet (it
                // started before identity listened and is backing off); UNAUTHENTICATED: the snapshot
                // is in but not yet this agent
                boolean notYet = e.getStatus().getCode() == Status.Code.UNAUTHENTICATED
                        || e.getStatus().getCode() == Status.Code.UNAVAILABLE;
                if (!notYet || System.nanoTime() > deadline) {
                    throw new AssertionError("the ledger did not learn the agent over TLS; see " + ledger.logFile(), e);
                }
            }
            Thread.sleep(100);
        }
        ledger(ADMIN_TOKEN).credit(CreditRequest.newBuilder().setRequestId("tls-credit").setAgentId(agentId)
                .setAmountMicros(1_000_000).setCurrencyCode("USD").setNote("TLS test").build());
        Entry paid = ledger(key).pay(PayRequest.newBuilder().setRequestId("tls-pay").setAmountMicros(250_000)
                .setCurrencyCode("USD").setTool("openai/chat.completions").build()).getEntry();
        assertEquals(Decision.DECISION_APPROVED, paid.getDecision());

        HttpResponse<String> metrics = https.send(HttpRequest.newBuilder(URI.create("https://localhost:" + ledger.httpPort()
                + "/q/metrics")).timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, metrics.statusCode());
        assertTrue(metrics.body().contains("agentspend_ledger_authorizations_total{"), "scrape over HTTPS");
    }

    static LedgerServiceGrpc.LedgerServiceBlockingStub ledger(String token) {
        return LedgerServiceGrpc.newBlockingStub(ledgerChannel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(token)))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    /** What cert-manager would put in the Secret: ca.crt, and tls.crt/tls.key for localhost. */
    static void issueCertificates(Path dir) throws IOException, InterruptedException {
        Files.writeString(dir.resolve("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        run(dir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                "-days", "2", "-subj", "/CN=agentspend-test-ca");
        run(dir, "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.csr",
                "-subj", "/CN=localhost");
        run(dir, "openssl", "x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "tls.crt", "-days", "2", "-extfile", "san.ext");
    }

    static void run(Path dir, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("openssl.log").toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + " failed; see " + dir.resolve("openssl.log"));
        }
    }
}
