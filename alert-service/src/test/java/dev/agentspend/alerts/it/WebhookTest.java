package dev.agentspend.alerts.it;

import com.sun.net.httpserver.HttpServer;
import dev.agentspend.alerts.domain.WebhookSigning;
import dev.agentspend.alerts.support.Await;
import dev.agentspend.alerts.support.Clients;
import dev.agentspend.alerts.support.Clients.TestAgent;
import dev.agentspend.alerts.support.Platform;
import dev.agentspend.alerts.support.PlatformTest;
import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.alerts.v1.CreateWebhookRequest;
import dev.agentspend.proto.alerts.v1.CreateWebhookResponse;
import dev.agentspend.proto.alerts.v1.DeleteWebhookRequest;
import dev.agentspend.proto.alerts.v1.ListWebhooksRequest;
import dev.agentspend.proto.alerts.v1.WebhookFormat;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import dev.agentspend.proto.alerts.v1.Alert;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Webhooks against real local HTTP receivers: a receiver that fails at first gets the event again
 * with backoff, signed (verified with the secret shown once), with the same idempotency id; a dead
 * endpoint does not hold back a healthy one; the Slack format is a Slack message.
 */
@QuarkusTest
@WithTestResource(value = Platform.class, scope = TestResourceScope.MATCHING_RESOURCES)
class WebhookTest extends PlatformTest {

    record Received(String deliveryId, String idempotencyKey, long timestamp, String signature, String body, long atNanos) {
    }

    /** A receiver answering 500 to its first {@code failures} requests, then 200. */
    static final class Receiver implements AutoCloseable {
        final List<Received> requests = new CopyOnWriteArrayList<>();
        final HttpServer server;
        final AtomicInteger remainingFailures;

        Receiver(int failures) throws Exception {
            remainingFailures = new AtomicInteger(failures);
            server = HttpServer.create(new InetSocketAddress("localhost", ServiceProcess.freePort()), 0);
            server.createContext("/hook", exchange -> {
                String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                var h = exchange.getRequestHeaders();
                requests.add(new Received(h.getFirst(WebhookSigning.DELIVERY_HEADER), h.getFirst(WebhookSigning.IDEMPOTENCY_HEADER),
                        Long.parseLong(h.getFirst(WebhookSigning.TIMESTAMP_HEADER)), h.getFirst(WebhookSigning.SIGNATURE_HEADER),
                        body, System.nanoTime()));
                int status = remainingFailures.getAndDecrement() > 0 ? 500 : 200;
                exchange.sendResponseHeaders(status, -1);
                exchange.close();
            });
            server.start();
        }

        String url() {
            return "http://localhost:" + server.getAddress().getPort() + "/hook";
        }

        List<Received> about(String agentId) {
            return requests.stream().filter(r -> r.body().contains(agentId)).toList();
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }

    /** An endpoint that accepts requests and never answers until closed. */
    static final class Hanging implements AutoCloseable {
        final AtomicInteger requests = new AtomicInteger();
        final java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        final HttpServer server;

        Hanging() throws Exception {
            server = HttpServer.create(new InetSocketAddress("localhost", ServiceProcess.freePort()), 0);
            server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
            server.createContext("/hang", exchange -> {
                requests.incrementAndGet();
                try {
                    release.await(30, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                exchange.close();
            });
            server.start();
        }

        String url() {
            return "http://localhost:" + server.getAddress().getPort() + "/hang";
        }

        @Override
        public void close() {
            release.countDown();
            server.stop(0);
        }
    }

    private CreateWebhookResponse register(String url, WebhookFormat format) {
        return clients.admin().createWebhook(CreateWebhookRequest.newBuilder().setRequestId(Clients.rid()).setUrl(url)
                .setFormat(format).setDescription("test").build());
    }

    @Test
    void retriedWithBackoffSignedWithAStableIdempotencyIdAndADeadEndpointDelaysNoOne() throws Exception {
        try (Receiver flaky = new Receiver(2); Receiver slack = new Receiver(0); Hanging hanging = new Hanging()) {
            CreateWebhookResponse hook = register(flaky.url(), WebhookFormat.WEBHOOK_FORMAT_GENERIC);
            assertTrue(hook.getSigningSecret().startsWith("whsec_"));
            // a hanging endpoint: accepts the request and never answers (until the test ends)
            CreateWebhookResponse dead = register(hanging.url(), WebhookFormat.WEBHOOK_FORMAT_GENERIC);
            CreateWebhookResponse slackHook = register(slack.url(), WebhookFormat.WEBHOOK_FORMAT_SLACK);
            assertTrue(clients.admin().listWebhooks(ListWebhooksRequest.getDefaultInstance()).getWebhooksList().stream()
                    .anyMatch(w -> w.getWebhookId().equals(hook.getWebhook().getWebhookId())));

            TestAgent a = clients.agent(null, Clients.dailyCap(1_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
            // half the cap (no utilization alert), then five declines: one DECLINE_BURST alert
            clients.pay(a, 500_000, "t");
            for (int i = 0; i < 5; i++) {
                clients.pay(a, 600_000, "t");
            }

            // the healthy Slack endpoint gets it promptly although the hanging one holds its request
            // for the whole 10 s request timeout
            Received slackMessage = Await.until(Duration.ofSeconds(20), "the Slack message",
                    () -> slack.about(a.id()).stream().findFirst());
            Alert alert = clients.awaitAlert(a.id(), dev.agentspend.proto.alerts.v1.Rule.RULE_DECLINE_BURST);
            Await.until(Duration.ofSeconds(5), "the hanging endpoint to be attempted",
                    () -> hanging.requests.get() >= 1 ? Optional.of(true) : Optional.empty());
            assertTrue(Duration.between(Clients.instant(alert.getFirstSeenTime()), Instant.now()).toSeconds() < 8,
                    "delivered to the healthy endpoint well before the hanging one's request timed out");
            assertTrue(slackMessage.body().startsWith("{\"text\":\"[WARNING] FIRING: decline burst for " + a.id()));
            assertTrue(slackMessage.body().contains("\"blocks\""));

            // the flaky endpoint: two failures, then success, always the same delivery
            List<Received> attempts = Await.until(Duration.ofSeconds(30), "three attempts at the flaky endpoint", () -> {
                List<Received> got = flaky.about(a.id());
                return got.size() >= 3 ? Optional.of(got) : Optional.empty();
            });
            byte[] secret = hook.getSigningSecret().getBytes(StandardCharsets.UTF_8);
            Received first = attempts.get(0);
            assertNotNull(first.deliveryId());
            assertEquals(first.deliveryId(), first.idempotencyKey());
            for (Received r : attempts.subList(0, 3)) {
                assertEquals(first.deliveryId(), r.deliveryId(), "stable idempotency id across retries");
                assertEquals(first.body(), r.body(), "the same event");
                assertTrue(WebhookSigning.verify(secret, r.timestamp(), r.body(), r.signature()), "signature verifies");
                assertFalse(WebhookSigning.verify("whsec_wrong".getBytes(StandardCharsets.UTF_8), r.timestamp(), r.body(),
                        r.signature()));
            }
            assertTrue(first.body().startsWith("{\"deliveryId\":\"" + first.deliveryId() + "\",\"event\":{"));
            assertTrue(first.body().contains("\"eventType\":\"ALERT_EVENT_TYPE_FIRED\""));
            assertTrue(first.body().contains("\"rule\":\"RULE_DECLINE_BURST\""));
            // exponential backoff (1 s base in tests): no retry before 1 s, the next not before 2 s more
            long gap1 = attempts.get(1).atNanos() - attempts.get(0).atNanos();
            long gap2 = attempts.get(2).atNanos() - attempts.get(1).atNanos();
            assertTrue(gap1 >= Duration.ofMillis(950).toNanos(), "backed off before the first retry: " + gap1);
            assertTrue(gap2 >= Duration.ofMillis(1950).toNanos(), "backoff doubles: " + gap1 + " then " + gap2);
            // delivered once it succeeded: no further attempts of that delivery
            Await.pause(1000);
            assertEquals(3, flaky.about(a.id()).stream().filter(r -> r.deliveryId().equals(first.deliveryId())).count());

            for (CreateWebhookResponse h : List.of(hook, dead, slackHook)) {
                assertTrue(clients.admin().deleteWebhook(DeleteWebhookRequest.newBuilder().setRequestId(Clients.rid())
                        .setWebhookId(h.getWebhook().getWebhookId()).build()).getDeleted());
            }
        }
    }

    @Test
    void aReplayedCreateDoesNotShowTheSecretAgain() {
        String rid = Clients.rid();
        CreateWebhookRequest r = CreateWebhookRequest.newBuilder().setRequestId(rid).setUrl("http://localhost:9/x")
                .setFormat(WebhookFormat.WEBHOOK_FORMAT_GENERIC).build();
        CreateWebhookResponse first = clients.admin().createWebhook(r);
        CreateWebhookResponse again = clients.admin().createWebhook(r);
        assertFalse(first.getSigningSecret().isEmpty());
        assertEquals("", again.getSigningSecret());
        assertEquals(first.getWebhook().getWebhookId(), again.getWebhook().getWebhookId());
        clients.admin().deleteWebhook(DeleteWebhookRequest.newBuilder().setRequestId(Clients.rid())
                .setWebhookId(first.getWebhook().getWebhookId()).build());
    }
}
