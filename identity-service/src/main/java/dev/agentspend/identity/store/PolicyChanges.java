package dev.agentspend.identity.store;

import dev.agentspend.proto.identity.v1.Agent;
import dev.agentspend.proto.identity.v1.AgentPolicy;
import dev.agentspend.proto.identity.v1.Team;
import dev.agentspend.proto.identity.v1.TeamPolicy;
import dev.agentspend.proto.identity.v1.WatchPoliciesResponse;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.Tuple;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The policy feed table. A row holds the full policy of one agent or team after a change, so a
 * watcher never needs anything but the feed. Appends happen only inside a write transaction that
 * holds the identity write lock, which makes version order equal commit order.
 */
public final class PolicyChanges {
    private PolicyChanges() {
    }

    public static Uni<Long> appendAgent(SqlClient db, Agent agent, Instant now) {
        return KeyRows.verifiers(db, agent.getId(), now).chain(keys -> {
            AgentPolicy policy = AgentPolicy.newBuilder().setAgentId(agent.getId()).setHandle(agent.getHandle())
                    .setTeamId(agent.getTeamId()).setStatus(agent.getStatus()).setMode(agent.getMode())
                    .setCurrencyCode(agent.getCurrencyCode()).setPolicy(agent.getPolicy())
                    .setWorkingHours(agent.getWorkingHours()).addAllKeys(keys).setAgentVersion(agent.getVersion())
                    .putAllLabels(agent.getLabelsMap()).build();
            return append(db, "agent", agent.getId(), policy.toByteArray(), now);
        });
    }

    public static Uni<Long> appendTeam(SqlClient db, Team team, Instant now) {
        TeamPolicy policy = TeamPolicy.newBuilder().setTeamId(team.getId()).setName(team.getName())
                .setCurrencyCode(team.getCurrencyCode()).addAllCaps(team.getCapsList())
                .setTeamVersion(team.getVersion()).build();
        return append(db, "team", team.getId(), policy.toByteArray(), now);
    }

    private static Uni<Long> append(SqlClient db, String subjectType, String subjectId, byte[] payload, Instant now) {
        return db.preparedQuery("INSERT INTO identity.policy_changes (version, subject_type, subject_id, payload, commit_time)"
                        + " VALUES (nextval('identity.feed_version'), $1, $2, $3, $4) RETURNING version")
                .execute(Tuple.of(subjectType, subjectId, io.vertx.core.buffer.Buffer.buffer(payload), Times.toDb(now)))
                .map(rows -> rows.iterator().next().getLong("version"));
    }

    /** Where the feed stands: the newest version, and the compaction horizon below which resumption is inexact. */
    public record Bounds(long head, long horizon) {
    }

    public static Uni<Bounds> bounds(SqlClient db) {
        return db.query("SELECT (SELECT coalesce(max(version), 0) FROM identity.policy_changes) AS head,"
                        + " (SELECT version FROM identity.feed_horizon) AS horizon").execute()
                .map(rows -> {
                    Row row = rows.iterator().next();
                    return new Bounds(row.getLong("head"), row.getLong("horizon"));
                });
    }

    /** A batch of changes and the horizon seen by the same statement. */
    public record Batch(List<WatchPoliciesResponse> events, long horizon) {
    }

    /**
     * The latest policy of every subject as of {@code version}. Everything at or below a committed
     * version is committed too (the write lock), so this needs no snapshot isolation of its own.
     */
    public static Uni<List<WatchPoliciesResponse>> snapshot(SqlClient db, long version) {
        return db.preparedQuery("SELECT DISTINCT ON (subject_type, subject_id) subject_type, payload"
                        + " FROM identity.policy_changes WHERE version <= $1"
                        + " ORDER BY subject_type, subject_id, version DESC")
                .execute(Tuple.of(version))
                .map(rows -> toEvents(rows, version));
    }

    /**
     * Changes after {@code afterVersion}, oldest first, with the horizon read in the same statement
     * (one snapshot), so that a compaction between the two cannot go unnoticed.
     */
    public static Uni<Batch> after(SqlClient db, long afterVersion, int limit) {
        return db.preparedQuery("SELECT h.version AS horizon, c.version, c.subject_type, c.payload"
                        + " FROM identity.feed_horizon h LEFT JOIN LATERAL (SELECT version, subject_type, payload"
                        + " FROM identity.policy_changes WHERE version > $1 ORDER BY version LIMIT $2) c ON true"
                        + " ORDER BY c.version")
                .execute(Tuple.of(afterVersion, limit))
                .map(rows -> {
                    long horizon = 0;
                    List<WatchPoliciesResponse> events = new ArrayList<>(rows.size());
                    for (Row row : rows) {
                        horizon = row.getLong("horizon");
                        if (row.getLong("version") != null) {
                            events.add(toEvent(row, row.getLong("version")));
                        }
                    }
                    return new Batch(events, horizon);
                });
    }

    /**
     * Deletes every change older than {@code cutoff} that a later change of the same subject
     * superseded, and moves the horizon up. Must run under the write lock, so that no version
     * below the new horizon can still commit.
     *
     * @return the number of changes deleted
     */
    public static Uni<Integer> compact(SqlClient db, Instant cutoff) {
        return db.preparedQuery("SELECT coalesce(max(version), 0) AS cut FROM identity.policy_changes WHERE commit_time < $1")
                .execute(Tuple.of(Times.toDb(cutoff)))
                .map(rows -> rows.iterator().next().getLong("cut"))
                .chain(cut -> db.preparedQuery("DELETE FROM identity.policy_changes p WHERE p.version <= $1 AND EXISTS"
                                + " (SELECT 1 FROM identity.policy_changes q WHERE q.subject_type = p.subject_type"
                                + " AND q.subject_id = p.subject_id AND q.version > p.version)")
                        .execute(Tuple.of(cut))
                        .call(deleted -> db.preparedQuery("UPDATE identity.feed_horizon SET version = greatest(version, $1)")
                                .execute(Tuple.of(cut)))
                        .map(deleted -> deleted.rowCount()));
    }

    private static List<WatchPoliciesResponse> toEvents(RowSet<Row> rows, long version) {
        List<WatchPoliciesResponse> out = new ArrayList<>(rows.size());
        for (Row row : rows) {
            out.add(toEvent(row, version));
        }
        return out;
    }

    private static WatchPoliciesResponse toEvent(Row row, long version) {
        WatchPoliciesResponse.Builder event = WatchPoliciesResponse.newBuilder().setVersion(version);
        if ("agent".equals(row.getString("subject_type"))) {
            event.setAgentPolicy(ProtoBytes.parse(AgentPolicy.parser(), row.getBuffer("payload")));
        } else {
            event.setTeamPolicy(ProtoBytes.parse(TeamPolicy.parser(), row.getBuffer("payload")));
        }
        return event.build();
    }
}
