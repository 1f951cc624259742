package dev.agentspend.k8s;

import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.analytics.v1.GetIngestionStatusRequest;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.PayRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
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
 * Analytics and alerts killed with SIGKILL in the middle of the entry feed while agents keep
 * paying, then started again: analytics' totals per agent equal the ledger's to the micro (no
 * entry lost, none counted twice) and every alert condition fired exactly once, whether it arose
 * before the kill (it must not fire again when the restarted consumer replays the feed) or while
 * the consumers were dead (it must not be missed).
 *
 * <p>Three agents pay 0.01 USD per payment, 50 payments each (0.5 USD, under every spend rule's 1
 * USD minimum): "retrier" marks every other payment a retry (attempt 2), so RETRY_RATE fires at its
 * 20th payment, before the kill; "capper" has a 0.55 USD LIFETIME cap that it uses past 80% at its
 * 45th payment, after the kill (CAP_UTILIZATION); "steady" raises nothing. No service logs an
 * ERROR line through the kill, the restart and a graceful stop of all four.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ConsumerRestartTest {
    static final long PRICE = 10_000;
    static final long CREDIT = 10_000_000;
    static final int PAYMENTS = 50;
    /** Paid before the kill: retrier's condition arises here, capper's does not (30 x 0.01 = 55% of its cap). */
    static final int BEFORE_KILL = 30;
    static final long CAPPER_CAP = 550_000;
    static final long ROOMY_CAP = 10_000_000;

    static DurablePlatform platform;

    @BeforeAll
    static void start() {
        platform = new DurablePlatform();
    }

    @AfterAll
    static void stop() {
        if (platform != null) {
            platform.close();
        }
    }

    @Test
    void killedConsumersResumeWithExactTotalsAndOneAlertPerCondition() throws Exception {
        DurablePlatform.Agent retrier = platform.newAgent("retrier", CapWindow.CAP_WINDOW_LIFETIME, ROOMY_CAP, CREDIT);
        DurablePlatform.Agent capper = platform.newAgent("capper", CapWindow.CAP_WINDOW_LIFETIME, CAPPER_CAP, CREDIT);
        DurablePlatform.Agent steady = platform.newAgent("steady", CapWindow.CAP_WINDOW_LIFETIME, ROOMY_CAP, CREDIT);
        List<DurablePlatform.Agent> agents = List.of(retrier, capper, steady);
        Map<DurablePlatform.Agent, Map<String, Entry>> acknowledged = new LinkedHashMap<>();
        agents.forEach(a -> acknowledged.put(a, new ConcurrentHashMap<>()));
        RetryingPayer payer = new RetryingPayer(platform);
        ExecutorService pool = Executors.newFixedThreadPool(agents.size());
        try {
            // before the kill: the retry rate of retrier is alerted and committed
            pay(pool, payer, agents, acknowledged, 0, BEFORE_KILL, 0);
            List<Alert> before = awaitAlerts(retrier);
            assertEquals(List.of("RETRY_RATE|" + retrier.id()), ReplicasTest.keys(before, retrier.id()));
            assertEquals(List.of(), ReplicasTest.keys(before, capper.id()), "capper is under 80% of its cap before the kill");

            // the rest paid at a steady pace; both consumers die three payments in, and start again at once
            AtomicInteger paidAfter = new AtomicInteger();
            List<Future<?>> rest = payAsync(pool, payer, agents, acknowledged, BEFORE_KILL, PAYMENTS, 150, paidAfter);
            ReplicasTest.awaitUntil(Duration.ofSeconds(30), "payments after the first alerts", () -> paidAfter.get() >= 3);
            long analyticsAtKill = platform.analytics().getIngestionStatus(GetIngestionStatusRequest.getDefaultInstance())
                    .getLedgerPosition();
            long alertsAtKill = ReplicasTest.consumerStatus(platform.alerts).position();
            long killedAt = System.nanoTime();
            platform.analytics.kill();
            platform.alerts.kill();
            int paidAtKill = paidAfter.get();
            platform.analytics.start();
            platform.alerts.start();
            for (Future<?> f : rest) {
                f.get(120, TimeUnit.SECONDS);
            }
            platform.analytics.awaitReady(Duration.ofSeconds(120));
            double analyticsReady = (System.nanoTime() - killedAt) / 1e9;
            platform.alerts.awaitReady(Duration.ofSeconds(120));
            double alertsReady = (System.nanoTime() - killedAt) / 1e9;
            // and after the restart: the feed streams to the new consumers live
            payAsync(pool, payer, List.of(retrier, steady), acknowledged, PAYMENTS, PAYMENTS + 5, 0, new AtomicInteger())
                    .forEach(f -> join(f));

            assertEquals(Map.of(), payer.failures(), "the ledger never failed a payment while its consumers died");
            long feedLength = platform.assertLedgerExact(acknowledged, CREDIT);
            assertTrue(analyticsAtKill < feedLength && alertsAtKill < feedLength,
                    "the consumers were killed before the end of the feed (analytics at " + analyticsAtKill
                            + ", alerts at " + alertsAtKill + " of " + feedLength + ")");
            platform.assertAnalyticsEqualsLedger(acknowledged, feedLength);
            List<Alert> after = platform.assertAlertsOncePerCondition(Map.of(
                    retrier, List.of("RETRY_RATE|" + retrier.id()),
                    capper, List.of("CAP_UTILIZATION|" + capper.id() + "|now:LIFETIME"),
                    steady, List.of()), feedLength);
            Alert retryRate = ReplicasTest.alert(after, "RETRY_RATE|" + retrier.id());
            assertEquals(ReplicasTest.alert(before, "RETRY_RATE|" + retrier.id()).getAlertId(), retryRate.getAlertId(),
                    "the alert raised before the kill is the same one after the replay, not a second");
            assertEquals(acknowledged.get(retrier).size(), ReplicasTest.measure(retryRate, "payments"),
                    "the retry rule counted each payment once");
            assertEquals(acknowledged.get(retrier).values().stream().filter(e -> e.getAttempt() > 1).count(),
                    ReplicasTest.measure(retryRate, "retries"), "the retry rule counted each retry once");
            Alert cap = ReplicasTest.alert(after, "CAP_UTILIZATION|" + capper.id() + "|now:LIFETIME");
            assertEquals(PAYMENTS * PRICE, ReplicasTest.measure(cap, "used_micros"), "the cap rule counted each payment once");

            System.out.printf(Locale.ROOT, "ConsumerRestartTest: %d payments acknowledged, feed %d entries; analytics and alerts "
                            + "killed at feed positions %d and %d (%d of %d later payments made); analytics ready %.1f s and "
                            + "alerts %.1f s after the kill; alerts %s, once each%n",
                    acknowledged.values().stream().mapToInt(Map::size).sum(), feedLength, analyticsAtKill, alertsAtKill,
                    paidAtKill, agents.size() * (PAYMENTS - BEFORE_KILL), analyticsReady, alertsReady,
                    after.stream().filter(a -> agents.stream().anyMatch(g -> a.getAgentIdsList().contains(g.id())))
                            .map(Alert::getRule).toList());

            // a consumer killed and restarted is an event its peers ride out: warnings, never an error
            platform.stopServices();
            assertEquals(List.of(), platform.errorsLogged(), "ERROR lines in the services' logs through the kill and a graceful stop");
        } finally {
            pool.shutdownNow();
        }
    }

    /** Waits until alerts evaluated retrier's retry rate, and returns every alert of the two agents then. */
    static List<Alert> awaitAlerts(DurablePlatform.Agent retrier) {
        ReplicasTest.awaitUntil(Duration.ofSeconds(60), "retrier's RETRY_RATE alert",
                () -> !ReplicasTest.keys(platform.listAlerts(), retrier.id()).isEmpty());
        return platform.listAlerts();
    }

    /** Each agent pays its payments {@code from} to {@code to} in order; waits for all. */
    static void pay(ExecutorService pool, RetryingPayer payer, List<DurablePlatform.Agent> agents,
                    Map<DurablePlatform.Agent, Map<String, Entry>> acknowledged, int from, int to, long paceMs) {
        payAsync(pool, payer, agents, acknowledged, from, to, paceMs, new AtomicInteger()).forEach(ConsumerRestartTest::join);
    }

    static List<Future<?>> payAsync(ExecutorService pool, RetryingPayer payer, List<DurablePlatform.Agent> agents,
                                    Map<DurablePlatform.Agent, Map<String, Entry>> acknowledged, int from, int to,
                                    long paceMs, AtomicInteger paid) {
        List<Future<?>> futures = new ArrayList<>();
        for (DurablePlatform.Agent agent : agents) {
            futures.add(pool.submit(() -> {
                for (int n = from; n < to; n++) {
                    PayRequest request = PayRequest.newBuilder().setRequestId(agent.name() + "-" + n).setAmountMicros(PRICE)
                            .setCurrencyCode("USD").setTool(n % 2 == 0 ? "openai/chat.completions" : "serpapi/search")
                            .setCallId("call-" + n).setAttempt(agent.name().equals("retrier") && n % 2 == 1 ? 2 : 1).build();
                    acknowledged.get(agent).put(request.getRequestId(), payer.pay(agent, request, 60));
                    paid.incrementAndGet();
                    if (paceMs > 0) {
                        Thread.sleep(paceMs);   // a steady stream, so that the kill lands in the middle of it
                    }
                }
                return null;
            }));
        }
        return futures;
    }

    static void join(Future<?> f) {
        try {
            f.get(120, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("a paying client failed", e);
        }
    }
}
