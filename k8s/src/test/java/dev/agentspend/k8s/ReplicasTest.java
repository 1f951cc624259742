package dev.agentspend.k8s;

import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.platform.ServiceProcess;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two ledger replicas, as the chart runs them, against one PostgreSQL database shared with one
 * identity: payments spread over both replicas never overspend a HARD cap or a balance, a retry
 * sent to the other replica is not charged twice, VerifyLedger is clean, and the entry feed read
 * from either replica is the same gapless sequence. When analytics-service has a build at least as
 * new as its sources, two analytics replicas run too, each reading the feed through a different
 * ledger replica: exactly one consumes (advisory-lock election) and both report every approved
 * payment once.
 *
 * <p>The services run from copies of their built applications (k8s/target/snapshots) so that a
 * concurrent rebuild of a service module cannot pull jars from under them, and they are configured
 * exactly as the chart configures them: QUARKUS_DATASOURCE_*, AGENTSPEND_*_TOKEN and
 * QUARKUS_GRPC_CLIENTS_IDENTITY_HOST / _PORT environment variables.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class ReplicasTest {
    static final String DATABASE = "agentspend_replicas";
    static final long PRICE = 10_000;                 // 0.01 USD per payment
    static final long CAP = 1_000_000;                // HARD lifetime cap: exactly 100 payments
    static final long CREDIT_CAPPED = 10_000_000;     // plenty of balance: the cap binds
    static final long CREDIT_POOR = 500_000;          // exactly 50 payments: the balance binds
    static final int ATTEMPTS = 160;                  // per agent, over both replicas

    static final String ADMIN_TOKEN = randomToken();
    static final String SERVICE_TOKEN = randomToken();

    static ServiceProcess identity;
    static final List<ServiceProcess> ledgers = new ArrayList<>();
    static final List<ManagedChannel> channels = new ArrayList<>();
    static ManagedChannel identityChannel;
    static final List<ServiceProcess> analytics = new ArrayList<>();
    /** Why the analytics replicas are not run (null: they are). */
    static String analyticsSkipped;
    static final List<ManagedChannel> analyticsChannels = new ArrayList<>();
    static final Map<String, Long> restingRssKb = new LinkedHashMap<>();

    @BeforeAll
    static void startReplicas() {
        EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
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

        Map<String, String> ledgerEnv = new java.util.HashMap<>(common);
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
        analyticsSkipped = freshBuild("analytics-service");
        if (analyticsSkipped == null) {
            // two analytics replicas, each reading the feed through a different ledger replica
            String analyticsModule = snapshot("analytics-service");
            for (int i = 0; i < 2; i++) {
                Map<String, String> env = new java.util.HashMap<>(ledgerEnv);
                env.put("QUARKUS_GRPC_CLIENTS_LEDGER_HOST", "localhost");
                env.put("QUARKUS_GRPC_CLIENTS_LEDGER_PORT", Integer.toString(ledgers.get(i).httpPort()));
                analytics.add(ServiceProcess.of(analyticsModule, ServiceProcess.freePort(), env).start());
            }
            for (ServiceProcess p : analytics) {
                p.awaitReady(Duration.ofSeconds(180));
                analyticsChannels.add(ManagedChannelBuilder.forAddress("localhost", p.httpPort()).usePlaintext().build());
            }
            restingRssKb.put("analytics-service", rssKb(analytics.get(0)));
        }
        identityChannel = ManagedChannelBuilder.forAddress("localhost", identity.httpPort()).usePlaintext().build();
    }

    @AfterAll
    static void stopReplicas() {
        channels.forEach(ManagedChannel::shutdownNow);
        analyticsChannels.forEach(ManagedChannel::shutdownNow);
        analytics.forEach(ServiceProcess::stop);
        if (identityChannel != null) {
            identityChannel.shutdownNow();
        }
        ledgers.forEach(ServiceProcess::stop);
        if (identity != null) {
            identity.stop();
        }
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

        if (analyticsSkipped != null) {
            System.out.println("analytics replicas not checked: " + analyticsSkipped);
        } else {
            analyticsReplicasCountEveryEntryOnce(v0.getEntryCount(), first, capped, poor);
        }

        Map<String, Long> loadedRssKb = new LinkedHashMap<>();
        loadedRssKb.put("identity-service", rssKb(identity));
        loadedRssKb.put("ledger-service#0", rssKb(ledgers.get(0)));
        loadedRssKb.put("ledger-service#1", rssKb(ledgers.get(1)));
        for (int i = 0; i < analytics.size(); i++) {
            loadedRssKb.put("analytics-service#" + i, rssKb(analytics.get(i)));
        }
        String figures = String.format(java.util.Locale.ROOT,
                "replicas: 1 identity + 2 ledger + %d analytics on one PostgreSQL; %d payments + %d retries in %.1f s (%.0f calls/s)"
                        + "; approved %d (cap) + %d (balance); feed %d entries, identical on both replicas%n"
                        + "resident memory at rest (kB, -Xmx256m -XX:+UseSerialGC): %s%n"
                        + "resident memory after the run (kB): %s%n",
                analytics.size(), requests.size(), requests.size(), seconds, 2 * requests.size() / seconds, cappedApproved, poorApproved,
                feed0.size(), restingRssKb, loadedRssKb);
        if (analyticsSkipped != null) {
            figures += "analytics replicas not checked: " + analyticsSkipped + System.lineSeparator();
        }
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
                Thread.sleep(100);
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

    static String randomToken() {
        byte[] bytes = new byte[24];
        new SecureRandom().nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    /**
     * Null if {@code module} has a build at least as new as its sources (a stale build would test
     * yesterday's code), otherwise why not.
     */
    static String freshBuild(String module) {
        Path dir = ServiceProcess.repositoryRoot().resolve(module);
        Path runner = dir.resolve("target/quarkus-app/quarkus-run.jar");
        if (!Files.isRegularFile(runner)) {
            return module + " is not built (mvn -B -q install -pl " + module + " -DskipTests)";
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
            return newest <= built ? null : module + "'s build is older than its sources: rebuild it to check its replicas";
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

    /**
     * Copies a service's built application to k8s/target/snapshots/&lt;module&gt;/target/quarkus-app
     * and returns that path as a module for {@link ServiceProcess#of}.
     */
    static String snapshot(String module) {
        Path root = ServiceProcess.repositoryRoot();
        Path source = root.resolve(module).resolve("target/quarkus-app");
        if (!Files.isRegularFile(source.resolve("quarkus-run.jar"))) {
            throw new IllegalStateException(source + " is missing: mvn -B -q install -pl " + module + " -DskipTests");
        }
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
