package dev.agentspend.alerts.store;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.AlertEvent;
import dev.agentspend.proto.alerts.v1.AlertEventType;
import dev.agentspend.proto.alerts.v1.AlertState;
import dev.agentspend.proto.alerts.v1.Rule;
import dev.agentspend.proto.alerts.v1.Severity;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Reads of alerts and the alert feed, and acknowledgement. */
@ApplicationScoped
public class AlertStore {
    @Inject
    Pool pool;
    @Inject
    FeedSignal signal;

    /** Filters shared by ListAlerts and WatchAlerts; empty strings and UNSPECIFIED match everything. */
    public record Filter(String agentId, String teamId, Rule rule, Severity minSeverity, AlertState state) {
        String ruleName() {
            return rule == Rule.RULE_UNSPECIFIED ? "" : AlertRecordsRule.name(rule);
        }
    }

    /** Newest first; the cursor is the last alert's first_seen_time and id. */
    public Uni<List<Alert>> list(Filter f, OffsetDateTime afterTime, String afterId, int limit) {
        String state = f.state() == AlertState.ALERT_STATE_UNSPECIFIED ? "" : f.state().name().substring("ALERT_STATE_".length());
        return pool.preparedQuery("select " + AlertRecords.COLUMNS + " from alerts where ($1 = '' or $1 = any(agent_ids)) "
                        + "and ($2 = '' or team_id = $2) and ($3 = '' or rule = $3) and severity >= $4 and ($5 = '' or state = $5) "
                        + "and ($6::timestamptz is null or (first_seen_time, alert_id) < ($6, $7)) "
                        + "order by first_seen_time desc, alert_id desc limit $8")
                .execute(Tuple.from(Arrays.asList(f.agentId(), f.teamId(), f.ruleName(), (short) f.minSeverity().getNumber(),
                        state, afterTime, afterId, limit)))
                .map(rows -> {
                    List<Alert> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(AlertRecords.fromRow(r));
                    }
                    return out;
                });
    }

    public Uni<Alert> get(String alertId) {
        return pool.preparedQuery("select " + AlertRecords.COLUMNS + " from alerts where alert_id = $1")
                .execute(Tuple.of(alertId))
                .map(rows -> {
                    if (!rows.iterator().hasNext()) {
                        throw ApiException.notFound("alert", alertId);
                    }
                    return AlertRecords.fromRow(rows.iterator().next());
                });
    }

    public Uni<Alert> acknowledge(String alertId, String note, Instant now) {
        return pool.withTransaction(db -> AlertEvents.lock(db)
                .chain(() -> db.preparedQuery("update alerts set state = 'ACKNOWLEDGED', acknowledge_time = $2, "
                                + "acknowledge_note = $3 where alert_id = $1 and state = 'FIRING' returning " + AlertRecords.COLUMNS)
                        .execute(Tuple.of(alertId, AlertRecords.odt(now), note)))
                .chain(rows -> {
                    if (rows.iterator().hasNext()) {
                        Alert a = AlertRecords.fromRow(rows.iterator().next());
                        return AlertEvents.append(db, AlertEventType.ALERT_EVENT_TYPE_ACKNOWLEDGED, a, "", now)
                                .replaceWith(a);
                    }
                    return db.preparedQuery("select " + AlertRecords.COLUMNS + " from alerts where alert_id = $1")
                            .execute(Tuple.of(alertId)).map(existing -> {
                                if (!existing.iterator().hasNext()) {
                                    throw ApiException.notFound("alert", alertId);
                                }
                                Alert a = AlertRecords.fromRow(existing.iterator().next());
                                if (a.getState() == AlertState.ALERT_STATE_RESOLVED) {
                                    throw ApiException.of(ErrorCode.FAILED_PRECONDITION, "ALERT_RESOLVED",
                                            "alert '" + alertId + "' is resolved; only open alerts can be acknowledged");
                                }
                                return a; // already acknowledged: acknowledging again changes nothing
                            });
                }))
                .invoke(() -> signal.committed());
    }

    /**
     * Up to {@code limit} events after an id that match the filter, in id order, and the newest event
     * id of the same snapshot ({@code head}): events commit in id order (AlertEvents), so when fewer
     * than {@code limit} match, no event up to {@code head} is still to come, matching or not, and a
     * filtered reader moves past them instead of scanning them again on its next read.
     */
    public Uni<EventPage> eventsAfter(long afterEventId, Filter f, int limit) {
        return pool.preparedQuery("select * from (select event_id, event_type, agent_id, event_time, alert, null::int8 as head "
                        + "from alert_events where event_id > $1 and ($2 = '' or $2 = any(agent_ids)) and ($3 = '' or team_id = $3) "
                        + "and ($4 = '' or rule = $4) and severity >= $5 order by event_id limit $6) matching "
                        + "union all select null, null, null, null, null, (select coalesce(max(event_id), 0) from alert_events)")
                .execute(Tuple.from(Arrays.asList(afterEventId, f.agentId(), f.teamId(),
                        f.rule() == Rule.RULE_UNSPECIFIED ? "" : f.rule().name(), (short) f.minSeverity().getNumber(), limit)))
                .map(rows -> {
                    List<AlertEvent> out = new ArrayList<>();
                    long head = afterEventId;
                    for (Row r : rows) {
                        if (r.getValue("event_id") == null) {
                            head = r.getLong("head");
                        } else {
                            out.add(event(r));
                        }
                    }
                    return new EventPage(out, head);
                });
    }

    /** A page of events, and the newest event id stored when it was read. */
    public record EventPage(List<AlertEvent> events, long head) {
    }

    /** The newest event id, 0 when there is none. */
    public Uni<Long> lastEventId() {
        return pool.query("select coalesce(max(event_id), 0) as id from alert_events").execute()
                .map(rows -> rows.iterator().next().getLong("id"));
    }

    static AlertEvent event(Row r) {
        try {
            return AlertEvent.newBuilder()
                    .setEventId(r.getLong("event_id"))
                    .setEventType(AlertEventType.valueOf(r.getString("event_type")))
                    .setAgentId(r.getString("agent_id"))
                    .setEventTime(AlertRecords.ts(r.getOffsetDateTime("event_time")))
                    .setAlert(Alert.parseFrom(r.getBuffer("alert").getBytes()))
                    .build();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("stored alert event " + r.getLong("event_id") + " does not parse", e);
        }
    }

    /** Rule names as stored: the domain's names. */
    static final class AlertRecordsRule {
        static String name(Rule rule) {
            return AlertRecords.ruleType(rule).name();
        }
    }
}
