package dev.agentspend.alerts.store;

import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.AlertEventType;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;

import java.time.Instant;
import java.util.Arrays;

/**
 * Appends to the alert feed and, in the same transaction, to every live webhook's outbox.
 * Every transaction that appends takes {@link #EVENTS_LOCK} first, so event ids commit in id
 * order and a reader that tails by id never skips one that commits late.
 */
public final class AlertEvents {
    static final long EVENTS_LOCK = 0xA1E7_0002L;

    private AlertEvents() {
    }

    public static Uni<Void> lock(SqlConnection db) {
        return db.preparedQuery("select pg_advisory_xact_lock(" + EVENTS_LOCK + ")").execute().replaceWithVoid();
    }

    /** Appends one event (the caller holds the events lock) and queues it for every webhook. */
    public static Uni<Long> append(SqlConnection db, AlertEventType type, Alert alert, String agentId, Instant at) {
        return db.preparedQuery("insert into alert_events (alert_id, event_type, agent_id, event_time, agent_ids, team_id, "
                        + "rule, severity, alert) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning event_id")
                .execute(Tuple.from(Arrays.asList(alert.getAlertId(), type.name(), agentId, AlertRecords.odt(at),
                        alert.getAgentIdsList().toArray(new String[0]), alert.getTeamId(), alert.getRule().name(),
                        (short) alert.getSeverityValue(), io.vertx.core.buffer.Buffer.buffer(alert.toByteArray()))))
                .map(rows -> rows.iterator().next().getLong("event_id"))
                .call(eventId -> db.preparedQuery("insert into webhook_deliveries (delivery_id, webhook_id, event_id, status, "
                                + "next_attempt_time, create_time) select 'dlv_' || substr(webhook_id, 5) || '_' || $3, "
                                + "webhook_id, $1, 'PENDING', $2, $2 from webhooks where delete_time is null")
                        .execute(Tuple.of(eventId, AlertRecords.odt(at), Long.toString(eventId))));
    }
}
