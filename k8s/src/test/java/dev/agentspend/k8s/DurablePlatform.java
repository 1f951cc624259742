package dev.agentspend.k8s;

import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.AlertServiceGrpc;
import dev.agentspend.proto.alerts.v1.ListAlertsRequest;
import dev.agentspend.proto.alerts.v1.ListAlertsResponse;
import dev.agentspend.proto.analytics.v1.AnalyticsServiceGrpc;
import dev.agentspend.proto.analytics.v1.GetIngestionStatusRequest;
import dev.agentspend.proto.analytics.v1.GetIngestionStatusResponse;
import dev.agentspend.proto.analytics.v1.GetToolAttributionRequest;
import dev.agentspend.proto.analytics.v1.GetToolAttributionResponse;
import dev.agentspend.proto.analytics.v1.ToolSpend;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import dev.agentspend.proto.ledger.v1.GetBalanceResponse;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.VerifyLedgerRequest;
import dev.agentspend.proto.ledger.v1.VerifyLedgerResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.MetadataUtils;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The four services, each from its packaged jar, on one DURABLE embedded PostgreSQL (persistent
 * data directory, {@code fsync} and {@code synchronous_commit} on, as {@code ./agentspend up} runs
 * it), configured as the chart configures them: what the fault tests take away and bring back.
 * Also the checks both fault tests end with: the ledger holds every acknowledged payment once,
 * analytics agrees with it to the micro, and alerts has one alert per condition.
 */
final class DurablePlatform implements AutoCloseable {
    static final String DATABASE = "agentspend_faults";
    static final String ADMIN_TOKEN = ReplicasTest.randomToken();
    static final String SERVICE_TOKEN = ReplicasTest.randomToken();
    static final String ALERT_FIRED = "ALERT_EVENT_TYPE_FIRED";

    final Path dataDirectory;
    final EmbeddedDatabase db;
    final ServiceProcess identity;
    final ServiceProcess ledger;
    final ServiceProcess analytics;
    final ServiceProcess alerts;
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final ManagedChannel identityChannel;
    private final ManagedChannel ledgerChannel;
    private final ManagedChannel analyticsChannel;
    private final ManagedChannel alertsChannel;
    /** The start of the window analytics is asked about: every entry of the test is after it. */
    private final Instant since = Instant.now().minus(1, ChronoUnit.HOURS).truncatedTo(ChronoUnit.MINUTES);

    DurablePlatform() {
        try {
            dataDirectory = Files.createTempDirectory("agentspend-faults-pg");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        db = EmbeddedDatabase.durable(dataDirectory.toFile(), 0).start();
        db.createDatabase(DATABASE);
        Map<String, String> env = new HashMap<>(Map.of(
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
        // several clients of one agent pay as fast as the ledger answers: the rate limit is not under test
        Map<String, String> ledgerEnv = new HashMap<>(env);
        ledgerEnv.put("AGENTSPEND_LEDGER_AGENT_RATE_PER_SECOND", "1000000");
        ledgerEnv.put("AGENTSPEND_LEDGER_AGENT_RATE_BURST", "1000000");
        // The ledger fails closed (declines with POLICY_UNAVAILABLE) once identity's policy feed has
        // been silent for this bound, 10 s by default. Silence here is the outage plus PostgreSQL's
        // crash recovery, identity's reconnect and up to one reconnect delay: over 10 s on this
        // shared machine for a 5 s outage. The fail-closed path has its own test (PolicyFeedGrpcTest);
        // these tests hold the feed's silence under the bound so that every decline would be a wrong one.
        ledgerEnv.put("AGENTSPEND_LEDGER_POLICY_STALENESS", "30s");
        ledger = ServiceProcess.of(ReplicasTest.snapshot("ledger-service"), ServiceProcess.freePort(), ledgerEnv).start();
        ledger.awaitReady(Duration.ofSeconds(180));
        env.put("QUARKUS_GRPC_CLIENTS_LEDGER_HOST", "localhost");
        env.put("QUARKUS_GRPC_CLIENTS_LEDGER_PORT", Integer.toString(ledger.httpPort()));
        analytics = ServiceProcess.of(ReplicasTest.snapshot("analytics-service"), ServiceProcess.freePort(), env).start();
        Map<String, String> alertsEnv = new HashMap<>(env);
        alertsEnv.put("AGENTSPEND_WEBHOOK_KEY", ReplicasTest.randomKey());
        alerts = ServiceProcess.of(ReplicasTest.snapshot("alert-service"), ServiceProcess.freePort(), alertsEnv).start();
        analytics.awaitReady(Duration.ofSeconds(180));
        alerts.awaitReady(Duration.ofSeconds(180));
        identityChannel = channel(identity);
        ledgerChannel = channel(ledger);
        analyticsChannel = channel(analytics);
        alertsChannel = channel(alerts);
    }

    private ManagedChannel channel(ServiceProcess p) {
        ManagedChannel c = ManagedChannelBuilder.forAddress("localhost", p.httpPort()).usePlaintext().build();
        channels.add(c);
        return c;
    }

    List<ServiceProcess> services() {
        return List.of(identity, ledger, analytics, alerts);
    }

    static String name(ServiceProcess p) {
        return p.logFile().getFileName().toString().replaceAll("-\\d+\\.log$", "");
    }

    /** Stops every service gracefully (SIGTERM), the feed's consumers first, as a rolling shutdown would. */
    void stopServices() {
        Stream.of(alerts, analytics, ledger, identity).filter(p -> p != null).forEach(ServiceProcess::stop);
    }

    /** Every line a service logged at ERROR so far, prefixed with the service's name. */
    List<String> errorsLogged() {
        return errorsLogged(services());
    }

    /** Every line {@code processes} logged at ERROR so far, each prefixed with its service's name. */
    static List<String> errorsLogged(Collection<ServiceProcess> processes) {
        List<String> errors = new ArrayList<>();
        for (ServiceProcess p : processes) {
            p.errorLines().forEach(l -> errors.add(name(p) + ": " + l));
        }
        return errors;
    }

    @Override
    public void close() {
        channels.forEach(ManagedChannel::shutdownNow);
        stopServices();
        db.close();
        try (Stream<Path> files = Files.walk(dataDirectory)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a leftover temporary directory is harmless
        }
    }

    // ---- stubs ----

    IdentityServiceGrpc.IdentityServiceBlockingStub identity() {
        return IdentityServiceGrpc.newBlockingStub(identityChannel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(ADMIN_TOKEN)))
                .withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    LedgerServiceGrpc.LedgerServiceBlockingStub ledger(String token) {
        return LedgerServiceGrpc.newBlockingStub(ledgerChannel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(token)))
                .withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    AnalyticsServiceGrpc.AnalyticsServiceBlockingStub analytics() {
        return AnalyticsServiceGrpc.newBlockingStub(analyticsChannel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(ADMIN_TOKEN)))
                .withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    AlertServiceGrpc.AlertServiceBlockingStub alerts() {
        return AlertServiceGrpc.newBlockingStub(alertsChannel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(ADMIN_TOKEN)))
                .withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    // ---- agents ----

    record Agent(String name, String id, String key) {
    }

    /** A new agent with one HARD cap, known to the ledger and credited with {@code creditMicros}. */
    Agent newAgent(String name, CapWindow window, long capMicros, long creditMicros) {
        String suffix = ReplicasTest.randomToken().substring(0, 10);
        Cap cap = Cap.newBuilder().setWindow(window).setLimitMicros(capMicros).setCurrencyCode("USD")
                .setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD).build();
        CreateAgentResponse created = identity().createAgent(CreateAgentRequest.newBuilder().setRequestId("agent-" + suffix).setHandle(name + "-" + suffix)
                        .setDisplayName("fault test agent " + name).setMode(AgentMode.AGENT_MODE_PRODUCTION)
                        .setCurrencyCode("USD").setPolicy(SpendingPolicy.newBuilder().addCaps(cap)).build());
        Agent agent = new Agent(name, created.getAgent().getId(), created.getApiKeySecret());
        // the ledger learns the agent from identity's policy feed
        LedgerCrashTest.untilAnswered(() -> ledger(agent.key()).getBalance(GetBalanceRequest.getDefaultInstance()), 30);
        ledger(ADMIN_TOKEN).credit(CreditRequest.newBuilder().setRequestId("credit-" + suffix).setAgentId(agent.id())
                .setAmountMicros(creditMicros).setCurrencyCode("USD").setNote("fault test").build());
        return agent;
    }

    // ---- health ----

    /** The HTTP status of a health endpoint ({@code ready} or {@code live}); 0 when nothing answers. */
    /** The status of {@code p}'s /q/health/{@code which} ("live", "ready"); 0 when it does not answer. */
    static int health(ServiceProcess p, String which) {
        try {
            return ReplicasTest.HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + p.httpPort() + "/q/health/" + which))
                    .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    // ---- the end checks ----

    /**
     * The ledger holds every acknowledged payment exactly once, under the entry id its client got,
     * and no approved payment nobody was told of; each agent's balance and cap usage are exact;
     * VerifyLedger is clean. Returns the feed's length (the ledger's entry count).
     */
    long assertLedgerExact(Map<Agent, Map<String, Entry>> acknowledged, long creditMicros) throws SQLException {
        try (Connection conn = DriverManager.getConnection(db.jdbcUrl(DATABASE), EmbeddedDatabase.USER, "")) {
            for (Map.Entry<Agent, Map<String, Entry>> e : acknowledged.entrySet()) {
                Agent agent = e.getKey();
                Collection<Entry> entries = e.getValue().values();
                String[] ids = entries.stream().map(Entry::getEntryId).toArray(String[]::new);
                assertEquals(ids.length, count(conn, "select count(*) from ledger.entries where agent_id = ? and entry_id = any(?)",
                        agent.id(), ids), agent.name() + ": acknowledged payments recorded under the entry ids given");
                assertEquals(ids.length, count(conn, "select count(*) from ledger.entries where agent_id = ? and event_type = 1",
                        agent.id(), null), agent.name() + ": approved payments (duplicates or unacknowledged extras?)");
                long spent = entries.stream().mapToLong(Entry::getAmountMicros).sum();
                GetBalanceResponse balance = ledger(ADMIN_TOKEN).getBalance(GetBalanceRequest.newBuilder().setAgentId(agent.id()).build());
                assertEquals(creditMicros - spent, balance.getBalanceMicros(), agent.name() + ": balance");
                assertEquals(spent, balance.getCaps(0).getSpentMicros(), agent.name() + ": cap usage");
            }
        }
        VerifyLedgerResponse verify = ledger(ADMIN_TOKEN).verifyLedger(VerifyLedgerRequest.getDefaultInstance());
        assertTrue(verify.getConsistent(), "VerifyLedger: " + verify.getViolationsList());
        return verify.getEntryCount();
    }

    /** Analytics applied the whole feed, and its spend per agent and tool equals the acknowledged payments'. */
    void assertAnalyticsEqualsLedger(Map<Agent, Map<String, Entry>> acknowledged, long feedLength) {
        GetIngestionStatusResponse[] status = new GetIngestionStatusResponse[1];
        ReplicasTest.awaitUntil(Duration.ofSeconds(60), "analytics to apply the feed up to " + feedLength, () -> {
            status[0] = LedgerCrashTest.untilAnswered(() -> analytics().getIngestionStatus(GetIngestionStatusRequest.getDefaultInstance()), 30);
            return status[0].getLedgerPosition() >= feedLength;
        });
        assertEquals(feedLength, status[0].getLedgerPosition(), "analytics' stored feed position");
        assertTrue(status[0].getConsumerActive(), "analytics consumes the feed");
        for (Map.Entry<Agent, Map<String, Entry>> e : acknowledged.entrySet()) {
            Map<String, Long> expected = new TreeMap<>();
            e.getValue().values().forEach(entry -> expected.merge(entry.getTool(), entry.getAmountMicros(), Long::sum));
            GetToolAttributionResponse a = analytics().getToolAttribution(GetToolAttributionRequest.newBuilder()
                    .setAgentId(e.getKey().id()).setStartTime(timestamp(since))
                    .setEndTime(timestamp(Instant.now().plus(2, ChronoUnit.MINUTES).truncatedTo(ChronoUnit.MINUTES))).build());
            Map<String, Long> actual = new TreeMap<>();
            for (ToolSpend t : a.getToolsList()) {
                actual.put(t.getTool(), t.getSpendMicros());
            }
            assertEquals(expected, actual, e.getKey().name() + ": analytics' spend per tool equals the ledger's");
            assertEquals(expected.values().stream().mapToLong(Long::longValue).sum(), a.getTotalSpendMicros(),
                    e.getKey().name() + ": analytics' total spend");
        }
    }

    /**
     * Alerts evaluated the whole feed, and each agent's alerts are exactly {@code expected} (dedupe
     * keys), each with exactly one FIRED event. Returns every alert listed.
     */
    List<Alert> assertAlertsOncePerCondition(Map<Agent, List<String>> expected, long feedLength) throws SQLException {
        ReplicasTest.awaitUntil(Duration.ofSeconds(60), "alerts to evaluate the feed up to " + feedLength, () -> {
            ReplicasTest.ConsumerStatus s = ReplicasTest.consumerStatus(alerts);
            return s.leader() && s.position() >= feedLength;
        });
        assertEquals(feedLength, ReplicasTest.consumerStatus(alerts).position(), "alerts' committed feed position");
        List<Alert> listed = listAlerts();
        Map<String, Long> firedPerAlert = firedEventsPerAlert();
        for (Map.Entry<Agent, List<String>> e : expected.entrySet()) {
            List<String> keys = ReplicasTest.keys(listed, e.getKey().id());
            assertEquals(e.getValue().stream().sorted().toList(), keys, e.getKey().name() + ": alerts, one per condition");
            for (Alert a : listed) {
                if (a.getAgentIdsList().contains(e.getKey().id())) {
                    assertEquals(1L, firedPerAlert.getOrDefault(a.getAlertId(), 0L), "FIRED events of " + a.getDedupeKey());
                }
            }
        }
        return listed;
    }

    List<Alert> listAlerts() {
        List<Alert> all = new ArrayList<>();
        String token = "";
        do {
            ListAlertsResponse page = alerts().listAlerts(ListAlertsRequest.newBuilder().setPageSize(500).setPageToken(token).build());
            all.addAll(page.getAlertsList());
            token = page.getNextPageToken();
        } while (!token.isEmpty());
        return all;
    }

    /** FIRED events per alert id, from the alert service's own table (every event ever written). */
    Map<String, Long> firedEventsPerAlert() throws SQLException {
        Map<String, Long> fired = new LinkedHashMap<>();
        try (Connection conn = DriverManager.getConnection(db.jdbcUrl(DATABASE), EmbeddedDatabase.USER, "");
             PreparedStatement s = conn.prepareStatement(
                     "select alert_id, count(*) from alerts.alert_events where event_type = ? group by alert_id")) {
            s.setString(1, ALERT_FIRED);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    fired.put(r.getString(1), r.getLong(2));
                }
            }
        }
        return fired;
    }

    private static long count(Connection conn, String sql, String agentId, String[] ids) throws SQLException {
        try (PreparedStatement st = conn.prepareStatement(sql)) {
            st.setString(1, agentId);
            if (ids != null) {
                st.setArray(2, conn.createArrayOf("text", ids));
            }
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private static com.google.protobuf.Timestamp timestamp(Instant t) {
        return com.google.protobuf.Timestamp.newBuilder().setSeconds(t.getEpochSecond()).build();
    }
}
