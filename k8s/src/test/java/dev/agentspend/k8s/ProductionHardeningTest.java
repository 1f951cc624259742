package dev.agentspend.k8s;

import com.sun.net.httpserver.HttpServer;
import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.alerts.v1.AlertServiceGrpc;
import dev.agentspend.proto.alerts.v1.ConfigScope;
import dev.agentspend.proto.alerts.v1.CreateWebhookRequest;
import dev.agentspend.proto.alerts.v1.CreateWebhookResponse;
import dev.agentspend.proto.alerts.v1.ListAlertsRequest;
import dev.agentspend.proto.alerts.v1.Rule;
import dev.agentspend.proto.alerts.v1.RuleAction;
import dev.agentspend.proto.alerts.v1.RuleConfig;
import dev.agentspend.proto.alerts.v1.SetRuleConfigRequest;
import dev.agentspend.proto.alerts.v1.WebhookFormat;
import dev.agentspend.proto.analytics.v1.AnalyticsServiceGrpc;
import dev.agentspend.proto.analytics.v1.GetFleetOverviewRequest;
import dev.agentspend.proto.analytics.v1.GetIngestionStatusRequest;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.AgentStatus;
import dev.agentspend.proto.identity.v1.AuthenticateRequest;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import dev.agentspend.proto.identity.v1.CreateApiKeyRequest;
import dev.agentspend.proto.identity.v1.CreateApiKeyResponse;
import dev.agentspend.proto.identity.v1.GetAgentRequest;
import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.ListAgentsRequest;
import dev.agentspend.proto.identity.v1.RevokeApiKeyRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WatchPoliciesRequest;
import dev.agentspend.proto.identity.v1.WatchPoliciesResponse;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import dev.agentspend.proto.ledger.v1.HoldRequest;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.PayAgentRequest;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import dev.agentspend.proto.ledger.v1.CaptureRequest;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The four services run as in production (their built jars, prod profile, one PostgreSQL):
 *
 * <ul>
 * <li>gRPC server reflection is off: a reflection request (v1 and v1alpha, with and without the
 * admin token) gets UNIMPLEMENTED from every service. A fifth process, identity with
 * {@code QUARKUS_GRPC_SERVER_ENABLE_REFLECTION_SERVICE=true}, answers the same request, so the
 * probe would see reflection if it were on.</li>
 * <li>No secret reaches a log: a representative run (agents and keys created, rotated and revoked,
 * payments, holds, agent payments, authentications, a signed webhook delivered, an alert that
 * suspends its agent through identity with the service token, analytics reads) with failed
 * authentications (forged secrets, unknown keys, wrong tokens) on every service, the application's
 * categories (and io.grpc's) at DEBUG; then each service's captured stdout/stderr is searched for every key
 * secret, the admin and service tokens, the webhook encryption key, the webhook signing secret and
 * every wrong credential tried.</li>
 * </ul>
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ProductionHardeningTest {
    static final String DATABASE = "agentspend_hardening";
    static final String ADMIN_TOKEN = ReplicasTest.randomToken();
    static final String SERVICE_TOKEN = ReplicasTest.randomToken();
    static final String WEBHOOK_KEY;

    static {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        WEBHOOK_KEY = Base64.getEncoder().encodeToString(key);
    }

    static final Map<String, ServiceProcess> services = new LinkedHashMap<>();
    static final Map<String, ManagedChannel> channels = new LinkedHashMap<>();
    static ServiceProcess identityWithReflection;
    /** What every service above was started with: the database, credentials and peers. */
    static Map<String, String> productionEnv;
    static ManagedChannel reflectionControl;

    @BeforeAll
    static void startAsInProduction() throws Exception {
        EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
        db.createDatabase(DATABASE);
        Map<String, String> common = new HashMap<>(Map.of(
                "QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl(DATABASE),
                "QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl(DATABASE),
                "QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER,
                "QUARKUS_DATASOURCE_PASSWORD", "",
                "AGENTSPEND_ADMIN_TOKEN", ADMIN_TOKEN,
                "AGENTSPEND_SERVICE_TOKEN", SERVICE_TOKEN,
                "AGENTSPEND_WEBHOOK_KEY", WEBHOOK_KEY,
                // the application's own categories at their most verbose
                "QUARKUS_LOG_CATEGORY__DEV_AGENTSPEND__LEVEL", "DEBUG"));
        // every process starts at once (the ledger, analytics and alerts retry their feeds until
        // identity and the ledger answer), then each must become ready
        int identityPort = ServiceProcess.freePort();
        int ledgerPort = ServiceProcess.freePort();
        common.put("QUARKUS_GRPC_CLIENTS_IDENTITY_HOST", "localhost");
        common.put("QUARKUS_GRPC_CLIENTS_IDENTITY_PORT", Integer.toString(identityPort));
        common.put("QUARKUS_GRPC_CLIENTS_LEDGER_HOST", "localhost");
        common.put("QUARKUS_GRPC_CLIENTS_LEDGER_PORT", Integer.toString(ledgerPort));
        // gRPC's own categories at DEBUG too: grpc-java's Netty frame logger prints every header of a
        // call at DEBUG (a service's token included) unless the service pins it to INFO, as every
        // service's application.properties does
        productionEnv = Map.copyOf(common);
        Map<String, String> verbose = new HashMap<>(common);
        verbose.put("QUARKUS_LOG_CATEGORY__IO_GRPC__LEVEL", "DEBUG");
        String identityModule = ReplicasTest.snapshot("identity-service");
        start("identity-service", identityModule, identityPort, verbose);
        start("ledger-service", ReplicasTest.snapshot("ledger-service"), ledgerPort, verbose);
        start("analytics-service", ReplicasTest.snapshot("analytics-service"), ServiceProcess.freePort(), verbose);
        start("alert-service", ReplicasTest.snapshot("alert-service"), ServiceProcess.freePort(), verbose);
        // the control: identity again (a second replica on the same schema) with reflection switched on
        Map<String, String> withReflection = new HashMap<>(verbose);
        withReflection.put("QUARKUS_GRPC_SERVER_ENABLE_REFLECTION_SERVICE", "true");
        identityWithReflection = ServiceProcess.of(identityModule, ServiceProcess.freePort(), withReflection).start();
        List<ServiceProcess> all = new ArrayList<>(services.values());
        all.add(identityWithReflection);
        CompletableFuture.allOf(all.stream()
                        .map(p -> CompletableFuture.runAsync(() -> p.awaitReady(Duration.ofSeconds(150))))
                        .toArray(CompletableFuture[]::new))
                .get(160, TimeUnit.SECONDS);
        reflectionControl = ManagedChannelBuilder.forAddress("localhost", identityWithReflection.httpPort()).usePlaintext().build();
    }

    private static ServiceProcess start(String name, String module, int port, Map<String, String> env) {
        ServiceProcess p = ServiceProcess.of(module, port, env).start();
        services.put(name, p);
        channels.put(name, ManagedChannelBuilder.forAddress("localhost", p.httpPort()).usePlaintext().build());
        return p;
    }

    @AfterAll
    static void stopAll() {
        channels.values().forEach(ManagedChannel::shutdownNow);
        if (reflectionControl != null) {
            reflectionControl.shutdownNow();
        }
        if (identityWithReflection != null) {
            identityWithReflection.stop();
        }
        List<ServiceProcess> reversed = new ArrayList<>(services.values());
        java.util.Collections.reverse(reversed);
        reversed.forEach(ServiceProcess::stop);
    }

    // ---------------------------------------------------------------- reflection

    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    /** ServerReflectionRequest{list_services: ""}: field 7, length-delimited, empty. */
    private static final byte[] LIST_SERVICES = {0x3a, 0x00};

    /** The first answer of a reflection stream: its bytes, or the status it failed with. */
    private static Object reflect(ManagedChannel channel, String version, String token) throws Exception {
        MethodDescriptor<byte[], byte[]> method = MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
                .setFullMethodName("grpc.reflection." + version + ".ServerReflection/ServerReflectionInfo")
                .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
        CompletableFuture<Object> first = new CompletableFuture<>();
        Metadata headers = new Metadata();
        if (token != null) {
            headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        }
        ClientCall<byte[], byte[]> call = io.grpc.ClientInterceptors.intercept(channel,
                MetadataUtils.newAttachHeadersInterceptor(headers)).newCall(method, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS));
        StreamObserver<byte[]> requests = ClientCalls.asyncBidiStreamingCall(call, new StreamObserver<>() {
            @Override
            public void onNext(byte[] value) {
                first.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                first.complete(Status.fromThrowable(t).getCode());
            }

            @Override
            public void onCompleted() {
                first.complete(Status.Code.OK);
            }
        });
        requests.onNext(LIST_SERVICES);
        requests.onCompleted();
        try {
            return first.get(20, TimeUnit.SECONDS);
        } finally {
            call.cancel("done", null);
        }
    }

    @Test
    @Order(1)
    void reflectionIsOffOnEveryServiceRunAsInProduction() throws Exception {
        // the probe sees reflection where it is on: the control lists identity's service
        Object control = reflect(reflectionControl, "v1", null);
        assertTrue(control instanceof byte[], "the control answers a reflection request: " + control);
        assertTrue(new String((byte[]) control, StandardCharsets.UTF_8).contains("agentspend.identity.v1.IdentityService"),
                "the control's answer lists the identity service");
        for (Map.Entry<String, ManagedChannel> service : channels.entrySet()) {
            assertTrue(Files.readString(services.get(service.getKey()).logFile()).contains("Profile prod activated"),
                    service.getKey() + " runs with the prod profile");
            for (String version : List.of("v1", "v1alpha")) {
                for (String token : new String[] {null, ADMIN_TOKEN}) {
                    assertEquals(Status.Code.UNIMPLEMENTED, reflect(service.getValue(), version, token),
                            service.getKey() + ": reflection " + version + (token == null ? " without credential" : " with the admin token"));
                }
            }
        }
    }

    // ---------------------------------------------------------------- shutdown

    /**
     * A replica told to stop (SIGTERM, as Kubernetes stops a pod in a rolling update) with the
     * chart's shutdown delay and timeout says at once that it is not ready, so that it leaves its
     * Service's endpoints, and keeps answering the calls that still reach it until the delay is over.
     * Its policy feed streams end at once with UNAVAILABLE (their clients reconnect to another replica)
     * and new ones are refused the same way, so no stream holds up the shutdown: the replica exits
     * right after its delay, not after its timeout, with nothing logged at ERROR.
     */
    @Test
    void aStoppingReplicaAnswersThroughItsShutdownDelayWithItsReadinessDownAndEndsItsStreams() throws Exception {
        Duration delay = Duration.ofSeconds(10);
        Duration timeout = Duration.ofSeconds(60);
        Map<String, String> env = new HashMap<>(productionEnv);
        env.put("QUARKUS_SHUTDOWN_DELAY", delay.toSeconds() + "s");
        env.put("QUARKUS_SHUTDOWN_TIMEOUT", timeout.toSeconds() + "s");
        ServiceProcess replica = ServiceProcess.of(ReplicasTest.snapshot("identity-service"), ServiceProcess.freePort(), env).start();
        ManagedChannel channel = ManagedChannelBuilder.forAddress("localhost", replica.httpPort()).usePlaintext().build();
        try {
            replica.awaitReady(Duration.ofSeconds(150));
            IdentityServiceGrpc.IdentityServiceBlockingStub stub = as(IdentityServiceGrpc.newBlockingStub(channel), ADMIN_TOKEN);
            int agents = stub.listAgents(ListAgentsRequest.getDefaultInstance()).getAgentsCount();
            StreamEnd feed = watchPolicies(channel);
            feed.firstEvent.get(30, TimeUnit.SECONDS);

            long signalled = System.nanoTime();
            replica.signalStop();
            ReplicasTest.awaitUntil(Duration.ofSeconds(5), "readiness DOWN after SIGTERM", () -> DurablePlatform.health(replica, "ready") == 503);
            assertEquals(200, DurablePlatform.health(replica, "live"), "alive through the delay: not a pod to restart");
            assertEquals(Status.Code.UNAVAILABLE, feed.status.get(5, TimeUnit.SECONDS).getCode(),
                    "the open policy feed ends at once, retryably");
            assertEquals(Status.Code.UNAVAILABLE, watchPolicies(channel).status.get(5, TimeUnit.SECONDS).getCode(),
                    "a new policy feed is refused, retryably");
            assertEquals(agents, stub.listAgents(ListAgentsRequest.getDefaultInstance()).getAgentsCount(),
                    "a call routed to the replica before its endpoints caught up is still answered");
            assertTrue(System.nanoTime() - signalled < delay.toNanos() && replica.isAlive(),
                    "those checks ran within the delay, the replica still running");

            assertTrue(replica.awaitExit(delay.plusSeconds(30)), "the replica exits after its delay, not its timeout");
            assertTrue(System.nanoTime() - signalled >= delay.toNanos(), "not before its delay");
            assertEquals(List.of(), replica.errorLines(), "ERROR lines in its shutdown");
        } finally {
            channel.shutdownNow();
            replica.stop();
        }
    }

    /**
     * A Pay under way when a ledger replica stops is answered, not cut: the replica waits for it
     * (QUARKUS_SHUTDOWN_TIMEOUT, the chart's shutdownTimeout) after its delay, and exits once it is
     * answered. The test holds the payment back with a lock on its agent's row, as a slow batch would.
     */
    @Test
    @Order(1)   // before the secrets test, which stops the shared services at its end
    void aStoppingLedgerAnswersThePaymentsUnderWayBeforeItExits() throws Exception {
        CreateAgentResponse a = identity(ADMIN_TOKEN).createAgent(CreateAgentRequest.newBuilder().setRequestId(rid())
                .setHandle("drain-" + UUID.randomUUID().toString().substring(0, 8)).setDisplayName("drain")
                .setMode(AgentMode.AGENT_MODE_PRODUCTION).setCurrencyCode("USD").build());
        String agentId = a.getAgent().getId();
        await(Duration.ofSeconds(20), "the ledger to know the agent",
                () -> ledger(a.getApiKeySecret()).getBalance(GetBalanceRequest.getDefaultInstance()) != null);
        ledger(ADMIN_TOKEN).credit(CreditRequest.newBuilder().setRequestId(rid()).setAgentId(agentId).setAmountMicros(1_000_000)
                .setCurrencyCode("USD").setNote("drain").build());
        Map<String, String> env = new HashMap<>(productionEnv);
        env.put("QUARKUS_SHUTDOWN_DELAY", "1s");
        env.put("QUARKUS_SHUTDOWN_TIMEOUT", "60s");
        ServiceProcess replica = ServiceProcess.of(ReplicasTest.snapshot("ledger-service"), ServiceProcess.freePort(), env).start();
        ManagedChannel channel = ManagedChannelBuilder.forAddress("localhost", replica.httpPort()).usePlaintext().build();
        try {
            replica.awaitReady(Duration.ofSeconds(150));
            LedgerServiceGrpc.LedgerServiceFutureStub payer = as(LedgerServiceGrpc.newFutureStub(channel), a.getApiKeySecret());
            await(Duration.ofSeconds(20), "the replica to know the agent",
                    () -> as(LedgerServiceGrpc.newBlockingStub(channel), a.getApiKeySecret())
                            .getBalance(GetBalanceRequest.getDefaultInstance()) != null);
            Future<PayResponse> paid;
            try (Connection sql = DriverManager.getConnection(EmbeddedPostgresTestResource.server().jdbcUrl(DATABASE),
                    EmbeddedDatabase.USER, "")) {
                sql.setAutoCommit(false);
                try (PreparedStatement lock = sql.prepareStatement(
                        "SELECT 1 FROM ledger.agent_state WHERE agent_id = ? FOR UPDATE")) {
                    lock.setString(1, agentId);
                    lock.executeQuery().close();
                }
                paid = payer.pay(PayRequest.newBuilder().setRequestId(rid()).setAmountMicros(250_000).setCurrencyCode("USD")
                        .setTool("llm/drain").build());
                await(Duration.ofSeconds(20), "the payment to wait for the agent's row",
                        () -> waitingForALock() > 0);

                replica.signalStop();
                await(Duration.ofSeconds(20), "the replica to wait for the calls in flight",
                        () -> logOf(replica).contains("Waiting for HTTP requests to complete"));
                assertTrue(replica.isAlive() && !paid.isDone(), "the payment is still under way, and the replica waits for it");
                sql.rollback();
            }
            PayResponse response = paid.get(30, TimeUnit.SECONDS);
            assertEquals(250_000, response.getEntry().getAmountMicros(), "the payment under way is answered");
            assertTrue(replica.awaitExit(Duration.ofSeconds(30)), "then the replica exits");
            assertEquals(750_000, ledger(ADMIN_TOKEN).getBalance(GetBalanceRequest.newBuilder().setAgentId(agentId).build())
                    .getBalanceMicros(), "and the payment is recorded");
            assertEquals(List.of(), replica.errorLines(), "ERROR lines in its shutdown");
        } finally {
            channel.shutdownNow();
            replica.stop();
        }
    }

    private static String logOf(ServiceProcess p) {
        try {
            return Files.readString(p.logFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Backends of the test database waiting for a lock now. */
    private static long waitingForALock() {
        try (Connection c = DriverManager.getConnection(EmbeddedPostgresTestResource.server().jdbcUrl(DATABASE),
                EmbeddedDatabase.USER, ""); Statement st = c.createStatement();
             ResultSet r = st.executeQuery("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '" + DATABASE
                     + "' AND wait_event_type = 'Lock'")) {
            r.next();
            return r.getLong(1);
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    /** A policy feed's first event and its end, as a consumer sees them. */
    private record StreamEnd(CompletableFuture<Void> firstEvent, CompletableFuture<Status> status) {
    }

    private static StreamEnd watchPolicies(ManagedChannel channel) {
        StreamEnd end = new StreamEnd(new CompletableFuture<>(), new CompletableFuture<>());
        as(IdentityServiceGrpc.newStub(channel), SERVICE_TOKEN).withDeadline(null)
                .watchPolicies(WatchPoliciesRequest.getDefaultInstance(), new StreamObserver<>() {
                    @Override
                    public void onNext(WatchPoliciesResponse value) {
                        end.firstEvent().complete(null);
                    }

                    @Override
                    public void onError(Throwable t) {
                        end.status().complete(Status.fromThrowable(t));
                    }

                    @Override
                    public void onCompleted() {
                        end.status().complete(Status.OK);
                    }
                });
        return end;
    }

    // ---------------------------------------------------------------- secrets in logs

    private static <S extends AbstractStub<S>> S as(S stub, String token) {
        Metadata h = new Metadata();
        if (token != null) {
            h.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        }
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(h)).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private static IdentityServiceGrpc.IdentityServiceBlockingStub identity(String token) {
        return as(IdentityServiceGrpc.newBlockingStub(channels.get("identity-service")), token);
    }

    private static LedgerServiceGrpc.LedgerServiceBlockingStub ledger(String token) {
        return as(LedgerServiceGrpc.newBlockingStub(channels.get("ledger-service")), token);
    }

    private static AnalyticsServiceGrpc.AnalyticsServiceBlockingStub analytics(String token) {
        return as(AnalyticsServiceGrpc.newBlockingStub(channels.get("analytics-service")), token);
    }

    private static AlertServiceGrpc.AlertServiceBlockingStub alerts(String token) {
        return as(AlertServiceGrpc.newBlockingStub(channels.get("alert-service")), token);
    }

    private static String rid() {
        return "hardening-" + UUID.randomUUID();
    }

    private static void await(Duration timeout, String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                if (condition.getAsBoolean()) {
                    return;
                }
            } catch (StatusRuntimeException e) {
                // not yet (for example the ledger has not heard of the agent)
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            Thread.sleep(50);   // poll interval of this deadline-bounded wait
        }
    }

    private static void refused(Status.Code code, Runnable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
        assertEquals(code, e.getStatus().getCode(), () -> "unexpected " + e.getStatus());
    }

    /** The secret of an agent key {@code as_key_<16>_<43>} (base64url: it may itself contain '_'). */
    private static String secretOf(String key) {
        assertTrue(key.matches("as_key_[a-z2-7]{16}_[A-Za-z0-9_-]{43}"), "an agent key");
        return key.substring(24);
    }

    /** A well-formed key that authenticates nowhere: the key id of {@code keyOf} (or a new one) with a new secret. */
    private static String forge(String keyOf) {
        SecureRandom random = new SecureRandom();
        byte[] secret = new byte[32];
        random.nextBytes(secret);
        String keyId;
        if (keyOf != null) {
            keyId = keyOf.substring(3, 23);
        } else {
            StringBuilder id = new StringBuilder("key_");
            for (int i = 0; i < 16; i++) {
                id.append("abcdefghijklmnopqrstuvwxyz234567".charAt(random.nextInt(32)));
            }
            keyId = id.toString();
        }
        return "as_" + keyId + "_" + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
    }

    @Test
    @Order(2)
    void noSecretReachesAnyServicesLog() throws Exception {
        List<String> credentials = new ArrayList<>(List.of(ADMIN_TOKEN, SERVICE_TOKEN));
        Cap dayCap = Cap.newBuilder().setWindow(CapWindow.CAP_WINDOW_DAY).setLimitMicros(1_000_000).setCurrencyCode("USD")
                .setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD).build();
        CreateAgentResponse a = identity(ADMIN_TOKEN).createAgent(CreateAgentRequest.newBuilder().setRequestId(rid())
                .setHandle("hardening-a-" + UUID.randomUUID().toString().substring(0, 8)).setDisplayName("a")
                .setMode(AgentMode.AGENT_MODE_PRODUCTION).setCurrencyCode("USD")
                .setPolicy(SpendingPolicy.newBuilder().addCaps(dayCap)).build());
        CreateAgentResponse b = identity(ADMIN_TOKEN).createAgent(CreateAgentRequest.newBuilder().setRequestId(rid())
                .setHandle("hardening-b-" + UUID.randomUUID().toString().substring(0, 8)).setDisplayName("b")
                .setMode(AgentMode.AGENT_MODE_PRODUCTION).setCurrencyCode("USD").build());
        String aId = a.getAgent().getId();
        CreateApiKeyResponse rotated = identity(ADMIN_TOKEN).createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(rid())
                .setAgentId(aId).setDescription("rotation").build());
        identity(ADMIN_TOKEN).revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(rid())
                .setKeyId(rotated.getApiKey().getKeyId()).setReason("rotated away").build());
        String aKey = a.getApiKeySecret();
        String bKey = b.getApiKeySecret();
        credentials.addAll(List.of(aKey, bKey, rotated.getApiKeySecret()));

        // the ledger learns both agents; top-ups, a payment, a hold and its capture, an agent payment
        for (String key : List.of(aKey, bKey)) {
            await(Duration.ofSeconds(20), "the ledger to know the agent",
                    () -> ledger(key).getBalance(GetBalanceRequest.getDefaultInstance()) != null);
        }
        ledger(ADMIN_TOKEN).credit(CreditRequest.newBuilder().setRequestId(rid()).setAgentId(aId).setAmountMicros(10_000_000)
                .setCurrencyCode("USD").setNote("hardening").build());
        ledger(aKey).pay(PayRequest.newBuilder().setRequestId(rid()).setAmountMicros(100_000).setCurrencyCode("USD")
                .setTool("llm/hardening").setTaskId("t1").build());
        String hold = ledger(aKey).hold(HoldRequest.newBuilder().setRequestId(rid()).setAmountMicros(100_000).setCurrencyCode("USD")
                .setTool("llm/hardening").build()).getHold().getHoldId();
        ledger(aKey).capture(CaptureRequest.newBuilder().setRequestId(rid()).setHoldId(hold).setAmountMicros(50_000).build());
        ledger(aKey).payAgent(PayAgentRequest.newBuilder().setRequestId(rid()).setPayeeAgentId(b.getAgent().getId())
                .setAmountMicros(10_000).setCurrencyCode("USD").setTool("agent/hardening").build());
        identity(SERVICE_TOKEN).authenticate(AuthenticateRequest.newBuilder().setApiKey(aKey).build());

        // failed authentications everywhere: forged secrets, unknown keys, a revoked key, wrong tokens
        String forgedA = forge(aKey);
        String unknownKey = forge(null);
        String wrongToken = "wrong-" + ReplicasTest.randomToken();
        credentials.addAll(List.of(forgedA, unknownKey, wrongToken));
        for (String bad : List.of(forgedA, unknownKey, rotated.getApiKeySecret())) {
            refused(Status.Code.UNAUTHENTICATED, () -> identity(SERVICE_TOKEN).authenticate(AuthenticateRequest.newBuilder().setApiKey(bad).build()));
            refused(Status.Code.UNAUTHENTICATED, () -> identity(bad).getAgent(GetAgentRequest.newBuilder().setAgent(aId).build()));
            refused(Status.Code.UNAUTHENTICATED, () -> ledger(bad).pay(PayRequest.newBuilder().setRequestId(rid()).setAmountMicros(1)
                    .setCurrencyCode("USD").setTool("llm/hardening").build()));
            refused(Status.Code.PERMISSION_DENIED, () -> analytics(bad).getFleetOverview(GetFleetOverviewRequest.getDefaultInstance()));
            refused(Status.Code.PERMISSION_DENIED, () -> alerts(bad).listAlerts(ListAlertsRequest.getDefaultInstance()));
        }
        refused(Status.Code.UNAUTHENTICATED, () -> identity(wrongToken).getAgent(GetAgentRequest.newBuilder().setAgent(aId).build()));
        refused(Status.Code.UNAUTHENTICATED, () -> ledger(wrongToken).getBalance(GetBalanceRequest.newBuilder().setAgentId(aId).build()));
        refused(Status.Code.UNAUTHENTICATED, () -> analytics(wrongToken).getFleetOverview(GetFleetOverviewRequest.getDefaultInstance()));
        refused(Status.Code.UNAUTHENTICATED, () -> alerts(wrongToken).listAlerts(ListAlertsRequest.getDefaultInstance()));
        refused(Status.Code.PERMISSION_DENIED, () -> identity(aKey).getAgent(GetAgentRequest.newBuilder().setAgent(aId).build()));
        refused(Status.Code.PERMISSION_DENIED, () -> ledger(SERVICE_TOKEN).getBalance(GetBalanceRequest.newBuilder().setAgentId(aId).build()));

        // a signed webhook, and an alert that suspends agent A through identity (service token)
        List<String> deliveries = new java.util.concurrent.CopyOnWriteArrayList<>();
        CountDownLatch delivered = new CountDownLatch(1);
        HttpServer receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        receiver.createContext("/hook", exchange -> {
            deliveries.add(exchange.getRequestHeaders().getFirst("X-AgentSpend-Signature"));
            exchange.getRequestBody().readAllBytes();
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
            delivered.countDown();
        });
        receiver.start();
        try {
            CreateWebhookResponse webhook = alerts(ADMIN_TOKEN).createWebhook(CreateWebhookRequest.newBuilder().setRequestId(rid())
                    .setUrl("http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook")
                    .setFormat(WebhookFormat.WEBHOOK_FORMAT_GENERIC).build());
            assertTrue(webhook.getSigningSecret().startsWith("whsec_"));
            credentials.add(webhook.getSigningSecret());
            alerts(ADMIN_TOKEN).setRuleConfig(SetRuleConfigRequest.newBuilder().setRequestId(rid()).setConfig(RuleConfig.newBuilder()
                    .setScope(ConfigScope.CONFIG_SCOPE_AGENT).setScopeId(aId).setRule(Rule.RULE_DECLINE_BURST)
                    .setAction(RuleAction.RULE_ACTION_SUSPEND)).build());
            // 0.16 USD spent so far: two more payments of 0.40 fit under the 1 USD daily cap, then eight declines
            for (int i = 0; i < 10; i++) {
                ledger(aKey).pay(PayRequest.newBuilder().setRequestId(rid()).setAmountMicros(400_000).setCurrencyCode("USD")
                        .setTool("llm/hardening").build());
            }
            await(Duration.ofSeconds(30), "the alert service to suspend agent A through identity",
                    () -> identity(ADMIN_TOKEN).getAgent(GetAgentRequest.newBuilder().setAgent(aId).build()).getAgent().getStatus()
                            == AgentStatus.AGENT_STATUS_SUSPENDED);
            assertTrue(delivered.await(30, TimeUnit.SECONDS), "a webhook delivery arrived");
            assertNotNull(deliveries.get(0), "the delivery is signed");
        } finally {
            receiver.stop(0);
        }
        analytics(SERVICE_TOKEN).getFleetOverview(GetFleetOverviewRequest.getDefaultInstance());
        analytics(ADMIN_TOKEN).getIngestionStatus(GetIngestionStatusRequest.getDefaultInstance());
        alerts(SERVICE_TOKEN).listAlerts(ListAlertsRequest.newBuilder().setAgentId(aId).build());

        // every service stops (flushing its output); then no log may hold any secret in any usual encoding
        stopAll();
        List<String> needles = new ArrayList<>();
        for (String credential : credentials) {
            needles.add(credential);
            if (credential.startsWith("as_")) {
                needles.add(secretOf(credential));
                needles.add(HexFormat.of().formatHex(secretOf(credential).getBytes(StandardCharsets.UTF_8)));
            }
        }
        needles.add(WEBHOOK_KEY);
        needles.add(HexFormat.of().formatHex(Base64.getDecoder().decode(WEBHOOK_KEY)));
        needles.add(Base64.getEncoder().encodeToString(ADMIN_TOKEN.getBytes(StandardCharsets.UTF_8)));
        needles.add(Base64.getEncoder().encodeToString(SERVICE_TOKEN.getBytes(StandardCharsets.UTF_8)));
        Map<String, String> logs = new LinkedHashMap<>();
        for (Map.Entry<String, ServiceProcess> s : services.entrySet()) {
            logs.put(s.getKey(), Files.readString(s.getValue().logFile()));
        }
        logs.put("identity-service (reflection control)", Files.readString(identityWithReflection.logFile()));
        // the capture is real: DEBUG lines of the application and the run's activity are in it
        assertTrue(logs.get("identity-service").contains("authentication refused: WRONG_SECRET"),
                "identity's log holds its DEBUG line for the forged key");
        assertTrue(logs.get("identity-service").contains(rotated.getApiKey().getKeyId()), "identity's log names the revoked key");
        for (String client : List.of("ledger-service", "analytics-service", "alert-service")) {
            assertTrue(logs.get(client).matches("(?s).*(FINE|DEBUG) +\\[io\\.gr\\..*"),
                    client + "'s log holds io.grpc's DEBUG lines (its gRPC clients to identity and the ledger)");
        }
        for (Map.Entry<String, String> log : logs.entrySet()) {
            assertTrue(log.getValue().contains("Profile prod activated"), log.getKey() + "'s log was captured");
            for (int i = 0; i < needles.size(); i++) {
                assertFalse(log.getValue().contains(needles.get(i)),
                        "secret #" + i + " of " + needles.size() + " appears in " + log.getKey() + "'s log ("
                                + services.getOrDefault(log.getKey(), identityWithReflection).logFile() + ")");
            }
        }
        System.out.printf("searched %d service logs (%d bytes) for %d secrets and encodings: none found%n",
                logs.size(), logs.values().stream().mapToInt(String::length).sum(), needles.size());
    }
}
