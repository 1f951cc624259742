package dev.agentspend.alerts.store;

import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.AlertEventType;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The outbox of suspensions the consumer asked for, worked off by the suspension worker. */
@ApplicationScoped
public class SuspensionStore {
    @Inject
    Pool pool;
    @Inject
    FeedSignal signal;

    public record Pending(String alertId, String agentId, int attempts, String rule) {
    }

    /** Claims due suspensions by pushing their next attempt out by the lease. */
    public Uni<List<Pending>> claimDue(Instant now, Duration lease, int limit) {
        return pool.preparedQuery("update suspensions s set next_attempt_time = $2 from alerts a where a.alert_id = s.alert_id "
                        + "and (s.alert_id, s.agent_id) in (select alert_id, agent_id from suspensions where status = 'PENDING' "
                        + "and next_attempt_time <= $1 order by next_attempt_time limit $3 for update skip locked) "
                        + "returning s.alert_id, s.agent_id, s.attempts, a.rule")
                .execute(Tuple.of(AlertRecords.odt(now), AlertRecords.odt(now.plus(lease)), limit))
                .map(rows -> {
                    List<Pending> out = new ArrayList<>();
                    for (Row r : rows) {
                        out.add(new Pending(r.getString("alert_id"), r.getString("agent_id"), r.getInteger("attempts"),
                                r.getString("rule")));
                    }
                    return out;
                });
    }

    /** Marks it done and appends an AGENT_SUSPENDED event to the feed. */
    public Uni<Void> done(Pending p, Instant now) {
        return pool.withTransaction(db -> AlertEvents.lock(db)
                        .chain(() -> db.preparedQuery("update suspensions set status = 'DONE', attempts = attempts + 1, last_error = '' "
                                + "where alert_id = $1 and agent_id = $2 and status = 'PENDING'").execute(Tuple.of(p.alertId(), p.agentId())))
                        .chain(updated -> updated.rowCount() == 0 ? Uni.createFrom().voidItem()
                                : db.preparedQuery("select " + AlertRecords.COLUMNS + " from alerts where alert_id = $1")
                                .execute(Tuple.of(p.alertId()))
                                .chain(rows -> {
                                    Alert a = AlertRecords.fromRow(rows.iterator().next());
                                    return AlertEvents.append(db, AlertEventType.ALERT_EVENT_TYPE_AGENT_SUSPENDED, a,
                                            p.agentId(), now).replaceWithVoid();
                                })))
                .invoke(() -> signal.committed());
    }

    /**
     * The agent was suspended already (by a person or another alert's action): done, without an
     * AGENT_SUSPENDED event, since this alert did not suspend it.
     */
    public Uni<Void> alreadySuspended(Pending p) {
        return pool.preparedQuery("update suspensions set status = 'DONE', attempts = attempts + 1, "
                        + "last_error = 'the agent was already suspended' where alert_id = $1 and agent_id = $2 and status = 'PENDING'")
                .execute(Tuple.of(p.alertId(), p.agentId()))
                .replaceWithVoid();
    }

    public Uni<Void> failed(Pending p, String error, Optional<Instant> next) {
        return pool.preparedQuery("update suspensions set attempts = attempts + 1, last_error = $3, "
                        + "status = case when $4::timestamptz is null then 'FAILED' else 'PENDING' end, "
                        + "next_attempt_time = coalesce($4, next_attempt_time) where alert_id = $1 and agent_id = $2")
                .execute(Tuple.of(p.alertId(), p.agentId(), error.length() > 500 ? error.substring(0, 500) : error,
                        next.map(AlertRecords::odt).orElse(null)))
                .replaceWithVoid();
    }
}
