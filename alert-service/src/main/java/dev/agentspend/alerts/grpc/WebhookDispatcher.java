package dev.agentspend.alerts.grpc;

import dev.agentspend.alerts.config.AlertsConfig;
import dev.agentspend.alerts.domain.DeliveryRetry;
import dev.agentspend.alerts.domain.WebhookSigning;
import dev.agentspend.alerts.store.FeedSignal;
import dev.agentspend.alerts.store.WebhookStore;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Delivers the webhook outbox: at least once, signed, per endpoint in feed order, with
 * exponential backoff (see {@link DeliveryRetry}). Each tick claims (leases) the head delivery of every endpoint that is due;
 * sends are asynchronous (JDK HttpClient), so a slow or dead endpoint occupies only its own head
 * and never delays another endpoint. The lease outlives the request timeout, so no two attempts of
 * one endpoint overlap, across replicas too.
 */
@ApplicationScoped
public class WebhookDispatcher {
    private static final Logger LOG = Logger.getLogger(WebhookDispatcher.class);
    private static final int MAX_ENDPOINTS_PER_TICK = 256;

    @Inject
    WebhookStore store;
    @Inject
    AlertApi api;
    @Inject
    AlertsConfig config;
    @Inject
    FeedSignal signal;
    @Inject
    Vertx vertx;
    @Inject
    MeterRegistry meters;

    private final AtomicBoolean claiming = new AtomicBoolean();
    private volatile boolean again;
    private HttpClient http;
    private DeliveryRetry retry;
    private long timer;
    private Runnable unlisten;

    void onStart(@Observes StartupEvent event) {
        retry = new DeliveryRetry(config.webhooks().baseBackoff(), config.webhooks().maxBackoff(),
                config.webhooks().giveUpAfter());
        http = HttpClient.newBuilder().connectTimeout(config.webhooks().requestTimeout())
                .followRedirects(HttpClient.Redirect.NEVER).build();
        timer = vertx.setPeriodic(config.webhooks().pollInterval().toMillis(), id -> tick());
        unlisten = signal.listen(this::tick);
    }

    void onStop(@Observes ShutdownEvent event) {
        vertx.cancelTimer(timer);
        if (unlisten != null) {
            unlisten.run();
        }
    }

    void tick() {
        if (!claiming.compareAndSet(false, true)) {
            again = true;
            return;
        }
        again = false;
        Duration lease = config.webhooks().requestTimeout().plusSeconds(5);
        store.claimHeads(Instant.now(), lease, MAX_ENDPOINTS_PER_TICK).subscribe().with(claimed -> {
            claiming.set(false);
            claimed.forEach(this::send);
            if (again) {
                tick();
            }
        }, failure -> {
            claiming.set(false);
            LOG.warnf("webhook outbox unavailable: %s", failure.getMessage());
        });
    }

    private void send(WebhookStore.Claimed d) {
        String body;
        byte[] secret;
        try {
            body = WebhookPayloads.body(d.format(), d.deliveryId(), d.event());
            secret = api.secretBox().open(d.webhookId(), d.secret());
        } catch (RuntimeException e) {
            LOG.errorf("webhook %s delivery %s cannot be prepared: %s", d.webhookId(), d.deliveryId(), e.getMessage());
            retryLater(d, "cannot be prepared: " + e.getMessage());
            return;
        }
        long timestamp = Instant.now().getEpochSecond();
        HttpRequest request = HttpRequest.newBuilder(URI.create(d.url()))
                .timeout(config.webhooks().requestTimeout())
                .header("Content-Type", "application/json")
                .header("User-Agent", "agentspend-alerts")
                .header(WebhookSigning.TIMESTAMP_HEADER, Long.toString(timestamp))
                .header(WebhookSigning.SIGNATURE_HEADER, WebhookSigning.sign(secret, timestamp, body))
                .header(WebhookSigning.DELIVERY_HEADER, d.deliveryId())
                .header(WebhookSigning.IDEMPOTENCY_HEADER, d.deliveryId())
                .header(WebhookSigning.EVENT_HEADER, Long.toString(d.event().getEventId()))
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
                .build();
        Uni.createFrom().completionStage(() -> http.sendAsync(request, HttpResponse.BodyHandlers.discarding()))
                .subscribe().with(response -> {
                    if (response.statusCode() / 100 == 2) {
                        meters.counter("agentspend.alerts.webhook.deliveries", "outcome", "delivered").increment();
                        store.delivered(d.deliveryId(), Instant.now()).subscribe().with(ok -> tick(),
                                f -> LOG.warnf("could not record delivery %s: %s", d.deliveryId(), f.getMessage()));
                    } else {
                        retryLater(d, "HTTP " + response.statusCode());
                    }
                }, failure -> retryLater(d, failure.getClass().getSimpleName() + ": " + failure.getMessage()));
    }

    private void retryLater(WebhookStore.Claimed d, String error) {
        int attempts = d.attempts() + 1;
        meters.counter("agentspend.alerts.webhook.deliveries", "outcome", "failed_attempt").increment();
        Optional<Instant> next = retry.next(attempts, d.eventTime(), Instant.now());
        if (next.isEmpty()) {
            LOG.warnf("webhook %s: giving up on delivery %s after %d attempts, its event is older than %s (%s)", d.webhookId(),
                    d.deliveryId(), attempts, config.webhooks().giveUpAfter(), error);
        } else {
            LOG.debugf("webhook %s: delivery %s attempt %d failed (%s); next at %s", d.webhookId(), d.deliveryId(), attempts,
                    error, next.get());
        }
        store.failed(d.deliveryId(), error, next).subscribe().with(ok -> {
        }, f -> LOG.warnf("could not record failed delivery %s: %s", d.deliveryId(), f.getMessage()));
    }
}
