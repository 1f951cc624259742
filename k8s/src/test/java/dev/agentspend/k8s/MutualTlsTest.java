package dev.agentspend.k8s;

import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.ListAgentsRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.PayRequest;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.grpc.ChannelCredentials;
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

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The chart's mutual TLS (tls.mutual), run for real: identity, the ledger and alerts start with
 * exactly the environment the chart renders from values/mutual-tls.yaml, with a locally issued CA
 * and certificate in place of the mounted Secret. Each serves gRPC on its own port and asks every
 * client for a certificate signed by the CA; the ledger's policy feed from identity and alerts'
 * feeds from the ledger and identity run over it, each client presenting the Secret's certificate.
 * A client without a certificate, or with one from another CA, is refused in the TLS handshake;
 * health and metrics still answer on the HTTPS port to a client without one (kubelet, Prometheus).
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class MutualTlsTest {
    static final String DATABASE = "agentspend_mtls";
    static final String ADMIN_TOKEN = ReplicasTest.randomToken();
    static final String SERVICE_TOKEN = ReplicasTest.randomToken();
    static final String TRUST_STORE_PASSWORD = ReplicasTest.randomToken();
    static final String CLIENT_STORE_PASSWORD = "client-store";
    static Path secret;
    static Path otherCa;
    static final Map<String, ServiceProcess> services = new HashMap<>();
    static final Map<String, Integer> grpcPorts = new HashMap<>();
    static HttpClient https;
    static ManagedChannel identityChannel;
    static ManagedChannel ledgerChannel;

    @BeforeAll
    static void startWithTheChartsMutualTlsEnvironment() throws Exception {
        secret = Files.createDirectories(Path.of("target/mtls-secret").toAbsolutePath());
        TlsTest.issueCertificates(secret);
        // what cert-manager writes with spec.keystores.pkcs12.create: the CA as a PKCS#12 trust store
        Files.deleteIfExists(secret.resolve("truststore.p12"));
        TlsTest.run(secret, "keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", "ca.crt",
                "-keystore", "truststore.p12", "-storetype", "PKCS12", "-storepass", TRUST_STORE_PASSWORD);
        otherCa = Files.createDirectories(Path.of("target/mtls-other-ca").toAbsolutePath());
        TlsTest.issueCertificates(otherCa);
        for (Path dir : List.of(secret, otherCa)) {
            TlsTest.run(dir, "openssl", "pkcs12", "-export", "-in", "tls.crt", "-inkey", "tls.key",
                    "-out", "client.p12", "-passout", "pass:" + CLIENT_STORE_PASSWORD);
        }

        List<HasMetadata> objects = KubernetesObjects.parse(Chart.render(t -> t.withValuesFile(
                Path.of("src/test/resources/values/mutual-tls.yaml").toAbsolutePath())));
        EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
        db.createDatabase(DATABASE);
        for (String s : List.of("identity", "ledger", "alerts")) {
            grpcPorts.put(s, ServiceProcess.freePort());
        }
        Map<String, String> local = Map.ofEntries(
                Map.entry("QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl(DATABASE)),
                Map.entry("QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl(DATABASE)),
                Map.entry("QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER),
                Map.entry("QUARKUS_DATASOURCE_PASSWORD", ""),
                Map.entry("AGENTSPEND_ADMIN_TOKEN", ADMIN_TOKEN),
                Map.entry("AGENTSPEND_SERVICE_TOKEN", SERVICE_TOKEN),
                Map.entry("QUARKUS_GRPC_SERVER_SSL_TRUST_STORE_PASSWORD", TRUST_STORE_PASSWORD),
                Map.entry("QUARKUS_GRPC_CLIENTS_IDENTITY_HOST", "localhost"),
                Map.entry("QUARKUS_GRPC_CLIENTS_IDENTITY_PORT", grpcPorts.get("identity").toString()),
                Map.entry("QUARKUS_GRPC_CLIENTS_LEDGER_HOST", "localhost"),
                Map.entry("QUARKUS_GRPC_CLIENTS_LEDGER_PORT", grpcPorts.get("ledger").toString()));
        Map<String, String> modules = Map.of("identity", "identity-service", "ledger", "ledger-service",
                "alerts", "alert-service");
        for (String s : List.of("identity", "ledger", "alerts")) {
            int httpPort = ServiceProcess.freePort();
            Map<String, String> env = TlsTest.environment(objects, "agentspend-" + s, secret, httpPort, local);
            assertEquals("9443", env.put("QUARKUS_GRPC_SERVER_PORT", grpcPorts.get(s).toString()), s + ": the chart's gRPC port");
            if (s.equals("alerts")) {
                env.put("AGENTSPEND_WEBHOOK_KEY", ReplicasTest.randomKey());
            }
            services.put(s, ServiceProcess.of(ReplicasTest.snapshot(modules.get(s)), httpPort, env).start());
        }

        https = HttpClient.newBuilder().sslContext(sslContext(null)).connectTimeout(Duration.ofSeconds(2)).build();
        for (ServiceProcess p : services.values()) {
            TlsTest.awaitReadyOverHttps(p, https);
        }
        identityChannel = channel(grpcPorts.get("identity"), secret);
        ledgerChannel = channel(grpcPorts.get("ledger"), secret);
    }

    @AfterAll
    static void stop() {
        for (ManagedChannel c : new ManagedChannel[] {identityChannel, ledgerChannel}) {
            if (c != null) {
                c.shutdownNow();
            }
        }
        for (String s : List.of("alerts", "ledger", "identity")) {
            if (services.get(s) != null) {
                services.get(s).stop();
            }
        }
    }

    @Test
    void theFeedsBetweenServicesRunOverMutualTls() throws Exception {
        CreateAgentResponse created = IdentityServiceGrpc.newBlockingStub(identityChannel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(ADMIN_TOKEN)))
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .createAgent(CreateAgentRequest.newBuilder().setRequestId("mtls-agent").setHandle("mtls-agent")
                        .setDisplayName("mutual TLS test agent").setMode(AgentMode.AGENT_MODE_PRODUCTION)
                        .setCurrencyCode("USD").setPolicy(SpendingPolicy.getDefaultInstance()).build());
        String agentId = created.getAgent().getId();
        String key = created.getApiKeySecret();
        // the ledger learns the agent only through identity's policy feed, its client presenting tls.crt
        ReplicasTest.awaitUntil(Duration.ofSeconds(30), "the ledger to learn the agent over mutual TLS", () -> {
            try {
                ledger(ledgerChannel, key).getBalance(GetBalanceRequest.getDefaultInstance());
                return true;
            } catch (StatusRuntimeException e) {
                // UNAVAILABLE: no policy snapshot yet; UNAUTHENTICATED: the snapshot lacks the agent yet
                if (e.getStatus().getCode() != Status.Code.UNAUTHENTICATED && e.getStatus().getCode() != Status.Code.UNAVAILABLE) {
                    throw e;
                }
                return false;
            }
        });
        ledger(ledgerChannel, ADMIN_TOKEN).credit(CreditRequest.newBuilder().setRequestId("mtls-credit").setAgentId(agentId)
                .setAmountMicros(1_000_000).setCurrencyCode("USD").setNote("mutual TLS test").build());
        Entry paid = ledger(ledgerChannel, key).pay(PayRequest.newBuilder().setRequestId("mtls-pay").setAmountMicros(250_000)
                .setCurrencyCode("USD").setTool("openai/chat.completions").build()).getEntry();
        assertEquals(Decision.DECISION_APPROVED, paid.getDecision());
        assertEquals(750_000, ledger(ledgerChannel, key).getBalance(GetBalanceRequest.getDefaultInstance()).getBalanceMicros());

        // alerts is ready once identity's policies arrived over mutual TLS, and evaluates the ledger's
        // entry feed over mutual TLS up to the payment
        ServiceProcess alerts = services.get("alerts");
        ReplicasTest.awaitUntil(Duration.ofSeconds(60), "alerts to evaluate the ledger feed up to position "
                + paid.getPosition() + " over mutual TLS; see " + alerts.logFile(), () -> {
            String ready = get(alerts, "/q/health/ready").body();
            var m = ReplicasTest.POSITION.matcher(ready);
            return m.find() && Long.parseLong(m.group(1)) >= paid.getPosition();
        });
    }

    @Test
    void aClientWithoutACertificateOrWithAnotherCasIsRefusedInTheHandshake() throws Exception {
        SSLContext noCertificate = sslContext(null);
        SSLContext otherCasCertificate = sslContext(otherCa);
        SSLContext ourCertificate = sslContext(secret);
        for (Map.Entry<String, Integer> port : grpcPorts.entrySet()) {
            String where = port.getKey() + "'s gRPC port";
            refusedInTheHandshake(noCertificate, port.getValue(), where + " without a client certificate");
            refusedInTheHandshake(otherCasCertificate, port.getValue(), where + " with another CA's certificate");
            // the control: with the CA's certificate the handshake completes and the server speaks
            // HTTP/2 first (its SETTINGS frame), so the same read gets a byte
            assertEquals(0, handshakeAndRead(ourCertificate, port.getValue()),
                    where + ": the first byte of the server's SETTINGS frame (a 24-bit length below 65536)");
        }

        // the same over gRPC, with valid tokens: refused before any RPC runs, nothing written
        int ledgerPort = grpcPorts.get("ledger");
        long before = balanceOfSomeAgent();
        for (Path client : new Path[] {null, otherCa}) {
            ManagedChannel refused = channel(ledgerPort, client);
            try {
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> ledger(refused, ADMIN_TOKEN)
                        .credit(CreditRequest.newBuilder().setRequestId("refused-" + (client == null ? "none" : "other"))
                                .setAgentId(agentIdOfSomeAgent()).setAmountMicros(1_000_000).setCurrencyCode("USD")
                                .setNote("must not land").build()));
                assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
            } finally {
                refused.shutdownNow();
            }
        }
        assertEquals(before, balanceOfSomeAgent(), "a refused client changed a balance");
        System.out.println("MutualTlsTest: handshake refusals seen: " + refusals);
    }

    @Test
    void healthAndMetricsAnswerWithoutAClientCertificateAndGrpcIsNotOnTheHttpsPort() throws Exception {
        for (ServiceProcess p : services.values()) {
            for (String path : List.of("/q/health/started", "/q/health/live", "/q/health/ready")) {
                HttpResponse<String> r = get(p, path);
                assertEquals(200, r.statusCode(), p.logFile() + " " + path + ": " + r.body());
            }
            HttpResponse<String> metrics = get(p, "/q/metrics");
            assertEquals(200, metrics.statusCode());
            assertTrue(metrics.body().contains("jvm_"), "a scrape without a client certificate");
        }

        // the HTTPS port serves no gRPC, so it is no way around the client certificate: the same
        // admin calls that the gRPC ports answer find nothing there (HTTP 404, UNIMPLEMENTED)
        GetBalanceRequest balance = GetBalanceRequest.newBuilder().setAgentId(agentIdOfSomeAgent()).build();
        ledger(ledgerChannel, ADMIN_TOKEN).getBalance(balance);
        identity(identityChannel).listAgents(ListAgentsRequest.getDefaultInstance());
        ManagedChannel ledgerHttps = channel(services.get("ledger").httpPort(), secret);
        ManagedChannel identityHttps = channel(services.get("identity").httpPort(), secret);
        try {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> ledger(ledgerHttps, ADMIN_TOKEN).getBalance(balance));
            assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode(), e.toString());
            e = assertThrows(StatusRuntimeException.class,
                    () -> identity(identityHttps).listAgents(ListAgentsRequest.getDefaultInstance()));
            assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode(), e.toString());
        } finally {
            ledgerHttps.shutdownNow();
            identityHttps.shutdownNow();
        }
    }

    // --- helpers

    static String someAgentId;

    /** An agent of its own with a credit, for the refusal test, which must not depend on test order. */
    static synchronized String agentIdOfSomeAgent() {
        if (someAgentId == null) {
            someAgentId = IdentityServiceGrpc.newBlockingStub(identityChannel)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(ADMIN_TOKEN)))
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .createAgent(CreateAgentRequest.newBuilder().setRequestId("mtls-other").setHandle("mtls-other")
                            .setDisplayName("refusal test agent").setMode(AgentMode.AGENT_MODE_PRODUCTION)
                            .setCurrencyCode("USD").setPolicy(SpendingPolicy.getDefaultInstance()).build())
                    .getAgent().getId();
            String id = someAgentId;
            ReplicasTest.awaitUntil(Duration.ofSeconds(30), "the ledger to credit the new agent", () -> {
                try {
                    ledger(ledgerChannel, ADMIN_TOKEN).credit(CreditRequest.newBuilder().setRequestId("mtls-other-credit")
                            .setAgentId(id).setAmountMicros(500_000).setCurrencyCode("USD").setNote("mutual TLS test").build());
                    return true;
                } catch (StatusRuntimeException e) {
                    // the ledger has not learnt the agent from identity's feed yet
                    return false;
                }
            });
        }
        return someAgentId;
    }

    static long balanceOfSomeAgent() {
        return ledger(ledgerChannel, ADMIN_TOKEN).getBalance(GetBalanceRequest.newBuilder()
                .setAgentId(agentIdOfSomeAgent()).build()).getBalanceMicros();
    }

    /**
     * The server ends the connection during the handshake: its alert surfaces as an SSLException,
     * or, when it closed before the client's last handshake bytes went out, as a broken pipe or a
     * reset. Never a byte of the server's HTTP/2 preface, which is what an accepted client reads.
     */
    static void refusedInTheHandshake(SSLContext context, int port, String what) {
        IOException e = assertThrows(IOException.class, () -> handshakeAndRead(context, port), what + ": accepted");
        assertFalse(e instanceof SocketTimeoutException, what + ": the server kept the connection open");
        if (e instanceof SSLException) {
            assertTrue(e.getMessage().contains("certificate") || e.getMessage().contains("unknown_ca"), what + ": " + e);
        }
        refusals.merge(e.getClass().getSimpleName() + ": " + e.getMessage(), 1, Integer::sum);
    }

    static final Map<String, Integer> refusals = new java.util.concurrent.ConcurrentHashMap<>();

    /** Opens TLS to a port (ALPN h2, as gRPC does) and reads: the server's refusal arrives as an alert. */
    static int handshakeAndRead(SSLContext context, int port) throws IOException {
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("localhost", port)) {
            socket.setSoTimeout(2_000);
            SSLParameters parameters = socket.getSSLParameters();
            parameters.setApplicationProtocols(new String[] {"h2"});
            socket.setSSLParameters(parameters);
            socket.startHandshake();
            // TLS 1.3: the server checks the client's certificate after the client's handshake ends
            return socket.getInputStream().read();
        }
    }

    /** Trusts the Secret's CA; presents {@code clientDir}'s client.p12 when not null. */
    static SSLContext sslContext(Path clientDir) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(secret.resolve("ca.crt"))) {
            trust.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        KeyManager[] keys = null;
        if (clientDir != null) {
            KeyStore client = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(clientDir.resolve("client.p12"))) {
                client.load(in, CLIENT_STORE_PASSWORD.toCharArray());
            }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(client, CLIENT_STORE_PASSWORD.toCharArray());
            keys = kmf.getKeyManagers();
        }
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(keys, tmf.getTrustManagers(), null);
        return ssl;
    }

    /** A gRPC channel trusting the Secret's CA, presenting {@code clientDir}'s tls.crt/tls.key when not null. */
    static ManagedChannel channel(int port, Path clientDir) throws IOException {
        TlsChannelCredentials.Builder credentials = TlsChannelCredentials.newBuilder()
                .trustManager(secret.resolve("ca.crt").toFile());
        if (clientDir != null) {
            credentials.keyManager(clientDir.resolve("tls.crt").toFile(), clientDir.resolve("tls.key").toFile());
        }
        ChannelCredentials built = credentials.build();
        return Grpc.newChannelBuilderForAddress("localhost", port, built).build();
    }

    static IdentityServiceGrpc.IdentityServiceBlockingStub identity(ManagedChannel channel) {
        return IdentityServiceGrpc.newBlockingStub(channel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(ADMIN_TOKEN)))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    static LedgerServiceGrpc.LedgerServiceBlockingStub ledger(ManagedChannel channel, String token) {
        return LedgerServiceGrpc.newBlockingStub(channel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(token)))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    static HttpResponse<String> get(ServiceProcess p, String path) {
        try {
            return https.send(HttpRequest.newBuilder(URI.create("https://localhost:" + p.httpPort() + path))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
