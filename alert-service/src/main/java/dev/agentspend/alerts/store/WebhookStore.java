package dev.agentspend.alerts.store;

import dev.agentspend.alerts.domain.SecretBox;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.proto.alerts.v1.AlertEvent;
import dev.agentspend.proto.alerts.v1.Webhook;
import dev.agentspend.proto.alerts.v1.WebhookFormat;
import io.smallrye.mutiny.Uni;
import io.vertx.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** Webhook endpoints and their delivery outbox. */
@ApplicationScoped
public class WebhookStore {
    @Inject
    Pool pool;

    /** A delivery claimed for one attempt, with what it takes to send it. */
    public record Claimed(String deliveryId, String webhookId, String url, WebhookFormat format, SecretBox.Sealed secret,
                          int attempts, Instant eventTime, AlertEvent event) {
    }

    public record Created(Webhook webhook, boolean replay) {
    }

    public Uni<Created> create(String webhookId, String requestId, String url, WebhookFormat format, String description,
                               SecretBox.Sealed secret, Instant now) {
        return pool.preparedQuery("insert into webhooks (webhook_id, request_id, url, format, description, secret_nonce, "
                        + "secret_cipher, create_time) values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (request_id) do nothing "
                        + "returning webhook_id")
                .execute(Tuple.from(Arrays.asList(webhookId, requestId, url, format.name(), description,
                        Buffer.buffer(secret.nonce()), Buffer.buffer(secret.cipherText()), AlertRecords.odt(now))))
                .chain(rows -> pool.preparedQuery("select webhook_id, url, format, description, create_time from webhooks "
                                + "where request_id = $1").execute(Tuple.of(requestId))
                        .map(found -> {
                            Webhook stored = webhook(found.iterator().next());
                            boolean replay = !rows.iterator().hasNext();
                            if (replay && !(stored.getUrl().equals(url) && stored.getFormat() == format
                                    && stored.getDescription().equals(description))) {
                                throw ApiException.of(ErrorCode.ALREADY_EXISTS, "REQUEST_ID_REUSED", "request_id '"
                                        + requestId + "' was used for a different webhook; use a new request_id");
                            }
                            return new Created(stored, replay);
                        }));
    }

    public Uni<List<Webhook>> list(String afterId, int limit) {
        return pool.preparedQuery("select webhook_id, url, format, description, create_time from webhooks "
                        + "where delete_time is null and webhook_id > $1 order by webhook_id limit $2")
                .execute(Tuple.of(afterId, limit))
                .map(rows -> {
                    List<Webhook> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(webhook(r));
                    }
                    return out;
                });
    }

    /** Marks the endpoint deleted and drops its pending deliveries. */
    public Uni<Boolean> delete(String webhookId, Instant now) {
        return pool.withTransaction(db -> db.preparedQuery("update webhooks set delete_time = $2 where webhook_id = $1 "
                        + "and delete_time is null").execute(Tuple.of(webhookId, AlertRecords.odt(now)))
                .call(rows -> db.preparedQuery("update webhook_deliveries set status = 'FAILED', last_error = 'endpoint deleted' "
                        + "where webhook_id = $1 and status = 'PENDING'").execute(Tuple.of(webhookId)))
                .map(rows -> rows.rowCount() > 0));
    }

    /**
     * Claims the oldest pending delivery of every live endpoint whose head is due and not leased.
     * Only an endpoint's head is ever attempted, so its events arrive in feed order (per agent
     * too), and a failing endpoint holds back only its own queue.
     */
    public Uni<List<Claimed>> claimHeads(Instant now, Duration lease, int maxEndpoints) {
        return pool.withTransaction(db -> db.preparedQuery("with heads as (select distinct on (d.webhook_id) d.delivery_id, "
                        + "d.next_attempt_time, d.lease_until from webhook_deliveries d join webhooks w on w.webhook_id = d.webhook_id "
                        + "where d.status = 'PENDING' and w.delete_time is null order by d.webhook_id, d.seq), "
                        + "due as (select delivery_id from heads where next_attempt_time <= $1 and (lease_until is null or lease_until < $1) "
                        + "limit $3) "
                        + "update webhook_deliveries d set lease_until = $2 from due where d.delivery_id = due.delivery_id "
                        + "and (d.lease_until is null or d.lease_until < $1) returning d.delivery_id")
                .execute(Tuple.of(AlertRecords.odt(now), AlertRecords.odt(now.plus(lease)), maxEndpoints))
                .chain(claimed -> {
                    List<String> ids = new ArrayList<>();
                    for (Row r : claimed) {
                        ids.add(r.getString("delivery_id"));
                    }
                    if (ids.isEmpty()) {
                        return Uni.createFrom().item(List.<Claimed>of());
                    }
                    return db.preparedQuery("select d.delivery_id, d.webhook_id, d.attempts, d.create_time, w.url, w.format, w.secret_nonce, "
                                    + "w.secret_cipher, e.event_id, e.event_type, e.agent_id, e.event_time, e.alert "
                                    + "from webhook_deliveries d join webhooks w on w.webhook_id = d.webhook_id "
                                    + "join alert_events e on e.event_id = d.event_id where d.delivery_id = any($1)")
                            .execute(Tuple.of(ids.toArray(new String[0])))
                            .map(rows -> {
                                List<Claimed> out = new ArrayList<>();
                                for (Row r : rows) {
                                    out.add(new Claimed(r.getString("delivery_id"), r.getString("webhook_id"), r.getString("url"),
                                            WebhookFormat.valueOf(r.getString("format")),
                                            new SecretBox.Sealed(r.getBuffer("secret_nonce").getBytes(),
                                                    r.getBuffer("secret_cipher").getBytes()),
                                            r.getInteger("attempts"), r.getOffsetDateTime("create_time").toInstant(),
                                            AlertStore.event(r)));
                                }
                                return out;
                            });
                }));
    }

    public Uni<Void> delivered(String deliveryId, Instant now) {
        return pool.preparedQuery("update webhook_deliveries set status = 'DELIVERED', attempts = attempts + 1, "
                        + "deliver_time = $2, lease_until = null, last_error = '' where delivery_id = $1")
                .execute(Tuple.of(deliveryId, AlertRecords.odt(now))).replaceWithVoid();
    }

    /** Records a failed attempt: retried at next, or FAILED when abandoned (next empty). */
    public Uni<Void> failed(String deliveryId, String error, Optional<Instant> next) {
        return pool.preparedQuery("update webhook_deliveries set attempts = attempts + 1, lease_until = null, last_error = $2, "
                        + "status = case when $3::timestamptz is null then 'FAILED' else 'PENDING' end, "
                        + "next_attempt_time = coalesce($3, next_attempt_time) where delivery_id = $1")
                .execute(Tuple.of(deliveryId, error.length() > 500 ? error.substring(0, 500) : error,
                        next.map(AlertRecords::odt).orElse(null)))
                .replaceWithVoid();
    }

    static Webhook webhook(Row r) {
        return Webhook.newBuilder()
                .setWebhookId(r.getString("webhook_id"))
                .setUrl(r.getString("url"))
                .setFormat(WebhookFormat.valueOf(r.getString("format")))
                .setDescription(r.getString("description"))
                .setCreateTime(AlertRecords.ts(r.getOffsetDateTime("create_time")))
                .build();
    }
}
