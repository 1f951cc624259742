package dev.agentspend.analytics.store;

import dev.agentspend.proto.identity.v1.AgentPolicy;
import dev.agentspend.proto.identity.v1.TeamPolicy;
import io.smallrye.mutiny.Uni;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.Arrays;
import java.util.List;

/**
 * Keeps the latest policy of every agent and team from identity's policy feed. Each upsert is
 * guarded by the agent's (team's) version, so replaying the feed or two replicas applying it
 * together never puts an older policy back.
 */
@ApplicationScoped
public class PolicyStore {
    @Inject
    Pool pool;

    public Uni<Void> applyAgent(AgentPolicy p) {
        JsonObject labels = new JsonObject();
        p.getLabelsMap().forEach(labels::put);
        return pool.preparedQuery("""
                        INSERT INTO analytics.agent AS a (agent_id, handle, team_id, labels, currency_code, status, policy,
                            working_hours, agent_version)
                        VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9)
                        ON CONFLICT (agent_id) DO UPDATE SET handle = excluded.handle, team_id = excluded.team_id,
                          labels = excluded.labels, currency_code = excluded.currency_code, status = excluded.status,
                          policy = excluded.policy, working_hours = excluded.working_hours,
                          agent_version = excluded.agent_version
                        WHERE a.agent_version < excluded.agent_version OR a.policy IS NULL
                        """)
                .execute(Tuple.from(List.<Object>of(p.getAgentId(), p.getHandle(), p.getTeamId(), labels.encode(),
                        p.getCurrencyCode(), p.getStatusValue(), buffer(p.getPolicy().toByteArray()),
                        buffer(p.getWorkingHours().toByteArray()), p.getAgentVersion())))
                .replaceWithVoid();
    }

    public Uni<Void> applyTeam(TeamPolicy t) {
        byte[] caps = dev.agentspend.proto.identity.v1.Team.newBuilder().addAllCaps(t.getCapsList()).build().toByteArray();
        return pool.preparedQuery("""
                        INSERT INTO analytics.team AS t (team_id, name, currency_code, caps, team_version)
                        VALUES ($1, $2, $3, $4, $5)
                        ON CONFLICT (team_id) DO UPDATE SET name = excluded.name, currency_code = excluded.currency_code,
                          caps = excluded.caps, team_version = excluded.team_version
                        WHERE t.team_version < excluded.team_version
                        """)
                .execute(Tuple.from(List.<Object>of(t.getTeamId(), t.getName(), t.getCurrencyCode(), buffer(caps),
                        t.getTeamVersion())))
                .replaceWithVoid();
    }

    /** Records that every policy event up to {@code version} is applied (never moves back). */
    public Uni<Void> commitVersion(long version) {
        return pool.preparedQuery("UPDATE analytics.feed_state SET position = $1, update_time = now() "
                        + "WHERE feed = 'policy' AND position < $1")
                .execute(Tuple.of(version)).replaceWithVoid();
    }

    public Uni<Long> version() {
        return pool.preparedQuery("SELECT position FROM analytics.feed_state WHERE feed = 'policy'").execute()
                .map(rows -> rows.iterator().next().getLong("position"));
    }

    /** Parameters of Tuple.from are passed as they are: binary values must be core (not Mutiny) buffers. */
    private static io.vertx.core.buffer.Buffer buffer(byte[] bytes) {
        return io.vertx.core.buffer.Buffer.buffer(Arrays.copyOf(bytes, bytes.length));
    }
}
