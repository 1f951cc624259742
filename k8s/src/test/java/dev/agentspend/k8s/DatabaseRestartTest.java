package dev.agentspend.k8s;

import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.alerts.v1.ListAlertsRequest;
import dev.agentspend.proto.analytics.v1.GetToolAttributionRequest;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.ListAgentsRequest;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.PayRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PostgreSQL taken away under load, twice (a fast shutdown, then SIGKILL of the postmaster), and
 * brought back on the same port and data directory, while twelve clients of three capped agents
 * pay. Every service must report the outage on its readiness (DOWN, 503) and never on its liveness
 * (a pod must not be restarted for a database blip), clients must be told UNAVAILABLE (never
 * INTERNAL or UNKNOWN, never a decline), and every service must become ready again by itself.
 * Afterwards: every acknowledged payment is in the ledger once under the entry id its client got,
 * balances and cap usage are exact, VerifyLedger is clean, analytics' spend per agent equals the
 * ledger's, and the alert service evaluated the whole feed with one alert per condition. Through
 * both outages and a graceful stop of every service, no service logged a line at ERROR.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class DatabaseRestartTest {
    static final int CLIENTS_PER_AGENT = 4;
    /** Small enough that no agent reaches 1 USD, every spend rule's minimum: only the retry rule may fire. */
    static final long PRICE = 100;
    static final long CREDIT = 100_000_000;
    /** A LIFETIME cap (a daily one would reset if the test ran over midnight UTC), never reached here. */
    static final long CAP = 10_000_000;
    /** Held at least this long, and until every service reported it; under the ledger's 10 s policy staleness bound. */
    static final Duration OUTAGE = Duration.ofSeconds(5);
    static final Duration READY_BOUND = Duration.ofSeconds(60);

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
    void everyServiceRecoversByItselfAndNothingAcknowledgedIsLost() throws Exception {
        List<DurablePlatform.Agent> agents = List.of(
                platform.newAgent("steady", CapWindow.CAP_WINDOW_LIFETIME, CAP, CREDIT),
                platform.newAgent("careful", CapWindow.CAP_WINDOW_LIFETIME, CAP, CREDIT),
                // one payment in three is a retry of a failed call (attempt 2): RETRY_RATE, once
                platform.newAgent("retrier", CapWindow.CAP_WINDOW_LIFETIME, CAP, CREDIT));
        Map<DurablePlatform.Agent, Map<String, Entry>> acknowledged = new LinkedHashMap<>();
        agents.forEach(a -> acknowledged.put(a, new ConcurrentHashMap<>()));
        AtomicInteger total = new AtomicInteger();
        AtomicBoolean stopPaying = new AtomicBoolean();
        RetryingPayer payer = new RetryingPayer(platform);
        ExecutorService pool = Executors.newFixedThreadPool(agents.size() * CLIENTS_PER_AGENT);
        List<Future<?>> clients = new ArrayList<>();
        for (DurablePlatform.Agent agent : agents) {
            for (int c = 0; c < CLIENTS_PER_AGENT; c++) {
                int client = c;
                clients.add(pool.submit(() -> {
                    for (int n = 0; !stopPaying.get(); n++) {
                        PayRequest request = PayRequest.newBuilder().setRequestId(agent.name() + "-c" + client + "-" + n)
                                .setAmountMicros(PRICE).setCurrencyCode("USD")
                                .setTool(n % 2 == 0 ? "openai/chat.completions" : "serpapi/search")
                                .setCallId("call-" + client + "-" + n)
                                .setAttempt(agent.name().equals("retrier") && n % 3 == 2 ? 2 : 1).build();
                        Entry entry = payer.pay(agent, request, 90);
                        acknowledged.get(agent).put(request.getRequestId(), entry);
                        total.incrementAndGet();
                    }
                    return null;
                }));
            }
        }
        try {
            awaitPayments(total, 300, clients);
            Outage fast = outage("fast shutdown", () -> platform.db.stop(), agents.get(0));
            awaitPayments(total, total.get() + 300, clients);
            Outage kill = outage("SIGKILL of the postmaster", () -> platform.db.crash(), agents.get(0));
            awaitPayments(total, total.get() + 300, clients);
            stopPaying.set(true);
            for (Future<?> f : clients) {
                f.get(120, TimeUnit.SECONDS);
            }

            Map<String, Integer> failures = payer.failures();
            assertTrue(payer.answeredAfterRetry() > 0, "some payments were caught by an outage and answered after retries");
            long feedLength = platform.assertLedgerExact(acknowledged, CREDIT);
            platform.assertAnalyticsEqualsLedger(acknowledged, feedLength);
            DurablePlatform.Agent retrier = agents.get(2);
            platform.assertAlertsOncePerCondition(Map.of(agents.get(0), List.of(), agents.get(1), List.of(),
                    retrier, List.of("RETRY_RATE|" + retrier.id())), feedLength);
            System.out.printf(Locale.ROOT, "DatabaseRestartTest: %d payments acknowledged by %d clients of %d agents (%d answered "
                            + "after retries; failures seen: %s); feed %d entries%n  %s%n  %s%n",
                    total.get(), clients.size(), agents.size(), payer.answeredAfterRetry(), failures, feedLength, fast, kill);

            // outages and rolling shutdowns happen every week: neither may log an error for someone to be paged on
            platform.stopServices();
            assertEquals(List.of(), platform.errorsLogged(),
                    "ERROR lines in the services' logs through two database outages and a graceful stop");
        } finally {
            stopPaying.set(true);
            pool.shutdownNow();
            if (!platform.db.isRunning()) {
                platform.db.start();
            }
        }
    }

    /** What one outage looked like: how long the database was away and how long each service took to be ready again. */
    record Outage(String kind, Duration down, Map<String, Duration> toDown, Map<String, Duration> toReady) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s: database away %.1f s; readiness DOWN after %s; ready again after %s",
                    kind, down.toMillis() / 1000.0, seconds(toDown), seconds(toReady));
        }

        static Map<String, String> seconds(Map<String, Duration> m) {
            Map<String, String> out = new LinkedHashMap<>();
            m.forEach((k, v) -> out.put(k, String.format(Locale.ROOT, "%.1f s", v.toMillis() / 1000.0)));
            return out;
        }
    }

    /**
     * Takes the database away with {@code takeAway}, holds it away for {@link #OUTAGE} and until
     * every service's readiness says DOWN (503), checking all along that every liveness stays UP
     * (200), and that a read of each service's database answers UNAVAILABLE; then starts it again
     * on the same port and data directory and waits until every service is ready by itself.
     */
    static Outage outage(String kind, Runnable takeAway, DurablePlatform.Agent agent) {
        List<ServiceProcess> services = platform.services();
        Map<String, Duration> toDown = new LinkedHashMap<>();
        long awayAt = System.nanoTime();
        takeAway.run();
        long deadline = awayAt + Duration.ofSeconds(30).toNanos();
        while (toDown.size() < services.size() || System.nanoTime() - awayAt < OUTAGE.toNanos()) {
            for (ServiceProcess p : services) {
                String name = DurablePlatform.name(p);
                assertEquals(200, DurablePlatform.health(p, "live"), name + "'s liveness during the database outage (" + kind + ")");
                if (!toDown.containsKey(name)) {
                    int ready = DurablePlatform.health(p, "ready");
                    assertTrue(ready == 200 || ready == 503, name + "'s readiness answered " + ready);
                    if (ready == 503) {
                        toDown.put(name, Duration.ofNanos(System.nanoTime() - awayAt));
                    }
                }
            }
            assertTrue(System.nanoTime() < deadline, "readiness still UP 30 s into the outage (" + kind + "): only "
                    + toDown.keySet() + " reported it");
            sleep(100);   // poll interval of the bounded wait above
        }
        // the services' own reads, as an admin or a dashboard would make them: told to retry, not a bug
        assertUnavailable("identity's ListAgents", () -> platform.identity().listAgents(ListAgentsRequest.getDefaultInstance()));
        assertUnavailable("analytics' GetToolAttribution", () -> platform.analytics().getToolAttribution(
                GetToolAttributionRequest.newBuilder().setAgentId(agent.id()).build()));
        assertUnavailable("alerts' ListAlerts", () -> platform.alerts().listAlerts(ListAlertsRequest.getDefaultInstance()));
        platform.db.start();
        long backAt = System.nanoTime();
        Duration down = Duration.ofNanos(backAt - awayAt);
        Map<String, Duration> toReady = new LinkedHashMap<>();
        deadline = backAt + READY_BOUND.toNanos();
        while (toReady.size() < services.size()) {
            for (ServiceProcess p : services) {
                String name = DurablePlatform.name(p);
                if (!toReady.containsKey(name) && DurablePlatform.health(p, "ready") == 200) {
                    toReady.put(name, Duration.ofNanos(System.nanoTime() - backAt));
                }
                assertEquals(200, DurablePlatform.health(p, "live"), name + "'s liveness while the database comes back");
            }
            assertTrue(System.nanoTime() < deadline, "not ready " + READY_BOUND + " after the database came back ("
                    + kind + "): only " + toReady.keySet());
            sleep(100);   // poll interval of the bounded wait above
        }
        return new Outage(kind, down, toDown, toReady);
    }

    static void assertUnavailable(String what, Runnable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run, what + " while the database is away");
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), what + ": " + e.getStatus());
        assertEquals("DATABASE_UNAVAILABLE", RetryingPayer.reason(e), what + ": " + e.getStatus());
    }

    /** Waits for {@code atLeast} acknowledged payments; a client that gave up fails the test at once, with its cause. */
    static void awaitPayments(AtomicInteger total, int atLeast, List<Future<?>> clients) {
        ReplicasTest.awaitUntil(Duration.ofSeconds(60), atLeast + " payments acknowledged (" + total.get() + " so far)", () -> {
            for (Future<?> f : clients) {
                if (f.isDone()) {
                    try {
                        f.get();
                    } catch (Exception e) {
                        // the cause in the message: CI's summary prints the message line only
                        Throwable cause = e.getCause() != null ? e.getCause() : e;
                        throw new AssertionError("a paying client gave up: " + cause.getMessage(), e);
                    }
                }
            }
            return total.get() >= atLeast;
        });
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
