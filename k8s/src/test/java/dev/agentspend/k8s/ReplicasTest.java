package dev.agentspend.k8s;

import dev.agentspend.platform.Await;
import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.AlertEvent;
import dev.agentspend.proto.alerts.v1.AlertEventType;
import dev.agentspend.proto.alerts.v1.AlertServiceGrpc;
import dev.agentspend.proto.alerts.v1.ListAlertsRequest;
import dev.agentspend.proto.alerts.v1.ListAlertsResponse;
import dev.agentspend.proto.alerts.v1.Measurement;
import dev.agentspend.proto.alerts.v1.WatchAlertsRequest;
import dev.agentspend.proto.alerts.v1.WatchAlertsResponse;
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
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import dev.agentspend.proto.ledger.v1.GetBalanceResponse;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.StreamEntriesRequest;
import dev.agentspend.proto.ledger.v1.StreamEntriesResponse;
import dev.agentspend.proto.ledger.v1.VerifyLedgerRequest;
import dev.agentspend.proto.ledger.v1.VerifyLedgerResponse;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two replicas each of the ledger, analytics and alerts, as the chart runs them, against one
 * PostgreSQL database shared with one identity.
 *
 * <ul>
 *   <li>Ledger: payments spread over both replicas never overspend a HARD cap or a balance, a retry
 *   sent to the other replica is not charged twice, VerifyLedger is clean, and the entry feed read
 *   from either replica is the same gapless sequence.</li>
 *   <li>Analytics, each replica reading the feed through a different ledger replica: exactly one
 *   consumes (advisory-lock election) and both report every approved payment once.</li>
 *   <li>Alerts, each replica reading the feed through a different ledger replica: exactly one
 *   evaluates (it alone holds the consumer's advisory lock), every expected condition has exactly
 *   one alert and one FIRED event, with evidence that counts every entry once, and both replicas'
 *   ListAlerts and WatchAlerts agree. Then the evaluating replica is killed (SIGKILL) while payments
 *   keep coming: the standby takes over, the conditions already alerting are not alerted again
 *   and the new ones are alerted once.</li>
 * </ul>
 *
 * <p>The services run from copies of their built applications (k8s/target/snapshots) so that a
 * concurrent rebuild of a service module cannot pull jars from under them, and they are configured
 * exactly as the chart configures them: QUARKUS_DATASOURCE_*, AGENTSPEND_*_TOKEN,
 * AGENTSPEND_WEBHOOK_KEY (alerts) and QUARKUS_GRPC_CLIENTS_IDENTITY / _LEDGER _HOST / _PORT
 * environment variables, every other setting at its default. Every service runs unconditionally:
 * in {@code mvn verify} the k8s module comes after the services it runs, and a build older than its
 * sources fails the test with the command that rebuilds it (it would test older code than the
 * checkout's).
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class ReplicasTest {
    static final String DATABASE = "agentspend_replicas";
    static final long PRICE = 10_000;                 // 0.01 USD per payment
    static final long CAP = 1_000_000;                // HARD lifetime cap: exactly 100 payments
    static final long CREDIT_CAPPED = 10_000_000;     // plenty of balance: the cap binds
    static final long CREDIT_POOR = 500_000;          // exactly 50 payments: the balance binds
    static final int ATTEMPTS = 160;                  // per agent, over both replicas
    /** alert-service's ConsumerStore.CONSUMER_LOCK: the session advisory lock of the evaluating replica. */
    static final long ALERTS_CONSUMER_LOCK = 0xA1E7_0001L;

    static final String ADMIN_TOKEN = randomToken();
    static final String SERVICE_TOKEN = randomToken();
    static final String WEBHOOK_KEY = randomKey();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    static EmbeddedDatabase db;
    static ServiceProcess identity;
    static final List<ServiceProcess> ledgers = new ArrayList<>();
    static final List<ManagedChannel> channels = new ArrayList<>();
    static ManagedChannel identityChannel;
    static final List<ServiceProcess> analytics = new ArrayList<>();
    static final List<ManagedChannel> analyticsChannels = new ArrayList<>();
    static final List<ServiceProcess> alerts = new ArrayList<>();
    static final List<ManagedChannel> alertsChannels = new ArrayList<>();
    /** One WatchAlerts subscriber per alerts replica, from the first event on. */
    static final List<AlertWatch> alertWatches = new ArrayList<>();
    static final Map<String, Long> restingRssKb = new LinkedHashMap<>();

    @BeforeAll
    static void startReplicas() {
        db = EmbeddedPostgresTestResource.server();
        db.createDatabase(DATABASE);
        Map<String, String> common = Map.of(
                "QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl(DATABASE),
                "QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl(DATABASE),
                "QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER,
                "QUARKUS_DATASOURCE_PASSWORD", "",
                "AGENTSPEND_ADMIN_TOKEN", ADMIN_TOKEN,
                "AGENTSPEND_SERVICE_TOKEN", SERVICE_TOKEN);
        identity = ServiceProcess.of(snapshot("identity-service"), ServiceProcess.freePort(), common).start()
                .awaitReady(Duration.ofSeconds(180));
        restingRssKb.put("identity-service", rssKb(identity));

        Map<String, String> ledgerEnv = new HashMap<>(common);
        ledgerEnv.put("QUARKUS_GRPC_CLIENTS_IDENTITY_HOST", "localhost");
        ledgerEnv.put("QUARKUS_GRPC_CLIENTS_IDENTITY_PORT", Integer.toString(identity.httpPort()));
        String ledgerModule = snapshot("ledger-service");
        // both replicas start at once, as in a fresh install: Flyway's advisory lock lets one
        // migrate the ledger schema while the other waits
        for (int i = 0; i < 2; i++) {
            ledgers.add(ServiceProcess.of(ledgerModule, ServiceProcess.freePort(), ledgerEnv).start());
        }
        for (ServiceProcess p : ledgers) {
            p.awaitReady(Duration.ofSeconds(180));
            channels.add(ManagedChannelBuilder.forAddress("localhost", p.httpPort()).usePlaintext().build());
        }
        restingRssKb.put("ledger-service", rssKb(ledgers.get(0)));

        // two analytics and two alerts replicas, all four starting at once; replica i of each reads
        // the ledger's feed through ledger replica i (the chart's Service would pick any)
        String analyticsModule = snapshot("analytics-service");
        String alertsModule = snapshot("alert-service");
        for (int i = 0; i < 2; i++) {
            Map<String, String> env = new HashMap<>(ledgerEnv);
            env.put("QUARKUS_GRPC_CLIENTS_LEDGER_HOST", "localhost");
            env.put("QUARKUS_GRPC_CLIENTS_LEDGER_PORT", Integer.toString(ledgers.get(i).httpPort()));
            analytics.add(ServiceProcess.of(analyticsModule, ServiceProcess.freePort(), env).start());
            Map<String, String> alertsEnv = new HashMap<>(env);
            alertsEnv.put("AGENTSPEND_WEBHOOK_KEY", WEBHOOK_KEY);
            alerts.add(ServiceProcess.of(alertsModule, ServiceProcess.freePort(), alertsEnv).start());
        }
        for (ServiceProcess p : analytics) {
            p.awaitReady(Duration.ofSeconds(180));
            analyticsChannels.add(ManagedChannelBuilder.forAddress("localhost", p.httpPort()).usePlaintext().build());
        }
        for (ServiceProcess p : alerts) {
            p.awaitReady(Duration.ofSeconds(180));
            alertsChannels.add(ManagedChannelBuilder.forAddress("localhost", p.httpPort()).usePlaintext().build());
        }
        restingRssKb.put("analytics-service", rssKb(analytics.get(0)));
        restingRssKb.put("alert-service", rssKb(alerts.get(0)));
        for (int i = 0; i < 2; i++) {
            alertWatches.add(new AlertWatch(i));
        }
        identityChannel = ManagedChannelBuilder.forAddress("localhost", identity.httpPort()).usePlaintext().build();
    }

    @AfterAll
    static void stopReplicas() {
        alertWatches.forEach(AlertWatch::close);
        channels.forEach(ManagedChannel::shutdownNow);
        analyticsChannels.forEach(ManagedChannel::shutdownNow);
        alertsChannels.forEach(ManagedChannel::shutdownNow);
        alerts.forEach(ServiceProcess::stop);
        analytics.forEach(ServiceProcess::stop);
        if (identityChannel != null) {
            identityChannel.shutdownNow();
        }
        ledgers.forEach(ServiceProcess::stop);
        if (identity != null) {
            identity.stop();
        }
        // replicas that come and go, a leader taken over, identity away: warnings, never an error
        List<ServiceProcess> all = new ArrayList<>(ledgers);
        all.addAll(analytics);
        all.addAll(alerts);
        if (identity != null) {
            all.add(identity);
        }
        assertEquals(List.of(), DurablePlatform.errorsLogged(all), "ERROR lines in the replicas' logs");
    }

    @Test
    void paymentsSpreadOverTwoLedgerReplicasStayExact() throws Exception {
        Agent capped = newAgent(Cap.newBuilder().setWindow(CapWindow.CAP_WINDOW_LIFETIME).setLimitMicros(CAP)
                .setCurrencyCode("USD").setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD).build(), CREDIT_CAPPED);
        Agent poor = newAgent(Cap.newBuilder().setWindow(CapWindow.CAP_WINDOW_LIFETIME).setLimitMicros(100 * CAP)
                .setCurrencyCode("USD").setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD).build(), CREDIT_POOR);

        long start = System.nanoTime();
        List<PayRequest> requests = new ArrayList<>();
        List<Agent> payers = new ArrayList<>();
        for (int i = 0; i < ATTEMPTS; i++) {
            for (Agent a : List.of(capped, poor)) {
                requests.add(PayRequest.newBuilder().setRequestId("rep-" + a.id + "-" + i).setAmountMicros(PRICE)
                        .setCurrencyCode("USD").setTool(i % 3 == 0 ? "openai/chat.completions" : "serpapi/search")
                        .setTaskId("task-" + (i % 20)).setCallId("call-" + i).setAttempt(1).build());
                payers.add(a);
            }
        }
        List<Entry> first = new ArrayList<>();
        List<Entry> retried = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            // every request goes to replica i % 2, concurrently with the other agent's and the other replica's
            List<Future<Entry>> futures = new ArrayList<>();
            for (int i = 0; i < requests.size(); i++) {
                int n = i;
                futures.add(pool.submit(() -> ledger(n % 2, payers.get(n).key).pay(requests.get(n)).getEntry()));
            }
            for (Future<Entry> f : futures) {
                first.add(f.get(60, TimeUnit.SECONDS));
            }
            // the same requests again, each to the OTHER replica: an agent retrying after a lost answer
            futures.clear();
            for (int i = 0; i < requests.size(); i++) {
                int n = i;
                futures.add(pool.submit(() -> ledger((n + 1) % 2, payers.get(n).key).pay(requests.get(n)).getEntry()));
            }
            for (Future<Entry> f : futures) {
                retried.add(f.get(60, TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }
        double seconds = (System.nanoTime() - start) / 1e9;

        for (int i = 0; i < first.size(); i++) {
            assertEquals(first.get(i), retried.get(i), "a retry on the other replica must return the first answer");
        }
        long cappedApproved = first.stream().filter(e -> e.getAgentId().equals(capped.id)
                && e.getDecision() == Decision.DECISION_APPROVED).count();
        long poorApproved = first.stream().filter(e -> e.getAgentId().equals(poor.id)
                && e.getDecision() == Decision.DECISION_APPROVED).count();
        assertEquals(CAP / PRICE, cappedApproved, "HARD cap: exactly cap/price approvals over both replicas");
        assertEquals(CREDIT_POOR / PRICE, poorApproved, "balance: exactly balance/price approvals over both replicas");
        assertTrue(first.stream().filter(e -> e.getAgentId().equals(capped.id) && e.getDecision() == Decision.DECISION_DECLINED)
                .allMatch(e -> e.getDeclineReason() == DeclineReason.DECLINE_REASON_CAP_EXCEEDED));
        assertTrue(first.stream().filter(e -> e.getAgentId().equals(poor.id) && e.getDecision() == Decision.DECISION_DECLINED)
                .allMatch(e -> e.getDeclineReason() == DeclineReason.DECLINE_REASON_INSUFFICIENT_BALANCE));

        for (int r = 0; r < 2; r++) {
            GetBalanceResponse c = ledger(r, ADMIN_TOKEN).getBalance(GetBalanceRequest.newBuilder().setAgentId(capped.id).build());
            assertEquals(CREDIT_CAPPED - CAP, c.getBalanceMicros(), "capped agent's balance, replica " + r);
            assertEquals(CAP, c.getCapsList().get(0).getSpentMicros(), "capped agent's cap usage, replica " + r);
            assertEquals(0, c.getCapsList().get(0).getHeadroomMicros(), "capped agent's headroom, replica " + r);
            GetBalanceResponse p = ledger(r, ADMIN_TOKEN).getBalance(GetBalanceRequest.newBuilder().setAgentId(poor.id).build());
            assertEquals(0, p.getBalanceMicros(), "poor agent's balance, replica " + r);
            assertEquals(0, p.getHeldMicros());
        }

        VerifyLedgerResponse v0 = ledger(0, ADMIN_TOKEN).verifyLedger(VerifyLedgerRequest.getDefaultInstance());
        VerifyLedgerResponse v1 = ledger(1, ADMIN_TOKEN).verifyLedger(VerifyLedgerRequest.getDefaultInstance());
        assertTrue(v0.getConsistent(), "VerifyLedger: " + v0.getViolationsList());
        assertTrue(v1.getConsistent(), "VerifyLedger: " + v1.getViolationsList());
        assertEquals(v0.getEntryCount(), v1.getEntryCount());
        // two credits plus one entry per distinct request: retries recorded nothing
        assertEquals(2 + requests.size(), v0.getEntryCount(), "entries: credits + one per request, none per retry");

        List<Entry> feed0 = feed(0, v0.getEntryCount());
        List<Entry> feed1 = feed(1, v0.getEntryCount());
        assertEquals(feed0, feed1, "the feed is the same whichever replica serves it");
        for (int i = 0; i < feed0.size(); i++) {
            assertEquals(i + 1, feed0.get(i).getPosition(), "positions from 1 without gaps");
        }
        assertEquals(2, feed0.stream().filter(e -> e.getEventType() == EventType.EVENT_TYPE_CREDIT).count());
        assertEquals(cappedApproved + poorApproved, feed0.stream().filter(e -> e.getDecision() == Decision.DECISION_APPROVED
                && e.getEventType() != EventType.EVENT_TYPE_CREDIT).count(), "approved payments in the feed");
        for (Entry e : first) {
            assertEquals(e, feed0.get((int) e.getPosition() - 1), "the feed holds the answer the agent got");
        }

        analyticsReplicasCountEveryEntryOnce(v0.getEntryCount(), first, capped, poor);
        int alertsCount = alertReplicasAlertOncePerCondition(v0.getEntryCount(), first, capped, poor);

        Map<String, Long> loadedRssKb = new LinkedHashMap<>();
        loadedRssKb.put("identity-service", rssKb(identity));
        loadedRssKb.put("ledger-service#0", rssKb(ledgers.get(0)));
        loadedRssKb.put("ledger-service#1", rssKb(ledgers.get(1)));
        for (int i = 0; i < analytics.size(); i++) {
            loadedRssKb.put("analytics-service#" + i, rssKb(analytics.get(i)));
        }
        for (int i = 0; i < alerts.size(); i++) {
            loadedRssKb.put("alert-service#" + i, rssKb(alerts.get(i)));
        }

        String takeover = alertsTakeOverFromAKilledReplicaExactlyOnce();

        String figures = String.format(java.util.Locale.ROOT,
                "replicas: 1 identity + 2 ledger + 2 analytics + 2 alerts on one PostgreSQL; %d payments + %d retries in %.1f s (%.0f calls/s)"
                        + "; approved %d (cap) + %d (balance); feed %d entries, identical on both replicas; %d alerts, once each%n"
                        + "alerts hand-off: %s%n"
                        + "resident memory at rest (kB, -Xmx256m -XX:+UseSerialGC): %s%n"
                        + "resident memory after the run (kB): %s%n",
                requests.size(), requests.size(), seconds, 2 * requests.size() / seconds, cappedApproved, poorApproved,
                feed0.size(), alertsCount, takeover, restingRssKb, loadedRssKb);
        System.out.print(figures);
        Files.writeString(Path.of("target/replica-figures.txt"), figures);
    }

    /**
     * Two analytics replicas on the same database: one consumes the feed (advisory-lock election),
     * both answer queries, and the aggregates count every approved payment exactly once.
     */
    static void analyticsReplicasCountEveryEntryOnce(long entryCount, List<Entry> answers, Agent capped, Agent poor) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        List<GetIngestionStatusResponse> status;
        while (true) {
            status = List.of(analytics(0).getIngestionStatus(GetIngestionStatusRequest.getDefaultInstance()),
                    analytics(1).getIngestionStatus(GetIngestionStatusRequest.getDefaultInstance()));
            if (status.stream().allMatch(st -> st.getLedgerPosition() >= entryCount)) {
                break;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("analytics did not reach ledger position " + entryCount + ": " + status);
            }
            try {
                Thread.sleep(100);   // poll interval of this deadline-bounded wait
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
        assertEquals(entryCount, status.get(0).getLedgerPosition(), "analytics' stored feed position");
        assertEquals(1, status.stream().filter(GetIngestionStatusResponse::getConsumerActive).count(),
                "exactly one analytics replica consumes the feed: " + status);
        for (Agent agent : List.of(capped, poor)) {
            Map<String, Long> spend = new TreeMap<>();
            Map<String, Long> declines = new TreeMap<>();
            for (Entry e : answers) {
                if (e.getAgentId().equals(agent.id)) {
                    if (e.getDecision() == Decision.DECISION_APPROVED) {
                        spend.merge(e.getTool(), e.getAmountMicros(), Long::sum);
                    } else {
                        declines.merge(e.getTool(), 1L, Long::sum);
                    }
                }
            }
            GetToolAttributionRequest request = GetToolAttributionRequest.newBuilder().setAgentId(agent.id).build();
            GetToolAttributionResponse a0 = analytics(0).getToolAttribution(request);
            GetToolAttributionResponse a1 = analytics(1).getToolAttribution(request);
            assertEquals(a0.getToolsList(), a1.getToolsList(), "both analytics replicas answer the same");
            assertEquals(spend.values().stream().mapToLong(Long::longValue).sum(), a0.getTotalSpendMicros(),
                    "analytics' spend of " + agent.id + " equals the ledger's approvals, counted once");
            Map<String, Long> analyticsSpend = new TreeMap<>();
            Map<String, Long> analyticsDeclines = new TreeMap<>();
            for (ToolSpend t : a0.getToolsList()) {
                analyticsSpend.put(t.getTool(), t.getSpendMicros());
                if (t.getDeclineCount() > 0) {
                    analyticsDeclines.put(t.getTool(), t.getDeclineCount());
                }
            }
            assertEquals(spend, analyticsSpend, "spend per tool of " + agent.id);
            assertEquals(declines, analyticsDeclines, "declines per tool of " + agent.id);
        }
    }

    static AnalyticsServiceGrpc.AnalyticsServiceBlockingStub analytics(int replica) {
        return AnalyticsServiceGrpc.newBlockingStub(analyticsChannels.get(replica))
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(ADMIN_TOKEN)))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    /**
     * Two alerts replicas on the same database, each reading the feed through a different ledger
     * replica: one evaluates, and the payments above raise exactly the alerts they should, once
     * each, on both replicas alike. Returns how many alerts there are.
     *
     * <p>What the payments must raise follows from the ledger's answers and the rules' defaults:
     * the capped agent spent its whole 1 USD LIFETIME cap (CAP_UTILIZATION now:LIFETIME), 1 USD
     * within the hour with no daily cap and no earlier spend to compare with (SPEND_VELOCITY), more
     * than half of it on one tool if the approvals fell that way (TOOL_CONCENTRATION), and both
     * agents were declined more than 5 times within 5 minutes (DECLINE_BURST); the poor agent's 0.5
     * USD is under every other rule's 1 USD minimum.
     */
    static int alertReplicasAlertOncePerCondition(long entryCount, List<Entry> answers, Agent capped, Agent poor) {
        int leader = awaitAlertsEvaluated(entryCount, Duration.ofSeconds(60));
        List<ConsumerStatus> status = List.of(consumerStatus(alerts.get(0)), consumerStatus(alerts.get(1)));
        assertEquals(1, status.stream().filter(ConsumerStatus::leader).count(),
                "exactly one alerts replica evaluates the feed: " + status);
        assertEquals(List.of("alert-service-consumer"), alertsConsumerLockHolders(),
                "one database session holds the alerts consumer lock, the evaluating replica's");

        List<Alert> listed = listAlerts(leader, "");
        assertEquals(listed, listAlerts(1 - leader, ""), "both alerts replicas list the same alerts");

        Map<String, Long> spendPerTool = new TreeMap<>();
        long cappedDeclines = 0;
        long poorDeclines = 0;
        for (Entry e : answers) {
            if (e.getAgentId().equals(capped.id) && e.getDecision() == Decision.DECISION_APPROVED) {
                spendPerTool.merge(e.getTool(), e.getAmountMicros(), Long::sum);
            } else if (e.getAgentId().equals(capped.id)) {
                cappedDeclines++;
            } else if (e.getDecision() == Decision.DECISION_DECLINED) {
                poorDeclines++;
            }
        }
        Set<String> cappedExpected = new TreeSet<>(Set.of("CAP_UTILIZATION|" + capped.id + "|now:LIFETIME",
                "SPEND_VELOCITY|" + capped.id, "DECLINE_BURST|" + capped.id));
        long total = spendPerTool.values().stream().mapToLong(Long::longValue).sum();
        Map.Entry<String, Long> top = spendPerTool.entrySet().stream()
                .max(Map.Entry.<String, Long>comparingByValue().thenComparing(Map.Entry.comparingByKey(Comparator.reverseOrder())))
                .orElseThrow();
        if (top.getValue() * 1000 > total * 500) {
            cappedExpected.add("TOOL_CONCENTRATION|" + capped.id + "|" + top.getKey());
        }
        assertEquals(List.copyOf(cappedExpected), keys(listed, capped.id), "the capped agent's alerts, one per condition");
        assertEquals(List.of("DECLINE_BURST|" + poor.id), keys(listed, poor.id), "the poor agent's alerts, one per condition");

        // the evidence counts every entry once, whichever ledger replica it was paid through
        assertEquals(CAP, measure(alert(listed, "CAP_UTILIZATION|" + capped.id + "|now:LIFETIME"), "used_micros"));
        assertEquals(1000, measure(alert(listed, "CAP_UTILIZATION|" + capped.id + "|now:LIFETIME"), "utilization_permille"));
        assertEquals(CAP, measure(alert(listed, "SPEND_VELOCITY|" + capped.id), "window_spend_micros"));
        assertEquals(cappedDeclines, measure(alert(listed, "DECLINE_BURST|" + capped.id), "declines"));
        assertEquals(poorDeclines, measure(alert(listed, "DECLINE_BURST|" + poor.id), "declines"));

        // WatchAlerts on either replica: the same events, one FIRED per alert
        Set<String> ids = listed.stream().map(Alert::getAlertId).collect(Collectors.toCollection(TreeSet::new));
        for (AlertWatch w : alertWatches) {
            w.awaitFired(ids);
        }
        awaitUntil(Duration.ofSeconds(10), "both WatchAlerts streams to have the same events",
                () -> alertWatches.get(0).events().equals(alertWatches.get(1).events()));
        assertFiredOncePerAlert(alertWatches.get(0).events(), listed);
        return listed.size();
    }

    /**
     * Kills the evaluating alerts replica (SIGKILL, a crash: its open batch rolls back) while
     * payments keep coming through both ledger replicas. The standby takes the lock and resumes
     * from the committed position and state: the conditions already alerting are not alerted again
     * (same alert, its evidence counting on across the crash), the new ones are alerted once, and
     * the killed replica's WatchAlerts events are a prefix of the survivor's. Returns timings.
     */
    static String alertsTakeOverFromAKilledReplicaExactlyOnce() throws Exception {
        int leader = alertsLeader();
        int standby = 1 - leader;
        // steady: 5 payments reach its 0.05 USD cap, 5 more are declined; both conditions alert now
        Agent steady = newAgent(lifetimeCap(5 * PRICE), CREDIT_CAPPED);
        Agent late = newAgent(lifetimeCap(10 * PRICE), CREDIT_CAPPED);
        Entry last = null;
        for (int i = 0; i < 10; i++) {
            last = pay(i % 2, steady, "steady-" + i);
        }
        awaitAlertsEvaluated(last.getPosition(), Duration.ofSeconds(30));
        Set<String> steadyKeys = new TreeSet<>(Set.of("CAP_UTILIZATION|" + steady.id + "|now:LIFETIME",
                "DECLINE_BURST|" + steady.id));
        List<Alert> before = listAlerts(standby, steady.id);
        assertEquals(List.copyOf(steadyKeys), keys(before, steady.id), "steady's alerts before the crash");
        assertEquals(5, measure(alert(before, "DECLINE_BURST|" + steady.id), "declines"));

        // late: 10 payments reach its 0.10 USD cap, 10 more are declined, and steady is declined 10
        // more times, interleaved, over both ledger replicas; the evaluating replica dies on the way
        AtomicInteger sent = new AtomicInteger();
        ExecutorService traffic = Executors.newSingleThreadExecutor();
        Future<Entry> lastPaid;
        long killedAt;
        int sentAtKill;
        try {
            lastPaid = traffic.submit(() -> {
                Entry e = null;
                for (int i = 0; i < 20; i++) {
                    e = pay(i % 2, late, "late-" + i);
                    if (i % 2 == 1) {
                        e = pay(i % 2, steady, "steady-more-" + i);
                    }
                    sent.incrementAndGet();
                }
                return e;
            });
            awaitUntil(Duration.ofSeconds(30), "payments after the first alerts", () -> sent.get() >= 5 || lastPaid.isDone());
            alertWatches.get(leader).close();
            killedAt = System.nanoTime();
            sentAtKill = sent.get();
            alerts.get(leader).kill();
        } finally {
            traffic.shutdown();
        }
        awaitUntil(Duration.ofSeconds(30), "the standby alerts replica to take the consumer lock",
                () -> consumerStatus(alerts.get(standby)).leader());
        double toLead = (System.nanoTime() - killedAt) / 1e9;
        last = lastPaid.get(60, TimeUnit.SECONDS);
        assertEquals(standby, awaitAlertsEvaluated(last.getPosition(), Duration.ofSeconds(30)));
        double toCatchUp = (System.nanoTime() - killedAt) / 1e9;
        assertEquals(List.of("alert-service-consumer"), alertsConsumerLockHolders(), "the survivor holds the lock");

        List<Alert> after = listAlerts(standby, "");
        assertEquals(List.copyOf(steadyKeys), keys(after, steady.id), "no second alert for steady's conditions");
        for (Alert a : before) {
            assertEquals(a.getAlertId(), alert(after, a.getDedupeKey()).getAlertId(), "the same alert, before and after the crash");
        }
        assertEquals(15, measure(alert(after, "DECLINE_BURST|" + steady.id), "declines"),
                "the evidence counts each decline once across the crash");
        assertEquals(List.of("CAP_UTILIZATION|" + late.id + "|now:LIFETIME", "DECLINE_BURST|" + late.id),
                keys(after, late.id), "late's conditions, alerted once");
        assertEquals(10 * PRICE, measure(alert(after, "CAP_UTILIZATION|" + late.id + "|now:LIFETIME"), "used_micros"));
        assertEquals(10, measure(alert(after, "DECLINE_BURST|" + late.id), "declines"));

        AlertWatch survivor = alertWatches.get(standby);
        survivor.awaitFired(after.stream().map(Alert::getAlertId).collect(Collectors.toSet()));
        assertFiredOncePerAlert(survivor.events(), after);
        List<AlertEvent> killed = alertWatches.get(leader).events();
        List<AlertEvent> all = survivor.events();
        assertTrue(killed.size() <= all.size() && all.subList(0, killed.size()).equals(killed),
                "the killed replica's WatchAlerts events are a prefix of the survivor's");
        return String.format(java.util.Locale.ROOT,
                "alerts replica #%d killed after %d of 20 rounds of payments; #%d led after %.1f s and had evaluated every entry after %.1f s",
                leader, sentAtKill, standby, toLead, toCatchUp);
    }

    static Cap lifetimeCap(long micros) {
        return Cap.newBuilder().setWindow(CapWindow.CAP_WINDOW_LIFETIME).setLimitMicros(micros)
                .setCurrencyCode("USD").setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD).build();
    }

    static Entry pay(int replica, Agent agent, String request) {
        return ledger(replica, agent.key).pay(PayRequest.newBuilder().setRequestId(request + "-" + agent.id)
                .setAmountMicros(PRICE).setCurrencyCode("USD").setTool("serpapi/search").setAttempt(1).build()).getEntry();
    }

    /** Each alert has exactly one FIRED event, and each FIRED event is an alert listed. */
    static void assertFiredOncePerAlert(List<AlertEvent> events, List<Alert> listed) {
        Map<String, Long> firedPerKey = events.stream().filter(e -> e.getEventType() == AlertEventType.ALERT_EVENT_TYPE_FIRED)
                .collect(Collectors.groupingBy(e -> e.getAlert().getDedupeKey(), TreeMap::new, Collectors.counting()));
        Map<String, Long> listedPerKey = listed.stream()
                .collect(Collectors.groupingBy(Alert::getDedupeKey, TreeMap::new, Collectors.counting()));
        assertEquals(listedPerKey, firedPerKey, "one FIRED event per alert, one alert per condition");
        assertTrue(listedPerKey.values().stream().allMatch(n -> n == 1), "one alert per condition: " + listedPerKey);
        Set<String> listedIds = listed.stream().map(Alert::getAlertId).collect(Collectors.toCollection(TreeSet::new));
        Set<String> firedIds = events.stream().filter(e -> e.getEventType() == AlertEventType.ALERT_EVENT_TYPE_FIRED)
                .map(e -> e.getAlert().getAlertId()).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(listedIds, firedIds, "the FIRED events are those of the alerts listed");
        for (int i = 1; i < events.size(); i++) {
            assertTrue(events.get(i).getEventId() > events.get(i - 1).getEventId(), "event ids increase");
        }
    }

    /** The dedupe keys of an agent's alerts, sorted, duplicates kept. */
    static List<String> keys(List<Alert> listed, String agentId) {
        return listed.stream().filter(a -> a.getAgentIdsList().contains(agentId)).map(Alert::getDedupeKey).sorted().toList();
    }

    static Alert alert(List<Alert> listed, String dedupeKey) {
        return listed.stream().filter(a -> a.getDedupeKey().equals(dedupeKey)).findFirst()
                .orElseThrow(() -> new AssertionError("no alert " + dedupeKey + " in " + listed.stream().map(Alert::getDedupeKey).toList()));
    }

    static long measure(Alert alert, String name) {
        return alert.getEvidence().getMeasurementsList().stream().filter(m -> m.getName().equals(name))
                .mapToLong(Measurement::getValue).findFirst()
                .orElseThrow(() -> new AssertionError("no measurement " + name + " in " + alert.getEvidence()));
    }

    /** Every alert one replica lists (all pages), optionally of one agent. */
    static List<Alert> listAlerts(int replica, String agentId) {
        List<Alert> all = new ArrayList<>();
        String token = "";
        do {
            ListAlertsResponse page = alerts(replica).listAlerts(ListAlertsRequest.newBuilder().setAgentId(agentId)
                    .setPageSize(500).setPageToken(token).build());
            all.addAll(page.getAlertsList());
            token = page.getNextPageToken();
        } while (!token.isEmpty());
        return all;
    }

    static AlertServiceGrpc.AlertServiceBlockingStub alerts(int replica) {
        return AlertServiceGrpc.newBlockingStub(alertsChannels.get(replica))
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(ADMIN_TOKEN)))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    /** What an alerts replica's readiness check reports about its consumer. */
    record ConsumerStatus(boolean leader, long position) {
    }

    static final Pattern LEADER = Pattern.compile("\"leader\"\\s*:\\s*(true|false)");
    static final Pattern POSITION = Pattern.compile("\"position\"\\s*:\\s*(\\d+)");

    static ConsumerStatus consumerStatus(ServiceProcess p) {
        String body;
        try {
            body = HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + p.httpPort() + "/q/health/ready"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        Matcher leader = LEADER.matcher(body);
        Matcher position = POSITION.matcher(body);
        if (!leader.find() || !position.find()) {
            throw new AssertionError("no consumer status in the readiness of port " + p.httpPort() + ": " + body);
        }
        return new ConsumerStatus(Boolean.parseBoolean(leader.group(1)), Long.parseLong(position.group(1)));
    }

    /** The index of the one running alerts replica that evaluates; fails if none or several. */
    static int alertsLeader() {
        int leader = -1;
        for (int i = 0; i < alerts.size(); i++) {
            if (alerts.get(i).isAlive() && consumerStatus(alerts.get(i)).leader()) {
                assertEquals(-1, leader, "two alerts replicas evaluate");
                leader = i;
            }
        }
        assertTrue(leader >= 0, "no alerts replica evaluates");
        return leader;
    }

    /** Waits until a running alerts replica evaluates and has committed {@code position}; returns it. */
    static int awaitAlertsEvaluated(long position, Duration timeout) {
        int[] found = {-1};
        List<ConsumerStatus> seen = new ArrayList<>();
        awaitUntil(timeout, "an alerts replica to evaluate up to ledger position " + position + " (" + seen + ")", () -> {
            seen.clear();
            for (int i = 0; i < alerts.size(); i++) {
                ConsumerStatus s = alerts.get(i).isAlive() ? consumerStatus(alerts.get(i)) : null;
                seen.add(s);
                if (s != null && s.leader() && s.position() >= position) {
                    found[0] = i;
                    return true;
                }
            }
            return false;
        });
        return found[0];
    }

    /** The application names of the database sessions holding the alerts consumer's advisory lock. */
    static List<String> alertsConsumerLockHolders() {
        // a bigint advisory lock shows in pg_locks as classid (high 32 bits), objid (low 32 bits), objsubid 1
        String sql = "select a.application_name from pg_locks l join pg_stat_activity a on a.pid = l.pid "
                + "where l.locktype = 'advisory' and l.granted and l.objsubid = 1 "
                + "and l.classid::bigint = ? and l.objid::bigint = ? "
                + "and l.database = (select oid from pg_database where datname = current_database())";
        try (Connection c = DriverManager.getConnection(db.jdbcUrl(DATABASE), EmbeddedDatabase.USER, "");
             PreparedStatement s = c.prepareStatement(sql)) {
            s.setLong(1, ALERTS_CONSUMER_LOCK >>> 32);
            s.setLong(2, ALERTS_CONSUMER_LOCK & 0xFFFF_FFFFL);
            List<String> holders = new ArrayList<>();
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    holders.add(r.getString(1));
                }
            }
            return holders;
        } catch (SQLException e) {
            throw new AssertionError("could not read pg_locks", e);
        }
    }

    /**
     * A WatchAlerts subscriber of one alerts replica (service token, no filter, from the first
     * event), resuming after the last event it saw when the stream ends, as a client should.
     */
    static final class AlertWatch {
        final int replica;
        final List<AlertEvent> events = new CopyOnWriteArrayList<>();
        volatile boolean closed;
        volatile Context.CancellableContext context;

        AlertWatch(int replica) {
            this.replica = replica;
            subscribe();
        }

        synchronized void subscribe() {
            if (closed) {
                return;
            }
            long after = events.isEmpty() ? 0 : events.get(events.size() - 1).getEventId();
            context = Context.current().withCancellation();
            context.run(() -> AlertServiceGrpc.newStub(alertsChannels.get(replica))
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(SERVICE_TOKEN)))
                    .watchAlerts(WatchAlertsRequest.newBuilder().setAfterEventId(after).build(), new StreamObserver<>() {
                        @Override
                        public void onNext(WatchAlertsResponse r) {
                            events.add(r.getEvent());
                        }

                        @Override
                        public void onError(Throwable t) {
                            resubscribeSoon();
                        }

                        @Override
                        public void onCompleted() {
                            resubscribeSoon();
                        }
                    }));
        }

        void resubscribeSoon() {
            if (!closed) {
                java.util.concurrent.CompletableFuture.runAsync(this::subscribe,
                        java.util.concurrent.CompletableFuture.delayedExecutor(200, TimeUnit.MILLISECONDS));
            }
        }

        List<AlertEvent> events() {
            return List.copyOf(events);
        }

        void awaitFired(Set<String> alertIds) {
            awaitUntil(Duration.ofSeconds(20), "WatchAlerts of alerts replica " + replica + " to deliver FIRED for " + alertIds,
                    () -> events().stream().filter(e -> e.getEventType() == AlertEventType.ALERT_EVENT_TYPE_FIRED)
                            .map(e -> e.getAlert().getAlertId()).collect(Collectors.toSet()).containsAll(alertIds));
        }

        synchronized void close() {
            closed = true;
            if (context != null) {
                context.cancel(null);
            }
        }
    }

    static void awaitUntil(Duration timeout, String what, Supplier<Boolean> condition) {
        Await.until(timeout, what, condition::get);
    }

    record Agent(String id, String key) {
    }

    static Agent newAgent(Cap cap, long credit) {
        String suffix = randomToken().substring(0, 10);
        CreateAgentResponse created = IdentityServiceGrpc.newBlockingStub(identityChannel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(ADMIN_TOKEN)))
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .createAgent(CreateAgentRequest.newBuilder().setRequestId("agent-" + suffix).setHandle("replica-" + suffix)
                        .setDisplayName("replica test agent").setMode(AgentMode.AGENT_MODE_PRODUCTION).setCurrencyCode("USD")
                        .setPolicy(SpendingPolicy.newBuilder().addCaps(cap)).build());
        Agent agent = new Agent(created.getAgent().getId(), created.getApiKeySecret());
        // each replica learns the agent from identity's policy feed on its own
        for (int r = 0; r < 2; r++) {
            awaitKnown(r, agent);
        }
        ledger(0, ADMIN_TOKEN).credit(CreditRequest.newBuilder().setRequestId("credit-" + suffix).setAgentId(agent.id)
                .setAmountMicros(credit).setCurrencyCode("USD").setNote("replica test").build());
        return agent;
    }

    static void awaitKnown(int replica, Agent agent) {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (true) {
            try {
                ledger(replica, agent.key).getBalance(GetBalanceRequest.getDefaultInstance());
                return;
            } catch (StatusRuntimeException e) {
                // UNAVAILABLE: the replica's first policy snapshot has not arrived yet
                boolean notYet = e.getStatus().getCode() == Status.Code.UNAUTHENTICATED
                        || e.getStatus().getCode() == Status.Code.UNAVAILABLE;
                if (!notYet || System.nanoTime() > deadline) {
                    throw new AssertionError("ledger replica " + replica + " does not know agent " + agent.id, e);
                }
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    /** The whole feed from one replica: reads until {@code count} entries, then cancels the stream. */
    static List<Entry> feed(int replica, long count) {
        Context.CancellableContext context = Context.current().withCancellation();
        try {
            return context.call(() -> {
                Iterator<StreamEntriesResponse> it = ledger(replica, SERVICE_TOKEN)
                        .streamEntries(StreamEntriesRequest.newBuilder().setAfterPosition(0).build());
                List<Entry> entries = new ArrayList<>();
                while (entries.size() < count && it.hasNext()) {
                    StreamEntriesResponse r = it.next();
                    if (r.hasEntry()) {
                        entries.add(r.getEntry());
                    }
                }
                return entries;
            });
        } catch (Exception e) {
            throw new AssertionError("feed of replica " + replica, e);
        } finally {
            context.cancel(null);
        }
    }

    static LedgerServiceGrpc.LedgerServiceBlockingStub ledger(int replica, String token) {
        return LedgerServiceGrpc.newBlockingStub(channels.get(replica))
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    static Metadata bearer(String token) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return headers;
    }

    /** An AES-256 key as the chart's webhook-key Secret holds it: base64 of 32 random bytes. */
    static String randomKey() {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return Base64.getEncoder().encodeToString(bytes);
    }

    static String randomToken() {
        byte[] bytes = new byte[24];
        new SecureRandom().nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    /**
     * Null if {@code module} has a build at least as new as its sources, otherwise why not: a
     * stale build would test older code than the checkout's (it happened with an analytics build
     * that still had a since-fixed policy-feed bug).
     */
    static String staleBuild(String module) {
        Path dir = ServiceProcess.repositoryRoot().resolve(module);
        Path runner = dir.resolve("target/quarkus-app/quarkus-run.jar");
        String rebuild = " (mvn -B -q install -pl " + module + " -DskipTests)";
        if (!Files.isRegularFile(runner)) {
            return module + " is not built" + rebuild;
        }
        try (Stream<Path> sources = Stream.concat(Files.walk(dir.resolve("src/main")), Stream.of(dir.resolve("pom.xml")))) {
            long built = Files.getLastModifiedTime(runner).toMillis();
            long newest = sources.filter(Files::isRegularFile).mapToLong(f -> {
                try {
                    return Files.getLastModifiedTime(f).toMillis();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).max().orElse(0);
            return newest <= built ? null : module + "'s build is older than its sources: rebuild it" + rebuild;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** VmRSS of a running service process, in kB, from /proc. */
    static long rssKb(ServiceProcess p) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(p.pid()), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new AssertionError("no VmRSS for " + p.pid());
    }

    /** Module -> its snapshot, made once per test run (see {@link #snapshot}). */
    private static final java.util.Map<String, String> SNAPSHOTS = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * A copy of the module's built application that the services of these tests run from, so that a
     * rebuild meanwhile cannot change them. Made once per test run: copied again for every start, it
     * deleted the jars of a service of the same module still running from the copy before, and a
     * Quarkus application reopens its jars after start-up whenever it loads a class, which then
     * blocked its event loops for good on the deleted jar (quarkus#48750; seen in CI as a ledger that
     * stopped answering ten seconds after another test started a second one).
     */
    static String snapshot(String module) {
        String stale = staleBuild(module);
        if (stale != null) {
            throw new IllegalStateException(stale);
        }
        return SNAPSHOTS.computeIfAbsent(module, ReplicasTest::copyOf);
    }

    /**
     * Copies a service's built application, which must be at least as new as its sources, to
     * k8s/target/snapshots/&lt;module&gt;/target/quarkus-app and returns that path as a module for
     * {@link ServiceProcess#of}.
     */
    private static String copyOf(String module) {
        Path root = ServiceProcess.repositoryRoot();
        Path source = root.resolve(module).resolve("target/quarkus-app");
        String snapshotModule = "k8s/target/snapshots/" + module;
        Path target = root.resolve(snapshotModule).resolve("target/quarkus-app");
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
            throw new UncheckedIOException("could not copy " + source, e);
        }
        return snapshotModule;
    }
}
