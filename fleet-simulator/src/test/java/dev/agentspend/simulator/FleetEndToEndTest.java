package dev.agentspend.simulator;

import dev.agentspend.client.AgentSpendClient;
import dev.agentspend.client.Payment;
import dev.agentspend.client.PaymentDeclinedException;
import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.RuleAction;
import dev.agentspend.proto.analytics.v1.FleetAgent;
import dev.agentspend.proto.analytics.v1.GetIngestionStatusRequest;
import dev.agentspend.proto.analytics.v1.GetToolAttributionRequest;
import dev.agentspend.proto.identity.v1.AgentStatus;
import dev.agentspend.proto.identity.v1.GetAgentRequest;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.ListEntriesRequest;
import dev.agentspend.proto.ledger.v1.ListEntriesResponse;
import dev.agentspend.proto.ledger.v1.VerifyLedgerRequest;
import dev.agentspend.proto.ledger.v1.VerifyLedgerResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The whole platform as a user runs it: identity, the ledger, analytics and alerts as their built
 * jars on one embedded PostgreSQL (one database, each service its own schema, as
 * {@code ./agentspend up}), a simulated fleet driven through the client library, and what a user
 * would check: each misbehaving agent named by the right rule and no well-behaved agent named at
 * all, the hijacked agent suspended by the platform itself and its next payment declined, analytics
 * agreeing with the ledger to the micro, and the ledger's invariants intact.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class FleetEndToEndTest {
    private static final String ADMIN = "e2e-admin-" + UUID.randomUUID();
    private static final String SERVICE = "e2e-service-" + UUID.randomUUID();
    /** The alert service's rule buckets: 1 s here (as its own tests), 60 s in production. */
    private static final int BUCKET_SECONDS = 1;
    private static final Duration RUN = Duration.ofSeconds(20);

    private static EmbeddedDatabase db;
    private static final List<ServiceProcess> services = new ArrayList<>();
    private static int identityPort, ledgerPort, analyticsPort, alertsPort;

    @BeforeAll
    static void startPlatform() throws Exception {
        db = EmbeddedDatabase.throwaway().start();
        db.createDatabase("agentspend");
        identityPort = ServiceProcess.freePort();
        ledgerPort = ServiceProcess.freePort();
        analyticsPort = ServiceProcess.freePort();
        alertsPort = ServiceProcess.freePort();

        ServiceProcess identity = start("identity-service", identityPort, Map.of());
        identity.awaitReady(Duration.ofSeconds(90));
        ServiceProcess ledger = start("ledger-service", ledgerPort, Map.of());
        ledger.awaitReady(Duration.ofSeconds(90));
        byte[] key = new byte[32];
        new java.security.SecureRandom().nextBytes(key);
        ServiceProcess analytics = start("analytics-service", analyticsPort, Map.of());
        ServiceProcess alerts = start("alert-service", alertsPort, Map.of(
                "AGENTSPEND_WEBHOOK_KEY", Base64.getEncoder().encodeToString(key),
                "AGENTSPEND_ALERTS_BUCKET_SECONDS", Integer.toString(BUCKET_SECONDS)));
        CompletableFuture.allOf(
                CompletableFuture.runAsync(() -> analytics.awaitReady(Duration.ofSeconds(90))),
                CompletableFuture.runAsync(() -> alerts.awaitReady(Duration.ofSeconds(90)))).get(100, TimeUnit.SECONDS);
    }

    private static ServiceProcess start(String module, int port, Map<String, String> extra) {
        Map<String, String> env = new HashMap<>(extra);
        env.put("QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl("agentspend"));
        env.put("QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl("agentspend"));
        env.put("QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER);
        env.put("QUARKUS_DATASOURCE_PASSWORD", "");
        env.put("AGENTSPEND_ADMIN_TOKEN", ADMIN);
        env.put("AGENTSPEND_SERVICE_TOKEN", SERVICE);
        Map<String, Integer> peers = Map.of("IDENTITY", identityPort, "LEDGER", ledgerPort,
                "ANALYTICS", analyticsPort, "ALERTS", alertsPort);
        peers.forEach((name, p) -> {
            env.put("QUARKUS_GRPC_CLIENTS_" + name + "_HOST", "localhost");
            env.put("QUARKUS_GRPC_CLIENTS_" + name + "_PORT", Integer.toString(p));
            env.put("AGENTSPEND_" + name + "_HOST", "localhost");
            env.put("AGENTSPEND_" + name + "_PORT", Integer.toString(p));
        });
        ServiceProcess s = ServiceProcess.of(module, port, env).start();
        services.add(s);
        return s;
    }

    @AfterAll
    static void stopPlatform() {
        for (int i = services.size() - 1; i >= 0; i--) {
            services.get(i).stop();
        }
        if (db != null) {
            db.close();
        }
        // a fleet run, suspensions and loops included, then a graceful stop: warnings at most
        List<String> errors = new ArrayList<>();
        services.forEach(s -> s.errorLines().forEach(l -> errors.add(s.logFile().getFileName() + ": " + l)));
        org.junit.jupiter.api.Assertions.assertEquals(List.of(), errors, "ERROR lines in the services' logs");
    }

    @Test
    void aSimulatedFleetIsWatchedEndToEnd() throws Exception {
        Instant testStart = Instant.now();
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(new TeeStream(System.out, captured), true, StandardCharsets.UTF_8);
        try (Platform platform = Platform.local("localhost", identityPort, ledgerPort, analyticsPort, alertsPort, ADMIN)) {
            FleetSimulator sim = new FleetSimulator(platform,
                    new FleetSimulator.Settings(RUN, BUCKET_SECONDS, "e2e", out));
            FleetSimulator.Fleet fleet = sim.createFleet();
            FleetSimulator.Outcome outcome = sim.run(fleet);
            assertTrue(outcome.errors.isEmpty(), "the agents ran without errors: " + outcome.errors);

            // 1. every misbehaving agent is named by its rule (bounded wait: alerts follow the feed)
            List<Alert> alerts = sim.awaitAlerts(fleet, Duration.ofSeconds(30));
            assertTrue(sim.notYetAlerted(fleet, alerts).isEmpty(),
                    "misbehaving agents without their alert: " + sim.notYetAlerted(fleet, alerts));
            for (SimAgent a : fleet.agents()) {
                if (a.behaviour().misbehaves()) {
                    assertTrue(alerts.stream().anyMatch(al -> al.getRule() == a.behaviour().expectedRule()
                            && al.getAgentIdsList().contains(a.id())), a + " alerted by " + a.behaviour().expectedRule());
                }
            }
            List<SimAgent> loop = fleet.with(Behaviour.PAYMENT_LOOP);
            assertTrue(alerts.stream().anyMatch(al -> al.getRule() == Behaviour.PAYMENT_LOOP.expectedRule()
                            && al.getAgentIdsList().containsAll(loop.stream().map(SimAgent::id).toList())),
                    "one PAYMENT_LOOP alert names the whole circle");

            // 2. once alerts and analytics have consumed the whole ledger, no well-behaved agent was named
            long ledgerEntries = verify(platform).getEntryCount();
            awaitTrue("alerts and analytics consumed all " + ledgerEntries + " ledger entries", Duration.ofSeconds(30),
                    () -> alertsPosition() >= ledgerEntries && platform.analyticsAdmin()
                            .getIngestionStatus(GetIngestionStatusRequest.getDefaultInstance()).getLedgerPosition() >= ledgerEntries);
            List<Alert> finalAlerts = sim.alerts(fleet);
            for (SimAgent a : fleet.with(Behaviour.WELL_BEHAVED)) {
                List<Alert> named = finalAlerts.stream().filter(al -> al.getAgentIdsList().contains(a.id())).toList();
                assertTrue(named.isEmpty(), a + " is well-behaved but was alerted: " + named);
                assertTrue(outcome.approvedOf(a) > 0, a + " made payments");
            }

            // 3. the hijacked agent was suspended by the alert service, and its next payment is declined
            SimAgent hijacked = fleet.one(Behaviour.HIJACKED);
            Alert spike = finalAlerts.stream().filter(al -> al.getRule() == Behaviour.HIJACKED.expectedRule()
                    && al.getAgentIdsList().contains(hijacked.id())).findFirst().orElseThrow();
            assertEquals(RuleAction.RULE_ACTION_SUSPEND, spike.getAction(), "the spike rule suspends by default");
            assertEquals("tools/premium-scraper", spike.getEvidence().getTool());
            awaitTrue(hijacked + " suspended in identity", Duration.ofSeconds(15), () -> platform.identityAdmin()
                    .getAgent(GetAgentRequest.newBuilder().setAgent(hijacked.id()).build()).getAgent().getStatus()
                    == AgentStatus.AGENT_STATUS_SUSPENDED);
            try (AgentSpendClient c = AgentSpendClient.builder().channel(platform.ledgerChannel())
                    .apiKey(hijacked.apiKey()).build()) {
                PaymentDeclinedException declined = null;
                try {
                    c.pay(Payment.of(1_000, "USD", "web/search"));
                } catch (PaymentDeclinedException d) {
                    declined = d;
                }
                assertTrue(declined != null, "the suspended agent's payment is declined");
                assertEquals(DeclineReason.DECLINE_REASON_AGENT_SUSPENDED, declined.reason());
            }
            assertEquals(DeclineReason.DECLINE_REASON_AGENT_SUSPENDED, outcome.firstDecline.get(hijacked.id()),
                    "the hijacked agent's own loop was stopped by the suspension");

            // the circle is broken too (PAYMENT_LOOP suspends every agent of the cycle); steady agents stay active
            awaitTrue("the payment loop's agents suspended", Duration.ofSeconds(15), () -> loop.stream().allMatch(a ->
                    Report.statuses(platform, fleet).get(a.id()) == AgentStatus.AGENT_STATUS_SUSPENDED));
            Map<String, AgentStatus> statuses = Report.statuses(platform, fleet);
            for (SimAgent a : fleet.with(Behaviour.WELL_BEHAVED)) {
                assertEquals(AgentStatus.AGENT_STATUS_ACTIVE, statuses.get(a.id()), a + " stays active");
            }

            // 4. analytics' totals equal the ledger's, per agent and in all, to the micro
            long ledgerTotal = 0, analyticsTotal = 0;
            Instant from = Instant.now().minus(Duration.ofDays(30));
            Instant to = Instant.now().plus(Duration.ofMinutes(2));
            for (SimAgent a : fleet.agents()) {
                long ledgerSpend = ledgerSpend(platform, a.id());
                long analyticsSpend = platform.analyticsAdmin().getToolAttribution(GetToolAttributionRequest.newBuilder()
                        .setAgentId(a.id()).setStartTime(ts(from)).setEndTime(ts(to)).build()).getTotalSpendMicros();
                assertEquals(ledgerSpend, analyticsSpend, "spend of " + a + ": ledger vs analytics");
                assertTrue(ledgerSpend > 0, a + " spent something");
                ledgerTotal += ledgerSpend;
                analyticsTotal += analyticsSpend;
            }
            assertEquals(ledgerTotal, analyticsTotal);
            List<FleetAgent> overview = Report.overview(platform, fleet);
            assertEquals(fleet.agents().size(), overview.size(), "the fleet overview lists every agent of the team");
            FleetAgent research = overview.stream()
                    .filter(f -> f.getAgentId().equals(fleet.one(Behaviour.MODEL_SWAP).id())).findFirst().orElseThrow();
            assertTrue(research.getHasCostChange() && research.getCostPerTaskChangePercent() > 100,
                    "the back-dated history gives the research agent a week-over-week change: " + research);

            // 5. the ledger's invariants hold
            VerifyLedgerResponse verified = verify(platform);
            assertTrue(verified.getConsistent(), "VerifyLedger: " + verified.getViolationsList());
            assertEquals(0, verified.getViolationsCount());

            Report.print(out, fleet, overview, finalAlerts, Report.statuses(platform, fleet));
            out.printf("END-TO-END: %d entries, %d alerts, %.1f s for the fleet and its checks%n", verified.getEntryCount(),
                    finalAlerts.size(), (System.currentTimeMillis() - testStart.toEpochMilli()) / 1000.0);
        }
        assertFalse(captured.toString(StandardCharsets.UTF_8).contains("was never declined"));
    }

    private static VerifyLedgerResponse verify(Platform platform) {
        return platform.ledgerAdmin().withDeadlineAfter(60, TimeUnit.SECONDS).verifyLedger(VerifyLedgerRequest.getDefaultInstance());
    }

    /** The agent's spend as the ledger records it: the sum of spend_micros over all its entries. */
    private static long ledgerSpend(Platform platform, String agentId) {
        long sum = 0;
        String token = "";
        for (int page = 0; page < 100; page++) {
            ListEntriesResponse r = platform.ledgerAdmin().listEntries(ListEntriesRequest.newBuilder()
                    .setAgentId(agentId).setPageSize(1000).setPageToken(token).build());
            for (Entry e : r.getEntriesList()) {
                sum += e.getSpendMicros();
            }
            token = r.getNextPageToken();
            if (token.isEmpty()) {
                return sum;
            }
        }
        fail("more than 100 pages of entries for " + agentId);
        return sum;
    }

    private static final Pattern POSITION = Pattern.compile("\"position\"\\s*:\\s*(\\d+)");

    /** The alert service's committed feed position, from its readiness check. */
    private static long alertsPosition() {
        try {
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create("http://localhost:" + alertsPort + "/q/health/ready")).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            Matcher m = POSITION.matcher(r.body());
            return m.find() ? Long.parseLong(m.group(1)) : -1;
        } catch (Exception e) {
            return -1;
        }
    }

    private static com.google.protobuf.Timestamp ts(Instant t) {
        return com.google.protobuf.Timestamp.newBuilder().setSeconds(t.getEpochSecond() / 60 * 60).build();
    }

    private static void awaitTrue(String what, Duration bound, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("not within " + bound + ": " + what);
            }
            TimeUnit.MILLISECONDS.sleep(200);
        }
    }

    /** Prints the simulator's progress to the console and keeps it for assertions. */
    private static final class TeeStream extends java.io.OutputStream {
        private final java.io.OutputStream a, b;

        TeeStream(java.io.OutputStream a, java.io.OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void write(int x) throws java.io.IOException {
            a.write(x);
            b.write(x);
        }

        @Override
        public void write(byte[] buf, int off, int len) throws java.io.IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }

        @Override
        public void flush() throws java.io.IOException {
            a.flush();
            b.flush();
        }
    }
}
