package dev.agentspend.alerts.it;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.agentspend.alerts.domain.WebhookSigning;
import dev.agentspend.alerts.support.Await;
import dev.agentspend.alerts.support.Clients;
import dev.agentspend.alerts.support.Clients.TestAgent;
import dev.agentspend.alerts.support.Platform;
import dev.agentspend.alerts.support.PlatformTest;
import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.AlertState;
import dev.agentspend.proto.alerts.v1.CreateWebhookRequest;
import dev.agentspend.proto.alerts.v1.CreateWebhookResponse;
import dev.agentspend.proto.alerts.v1.DeleteWebhookRequest;
import dev.agentspend.proto.alerts.v1.Rule;
import dev.agentspend.proto.alerts.v1.WebhookFormat;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 9, "a webhook receiver down for minutes": three receivers are down for a long outage
 * (45 s, many times the test profile's 4 s max backoff: the retry delay doubles from 1 s to the
 * cap and stays there) — one refuses connections (nothing listens on its port), one answers 503,
 * one accepts and never answers (each attempt runs into the 10 s request timeout) — while alerts
 * of four agents fire and resolve several times each. A fourth, healthy receiver gets every event
 * promptly throughout. Then the three come back: each gets every event exactly once (by its
 * idempotency id), in feed order (so in order per agent), signed at delivery time, and its
 * backlog drains within max backoff plus a few seconds of sending.
 *
 * <p>The delivery contract is at least once (a receiver deduplicates on the idempotency id); here
 * no attempt is lost mid-way, so each delivery id must be accepted exactly once, which is checked.
 */
@QuarkusTest
@WithTestResource(value = Platform.class, scope = TestResourceScope.MATCHING_RESOURCES)
class WebhookOutageTest extends PlatformTest {
    private static final Duration OUTAGE = Duration.ofSeconds(45);
    /** Alerts keep firing and resolving for this long of the outage; the rest only lets the backoff run. */
    private static final Duration EVENTS_DURING = Duration.ofSeconds(30);
    private static final int AGENTS = 4;
    private static final int MIN_CYCLES = 3;
    private static final long DECLINE_WINDOW_SECONDS = 4;

    /** One request as the receiver saw it, and what it answered. */
    record Request(String deliveryId, String idempotencyKey, long eventId, long timestamp, String signature, String body,
                   int status, Instant receivedAt) {
    }

    enum Outage { REFUSED, ANSWERS_503, HANGS }

    /**
     * A webhook receiver on loopback. Down, it refuses connections (no server on its port yet),
     * answers 503, or holds each request unanswered; up, it answers 200.
     */
    static final class Receiver implements AutoCloseable {
        final String name;
        final Outage outage;
        final int port = ServiceProcess.freePort();
        final List<Request> requests = new CopyOnWriteArrayList<>();
        final ExecutorService handlers = Executors.newCachedThreadPool();
        final CountDownLatch recovered = new CountDownLatch(1);
        private volatile boolean down;
        private HttpServer server;

        Receiver(String name, Outage outage) throws IOException {
            this.name = name;
            this.outage = outage;
            this.down = outage != null;
            if (outage != Outage.REFUSED) {
                listen();
            }
        }

        private void listen() throws IOException {
            server = HttpServer.create(new InetSocketAddress("localhost", port), 0);
            server.setExecutor(handlers);
            server.createContext("/hook", this::handle);
            server.start();
        }

        private void handle(HttpExchange exchange) throws IOException {
            Instant receivedAt = Instant.now();
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            if (down && outage == Outage.HANGS) {
                try {
                    // held unanswered until the receiver is back (the dispatcher's request timeout ends it first)
                    recovered.await(2, TimeUnit.MINUTES);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            // a request that arrived while down is refused even if the receiver came back meanwhile
            int status = down || receivedAt.isBefore(upSince) ? 503 : 200;
            var h = exchange.getRequestHeaders();
            requests.add(new Request(h.getFirst(WebhookSigning.DELIVERY_HEADER), h.getFirst(WebhookSigning.IDEMPOTENCY_HEADER),
                    Long.parseLong(h.getFirst(WebhookSigning.EVENT_HEADER)), Long.parseLong(h.getFirst(WebhookSigning.TIMESTAMP_HEADER)),
                    h.getFirst(WebhookSigning.SIGNATURE_HEADER), body, status, receivedAt));
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
        }

        private volatile Instant upSince = Instant.MIN;

        void recover() throws IOException {
            upSince = Instant.now();
            down = false;
            recovered.countDown();
            if (outage == Outage.REFUSED) {
                listen();
            }
        }

        String url() {
            return "http://localhost:" + port + "/hook";
        }

        List<Request> accepted() {
            return requests.stream().filter(r -> r.status() == 200).toList();
        }

        @Override
        public void close() {
            recovered.countDown();
            if (server != null) {
                server.stop(0);
            }
            handlers.shutdownNow();
        }
    }

    /** A delivery as the outbox holds it, with its event. */
    record Delivery(String deliveryId, long eventId, String eventType, String agentId, String alertId, Instant queuedAt,
                    String status, int attempts) {
    }

    private static List<Delivery> outbox(String webhookId) {
        String url = ConfigProvider.getConfig().getValue("quarkus.datasource.jdbc.url", String.class);
        try (Connection c = DriverManager.getConnection(url, "postgres", "");
             var q = c.prepareStatement("select d.delivery_id, d.event_id, e.event_type, array_to_string(e.agent_ids, ','), e.alert_id, d.create_time, "
                     + "d.status, d.attempts from alerts.webhook_deliveries d join alerts.alert_events e on e.event_id = d.event_id "
                     + "where d.webhook_id = ? order by d.seq")) {
            q.setString(1, webhookId);
            List<Delivery> out = new ArrayList<>();
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    out.add(new Delivery(r.getString(1), r.getLong(2), r.getString(3), r.getString(4), r.getString(5),
                            r.getTimestamp(6).toInstant(), r.getString(7), r.getInt(8)));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The deliveries of this test's agents' events, as event type and alert, in outbox order. */
    private static List<String> mine(List<Delivery> queue, List<TestAgent> agents) {
        List<String> ids = agents.stream().map(TestAgent::id).toList();
        return queue.stream().filter(d -> ids.contains(d.agentId())).map(d -> d.eventType() + " " + d.alertId()).toList();
    }

    private CreateWebhookResponse register(Receiver r) {
        return clients.admin().createWebhook(CreateWebhookRequest.newBuilder().setRequestId(Clients.rid()).setUrl(r.url())
                .setFormat(WebhookFormat.WEBHOOK_FORMAT_GENERIC).setDescription(r.name).build());
    }

    /** Five declines in each agent's 4 s window: a DECLINE_BURST alert fires (and resolves once the window passes). */
    private void declineBurst(List<TestAgent> agents) {
        for (int i = 0; i < 5; i++) {
            for (TestAgent a : agents) {
                clients.pay(a, 600_000, "t");
            }
        }
    }

    private void awaitResolved(List<TestAgent> agents, int alertsEach) {
        Await.until(Duration.ofSeconds(30), alertsEach + " resolved alerts per agent", () -> agents.stream().allMatch(a -> {
            List<Alert> found = clients.alerts(a.id(), Rule.RULE_DECLINE_BURST);
            return found.size() == alertsEach && found.stream().allMatch(x -> x.getState() == AlertState.ALERT_STATE_RESOLVED);
        }) ? Optional.of(true) : Optional.empty());
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void receiversDownForALongOutageGetEveryEventOnceInOrderAfterwardsAndTheHealthyOneIsNeverDelayed() throws Exception {
        long testStart = System.nanoTime();
        Duration maxBackoff = ConfigProvider.getConfig().getValue("agentspend.alerts.webhooks.max-backoff", Duration.class);
        Duration baseBackoff = ConfigProvider.getConfig().getValue("agentspend.alerts.webhooks.base-backoff", Duration.class);
        assertTrue(OUTAGE.compareTo(maxBackoff.multipliedBy(8)) > 0,
                "the outage spans the doublings up to the cap and many capped retries: " + maxBackoff);

        List<TestAgent> agents = new ArrayList<>();
        for (int i = 0; i < AGENTS; i++) {
            TestAgent a = clients.agent(null, Clients.dailyCap(1_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
            clients.configure(a, Rule.RULE_DECLINE_BURST, Map.of("window_seconds", DECLINE_WINDOW_SECONDS));
            clients.pay(a, 500_000, "t"); // half the cap: further 0.60 USD payments are declined, no utilization alert
            agents.add(a);
        }

        try (Receiver healthy = new Receiver("healthy", null);
             Receiver refused = new Receiver("refuses connections", Outage.REFUSED);
             Receiver failing = new Receiver("answers 503", Outage.ANSWERS_503);
             Receiver hanging = new Receiver("never answers", Outage.HANGS)) {
            List<Receiver> dead = List.of(refused, failing, hanging);
            Map<Receiver, CreateWebhookResponse> hooks = new LinkedHashMap<>();
            for (Receiver r : List.of(healthy, refused, failing, hanging)) {
                hooks.put(r, register(r));
            }

            // the outage: alerts fire and resolve, several times per agent
            Instant outageStart = Instant.now();
            int cycles = 0;
            while (cycles < MIN_CYCLES || Duration.between(outageStart, Instant.now()).compareTo(EVENTS_DURING) < 0) {
                declineBurst(agents);
                cycles++;
                awaitResolved(agents, cycles);
                // it resolved when the burst's first declines left the window; the rest leave it now, so that
                // the next burst is one new alert (not a refire on the old declines, then a resolve, then another)
                Thread.sleep(Duration.ofSeconds(DECLINE_WINDOW_SECONDS + 1).toMillis());
            }
            Instant lastEventsAt = Instant.now();
            List<Delivery> healthyQueue = outbox(hooks.get(healthy).getWebhook().getWebhookId());
            Await.until(Duration.ofSeconds(20), "the healthy receiver to have every event so far", () ->
                    healthy.accepted().size() >= healthyQueue.size() ? Optional.of(true) : Optional.empty());
            long untilRecovery = OUTAGE.toMillis() - Duration.between(outageStart, Instant.now()).toMillis();
            if (untilRecovery > 0) {
                Thread.sleep(untilRecovery); // the outage goes on with no new events: only the backoff runs
            }

            // still down at the end of the outage: the whole backlog waits in the database, nothing was given up
            Map<Receiver, List<Delivery>> backlog = new HashMap<>();
            for (Receiver r : dead) {
                List<Delivery> queue = outbox(hooks.get(r).getWebhook().getWebhookId());
                backlog.put(r, queue);
                assertTrue(r.accepted().isEmpty(), r.name + " accepted nothing while down");
                assertEquals(mine(healthyQueue, agents), mine(queue, agents), r.name + ": the same events queued as for the healthy one");
                assertTrue(queue.stream().allMatch(d -> d.status().equals("PENDING")), r.name + ": all still pending");
                assertTrue(queue.stream().skip(1).allMatch(d -> d.attempts() == 0), r.name + ": only the head is attempted");
            }
            int refusedAttempts = backlog.get(refused).get(0).attempts();
            int queuedPerDeadReceiver = mine(backlog.get(refused), agents).size();
            // 1 + 2 + 4 s to reach the 4 s cap, then every 4 s: about 12 attempts in 45 s
            assertTrue(refusedAttempts >= 6, "the refused head was retried through the doublings to the cap: " + refusedAttempts);
            assertTrue(backlog.get(failing).get(0).attempts() >= 6, "the 503 head too");
            // the hanging head: each attempt held for the 10 s request timeout, then backed off
            assertTrue(backlog.get(hanging).get(0).attempts() >= 2, "the hanging head was attempted, timed out and retried");

            // the healthy receiver got every event, each once, before any dead one came back, promptly
            List<Delivery> healthyNow = outbox(hooks.get(healthy).getWebhook().getWebhookId());
            Map<String, Delivery> healthyById = healthyNow.stream().collect(Collectors.toMap(Delivery::deliveryId, d -> d));
            Duration healthyMaxLatency = Duration.ZERO;
            for (Request r : healthy.accepted()) {
                Delivery d = healthyById.get(r.deliveryId());
                assertNotNull(d, "an event it was queued: " + r.deliveryId());
                Duration latency = Duration.between(d.queuedAt(), r.receivedAt());
                healthyMaxLatency = latency.compareTo(healthyMaxLatency) > 0 ? latency : healthyMaxLatency;
            }
            assertTrue(healthy.accepted().stream().map(Request::deliveryId).toList()
                    .containsAll(healthyQueue.stream().map(Delivery::deliveryId).toList()), "every event, before any recovery");
            // a head-of-line wait behind a dead receiver would cost at least a backoff step or a 10 s request timeout
            assertTrue(healthyMaxLatency.compareTo(Duration.ofSeconds(5)) < 0,
                    "the healthy receiver's deliveries are not delayed by the dead ones: max latency " + healthyMaxLatency);

            // recovery
            Instant recoveredAt = Instant.now();
            for (Receiver r : dead) {
                r.recover();
            }
            Map<Receiver, Duration> drained = new LinkedHashMap<>();
            for (Receiver r : dead) {
                int queued = backlog.get(r).size();
                List<Request> got = Await.until(maxBackoff.plusSeconds(30), r.name + " to receive its " + queued + " events", () -> {
                    List<Request> accepted = r.accepted();
                    return accepted.size() >= queued ? Optional.of(accepted) : Optional.empty();
                });
                drained.put(r, Duration.between(recoveredAt, got.get(got.size() - 1).receivedAt()));
            }
            // let any duplicate attempt show up before counting (a lease is the request timeout + 5 s; a
            // duplicate would come from a delivery re-sent, which happens on the next claims, well within 2 s)
            Thread.sleep(2000);

            for (Receiver r : dead) {
                List<Delivery> queue = outbox(hooks.get(r).getWebhook().getWebhookId());
                List<Request> accepted = r.accepted();
                byte[] secret = hooks.get(r).getSigningSecret().getBytes(StandardCharsets.UTF_8);
                // exactly once by idempotency id, every event queued for it
                assertEquals(queue.stream().map(Delivery::deliveryId).toList(), accepted.stream().map(Request::deliveryId).toList(),
                        r.name + ": every delivery accepted exactly once, in the order of its outbox");
                assertTrue(queue.stream().allMatch(d -> d.status().equals("DELIVERED")), r.name + ": all recorded delivered");
                List<Long> eventIds = accepted.stream().map(Request::eventId).toList();
                for (int i = 1; i < eventIds.size(); i++) {
                    assertTrue(eventIds.get(i) > eventIds.get(i - 1), r.name + ": in feed order: " + eventIds);
                }
                for (Request req : accepted) {
                    assertEquals(req.deliveryId(), req.idempotencyKey());
                    assertTrue(WebhookSigning.verify(secret, req.timestamp(), req.body(), req.signature()), "signed");
                    // signed when sent, not when queued: a receiver's 5-minute freshness check accepts a late backlog
                    assertTrue(req.timestamp() >= recoveredAt.getEpochSecond(), "timestamp of the delivery, not the event");
                }
                // in order per agent: each agent's FIRED, RESOLVED, FIRED, RESOLVED ... as the feed has them
                Map<String, Delivery> byId = queue.stream().collect(Collectors.toMap(Delivery::deliveryId, d -> d));
                for (TestAgent a : agents) {
                    List<String> seen = accepted.stream().map(req -> byId.get(req.deliveryId()))
                            .filter(d -> d.agentId().equals(a.id())).map(d -> d.eventType() + " " + d.alertId()).toList();
                    List<String> expected = healthyQueue.stream().filter(d -> d.agentId().equals(a.id()))
                            .map(d -> d.eventType() + " " + d.alertId()).toList();
                    assertEquals(expected, seen, r.name + ": agent " + a.id() + "'s events in order");
                    assertEquals(2 * cycles, seen.size(), "a FIRED and a RESOLVED per cycle");
                    for (int i = 0; i < seen.size(); i++) {
                        assertTrue(seen.get(i).startsWith(i % 2 == 0 ? "ALERT_EVENT_TYPE_FIRED" : "ALERT_EVENT_TYPE_RESOLVED"), seen.toString());
                    }
                }
                assertEquals(queuedPerDeadReceiver, mine(queue, agents).size());
                // the backlog drains within max backoff (the head's next attempt) plus the sending itself
                assertTrue(drained.get(r).compareTo(maxBackoff.plusSeconds(10)) < 0,
                        r.name + ": drained in " + drained.get(r) + ", max backoff " + maxBackoff);
            }
            // the healthy receiver got each event exactly once, in order, too
            assertEquals(outbox(hooks.get(healthy).getWebhook().getWebhookId()).stream().map(Delivery::deliveryId).toList(),
                    healthy.accepted().stream().map(Request::deliveryId).toList());

            System.out.printf("WEBHOOK OUTAGE: outage %d s (backoff %s doubling to %s), %d agents x %d fire/resolve cycles, "
                            + "%d events queued per dead receiver; head attempts during the outage: refused %d, 503 %d, "
                            + "hanging %d; drained after recovery: refused %d ms, 503 %d ms, hanging %d ms; healthy receiver max "
                            + "latency %d ms; test %d s%n",
                    Duration.between(outageStart, recoveredAt).toSeconds(), baseBackoff, maxBackoff, AGENTS, cycles,
                    queuedPerDeadReceiver, refusedAttempts,
                    backlog.get(failing).get(0).attempts(), backlog.get(hanging).get(0).attempts(), drained.get(refused).toMillis(),
                    drained.get(failing).toMillis(), drained.get(hanging).toMillis(), healthyMaxLatency.toMillis(),
                    Duration.ofNanos(System.nanoTime() - testStart).toSeconds());
            System.out.printf("WEBHOOK OUTAGE: events were queued until %d s into the outage%n",
                    Duration.between(outageStart, lastEventsAt).toSeconds());

            for (CreateWebhookResponse h : hooks.values()) {
                clients.admin().deleteWebhook(DeleteWebhookRequest.newBuilder().setRequestId(Clients.rid())
                        .setWebhookId(h.getWebhook().getWebhookId()).build());
            }
        }
    }
}
