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
        return KeyRows.verifiers(db, agent.getId()).chain(keys -> {
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

    /** The newest version committed so far (0 when the feed is empty). */
    public static Uni<Long> headVersion(SqlClient db) {
        return db.query("SELECT coalesce(max(version), 0) AS v FROM identity.policy_changes").execute()
                .map(rows -> rows.iterator().next().getLong("v"));
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

    /** Changes after {@code afterVersion}, oldest first. */
    public static Uni<List<WatchPoliciesResponse>> after(SqlClient db, long afterVersion, int limit) {
        return db.preparedQuery("SELECT version, subject_type, payload FROM identity.policy_changes"
                        + " WHERE version > $1 ORDER BY version LIMIT $2")
                .execute(Tuple.of(afterVersion, limit))
                .map(rows -> toEvents(rows, -1));
    }

    private static List<WatchPoliciesResponse> toEvents(RowSet<Row> rows, long fixedVersion) {
        List<WatchPoliciesResponse> out = new ArrayList<>(rows.size());
        for (Row row : rows) {
            WatchPoliciesResponse.Builder event = WatchPoliciesResponse.newBuilder()
                    .setVersion(fixedVersion >= 0 ? fixedVersion : row.getLong("version"));
            if ("agent".equals(row.getString("subject_type"))) {
                event.setAgentPolicy(ProtoBytes.parse(AgentPolicy.parser(), row.getBuffer("payload")));
            } else {
                event.setTeamPolicy(ProtoBytes.parse(TeamPolicy.parser(), row.getBuffer("payload")));
            }
            out.add(event.build());
        }
        return out;
    }
}
