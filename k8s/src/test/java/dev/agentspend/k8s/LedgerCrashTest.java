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
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import dev.agentspend.proto.ledger.v1.VerifyLedgerRequest;
import dev.agentspend.proto.ledger.v1.VerifyLedgerResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ledger killed with SIGKILL while 16 clients pay concurrently, then started again: every
 * payment a client saw acknowledged is in the ledger, a client that retries its unanswered
 * request with the same request_id is charged once, the balance is exact and VerifyLedger is
 * clean. The clients behave as the client library does: same request_id on every retry of one
 * payment, retry on UNAVAILABLE (and on any other transport failure) until an answer.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class LedgerCrashTest {
    static final String DATABASE = "agentspend_crash";
    static final int CLIENTS = 16;
    static final long PRICE = 1_000;
    static final long CREDIT = 1_000_000_000;
    static final String ADMIN_TOKEN = ReplicasTest.randomToken();
    static final String SERVICE_TOKEN = ReplicasTest.randomToken();

    static EmbeddedDatabase db;
    static ServiceProcess identity;
    static ServiceProcess ledger;
    static ManagedChannel ledgerChannel;

    @BeforeAll
    static void start() {
        db = EmbeddedPostgresTestResource.server();
        db.createDatabase(DATABASE);
        Map<String, String> env = new java.util.HashMap<>(Map.of(
                "QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl(DATABASE),
                "QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl(DATABASE),
                "QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER,
                "QUARKUS_DATASOURCE_PASSWORD", "",
                "AGENTSPEND_ADMIN_TOKEN", ADMIN_TOKEN,
                "AGENTSPEND_SERVICE_TOKEN", SERVICE_TOKEN));
        identity = ServiceProcess.of(ReplicasTest.snapshot("identity-service"), ServiceProcess.freePort(), env).start()
                .awaitReady(Duration.ofSeconds(180));
        env.put("QUARKUS_GRPC_CLIENTS_IDENTITY_HOST", "localhost");
        env.put("QUARKUS_GRPC_CLIENTS_IDENTITY_PORT", Integer.toString(identity.httpPort()));
        // the clients pay as fast as the ledger answers: the per-agent limit is not what is tested here
        env.put("AGENTSPEND_LEDGER_AGENT_RATE_PER_SECOND", "1000000");
        env.put("AGENTSPEND_LEDGER_AGENT_RATE_BURST", "1000000");
        ledger = ServiceProcess.of(ReplicasTest.snapshot("ledger-service"), ServiceProcess.freePort(), env).start()
                .awaitReady(Duration.ofSeconds(180));
        ledgerChannel = ManagedChannelBuilder.forAddress("localhost", ledger.httpPort()).usePlaintext().build();
    }

    @AfterAll
    static void stop() {
        if (ledgerChannel != null) {
            ledgerChannel.shutdownNow();
        }
        if (ledger != null) {
            ledger.stop();
        }
        if (identity != null) {
            identity.stop();
        }
    }

    static LedgerServiceGrpc.LedgerServiceBlockingStub ledger(String token) {
        return LedgerServiceGrpc.newBlockingStub(ledgerChannel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(token)))
                .withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    @Test
    void everyAcknowledgedPaymentSurvivesAKillAndRetriesAreChargedOnce() throws Exception {
        String suffix = ReplicasTest.randomToken().substring(0, 10);
        ManagedChannel identityChannel = ManagedChannelBuilder.forAddress("localhost", identity.httpPort()).usePlaintext().build();
        CreateAgentResponse created = IdentityServiceGrpc.newBlockingStub(identityChannel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(ADMIN_TOKEN)))
                .createAgent(CreateAgentRequest.newBuilder().setRequestId("agent-" + suffix).setHandle("crash-" + suffix)
                        .setDisplayName("crash test agent").setMode(AgentMode.AGENT_MODE_PRODUCTION).setCurrencyCode("USD")
                        .setPolicy(SpendingPolicy.getDefaultInstance()).build());
        identityChannel.shutdownNow();
        String agentId = created.getAgent().getId();
        String key = created.getApiKeySecret();
        untilAnswered(() -> ledger(key).getBalance(GetBalanceRequest.getDefaultInstance()), 30);
        ledger(ADMIN_TOKEN).credit(CreditRequest.newBuilder().setRequestId("credit-" + suffix).setAgentId(agentId)
                .setAmountMicros(CREDIT).setCurrencyCode("USD").build());

        Map<String, String> acknowledged = new ConcurrentHashMap<>();   // request_id -> entry_id
        AtomicInteger answeredAfterRetry = new AtomicInteger();
        AtomicInteger ackedBeforeKill = new AtomicInteger();
        java.util.concurrent.atomic.AtomicLong stopNew = new java.util.concurrent.atomic.AtomicLong(
                System.nanoTime() + TimeUnit.SECONDS.toNanos(60));
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
        List<Future<?>> clients = new ArrayList<>();
        java.util.concurrent.atomic.AtomicBoolean killed = new java.util.concurrent.atomic.AtomicBoolean();
        for (int c = 0; c < CLIENTS; c++) {
            int client = c;
            clients.add(pool.submit(() -> {
                for (int n = 0; System.nanoTime() < stopNew.get(); n++) {
                    PayRequest req = PayRequest.newBuilder().setRequestId("c" + client + "-" + n).setAmountMicros(PRICE)
                            .setCurrencyCode("USD").setTool("openai/chat.completions").build();
                    int[] attempts = {0};
                    PayResponse r = untilAnswered(() -> {
                        attempts[0]++;
                        return ledger(key).pay(req);
                    }, 120);
                    assertEquals(Decision.DECISION_APPROVED, r.getEntry().getDecision(), r.toString());
                    acknowledged.put(req.getRequestId(), r.getEntry().getEntryId());
                    if (attempts[0] > 1) {
                        answeredAfterRetry.incrementAndGet();
                    }
                    if (!killed.get()) {
                        ackedBeforeKill.incrementAndGet();
                    }
                }
                return null;
            }));
        }
        // let the clients get going, then kill the ledger mid-stream and start it again
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (acknowledged.size() < 200 && System.nanoTime() < deadline) {
            Thread.sleep(10);   // poll interval
        }
        killed.set(true);
        ledger.kill();
        // stay down long enough that every client's in-flight call fails and goes into its retry loop
        Thread.sleep(500);
        ledger.start().awaitReady(Duration.ofSeconds(180));
        int afterRestart = acknowledged.size();
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (acknowledged.size() < afterRestart + 200 && System.nanoTime() < deadline) {
            Thread.sleep(10);   // poll interval
        }
        stopNew.set(System.nanoTime());
        for (Future<?> f : clients) {
            f.get(150, TimeUnit.SECONDS);
        }
        pool.shutdown();

        assertTrue(ackedBeforeKill.get() > 0, "payments acknowledged before the kill");
        assertTrue(answeredAfterRetry.get() > 0, "some payments were unanswered at the kill and retried");
        assertTrue(acknowledged.size() > afterRestart, "payments acknowledged after the restart");
        try (Connection conn = DriverManager.getConnection(db.jdbcUrl(DATABASE), EmbeddedDatabase.USER, "")) {
            // every acknowledged payment is there, under the entry id its client was given
            long found = count(conn, "SELECT COUNT(*) FROM ledger.entries WHERE entry_id = ANY(?)",
                    acknowledged.values().toArray(String[]::new));
            assertEquals(acknowledged.size(), found, "acknowledged payments recorded");
            // and nothing else: one approved payment per request_id, whatever the retries
            long approved = count(conn, "SELECT COUNT(*) FROM ledger.entries WHERE agent_id = ? AND event_type = 1", agentId);
            assertEquals(acknowledged.size(), approved, "approved payments (duplicates or unacknowledged extras)");
        }
        assertEquals(CREDIT - PRICE * acknowledged.size(),
                ledger(key).getBalance(GetBalanceRequest.getDefaultInstance()).getBalanceMicros());
        VerifyLedgerResponse verify = ledger(ADMIN_TOKEN).verifyLedger(VerifyLedgerRequest.getDefaultInstance());
        assertTrue(verify.getConsistent(), verify.getViolationsList().toString());
        System.out.printf("LedgerCrashTest: %d payments acknowledged (%d before the kill, %d answered after a retry), "
                        + "all recorded once%n", acknowledged.size(), ackedBeforeKill.get(), answeredAfterRetry.get());
    }

    static long count(Connection conn, String sql, Object arg) throws Exception {
        try (PreparedStatement st = conn.prepareStatement(sql)) {
            if (arg instanceof String[] ids) {
                st.setArray(1, conn.createArrayOf("text", ids));
            } else {
                st.setString(1, (String) arg);
            }
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /** Calls until an answer, retrying transport failures (the ledger is down or starting). */
    static <T> T untilAnswered(java.util.function.Supplier<T> call, int seconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            try {
                return call.get();
            } catch (StatusRuntimeException e) {
                Status.Code code = e.getStatus().getCode();
                boolean transient_ = code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED
                        || code == Status.Code.UNKNOWN || code == Status.Code.CANCELLED
                        || code == Status.Code.UNAUTHENTICATED;  // the restarted ledger's policy feed not caught up
                if (!transient_ || System.nanoTime() > deadline) {
                    throw e;
                }
            }
            try {
                Thread.sleep(50);   // client retry backoff, as the client library's
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                throw new AssertionError(ie);
            }
        }
    }
}
