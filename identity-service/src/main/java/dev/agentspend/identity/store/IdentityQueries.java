package dev.agentspend.identity.store;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.proto.identity.v1.Agent;
import dev.agentspend.proto.identity.v1.AgentStatus;
import dev.agentspend.proto.identity.v1.ApiKey;
import dev.agentspend.proto.identity.v1.AuditEvent;
import dev.agentspend.proto.identity.v1.Team;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Instant;
import java.util.List;

/** Reads, each a single statement outside any write lock. */
@ApplicationScoped
public class IdentityQueries {
    @Inject
    Pool pool;

    public Uni<Agent> agent(String idOrHandle) {
        return AgentRows.findByIdOrHandle(pool, idOrHandle)
                .map(found -> found.orElseThrow(() -> ApiException.notFound("agent", idOrHandle)));
    }

    public Uni<List<Agent>> agents(String afterHandle, String teamId, AgentStatus status, int limit) {
        return AgentRows.list(pool, afterHandle, teamId, status, limit);
    }

    public Uni<Team> team(String idOrName) {
        return TeamRows.findByIdOrName(pool, idOrName)
                .map(found -> found.orElseThrow(() -> ApiException.notFound("team", idOrName)));
    }

    public Uni<Boolean> teamExists(String id) {
        return TeamRows.findById(pool, id).map(java.util.Optional::isPresent);
    }

    public Uni<List<Team>> teams(String afterName, int limit) {
        return TeamRows.list(pool, afterName, limit);
    }

    public Uni<List<ApiKey>> keys(String agentId, String afterKeyId, boolean showInactive, int limit) {
        return AgentCommands.loadAgent(pool, agentId)
                .chain(agent -> KeyRows.list(pool, agentId, afterKeyId, showInactive, Instant.now(), limit));
    }

    public Uni<List<AuditEvent>> auditEvents(long beforeSequence, String subjectId, int limit) {
        return AuditLog.list(pool, beforeSequence, subjectId, limit);
    }
}
