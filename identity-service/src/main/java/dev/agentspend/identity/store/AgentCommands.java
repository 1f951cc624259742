package dev.agentspend.identity.store;

import dev.agentspend.common.api.Ids;
import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.common.error.Violations;
import dev.agentspend.identity.domain.AgentStatusTransitions;
import dev.agentspend.identity.domain.Caller;
import dev.agentspend.identity.domain.PolicyRules;
import dev.agentspend.proto.identity.v1.Agent;
import dev.agentspend.proto.identity.v1.AgentStatus;
import dev.agentspend.proto.identity.v1.ApiKey;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import dev.agentspend.proto.identity.v1.SetAgentPolicyRequest;
import dev.agentspend.proto.identity.v1.Team;
import dev.agentspend.proto.identity.v1.UpdateAgentRequest;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.SqlClient;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;

/** Every change of an agent, each one transaction with its audit entries and its feed event. */
@ApplicationScoped
public class AgentCommands {
    @Inject
    WriteTransactions writes;

    public Uni<CreateAgentResponse> create(Caller caller, CreateAgentRequest r) {
        return writes.idempotent("CreateAgent", r.getRequestId(), r, CreateAgentResponse.parser(),
                response -> response.toBuilder().clearApiKeySecret().build(),
                tx -> AgentRows.handleExists(tx.db(), r.getHandle())
                        .invoke(exists -> {
                            if (exists) {
                                throw ApiException.of(ErrorCode.ALREADY_EXISTS, "HANDLE_TAKEN",
                                        "an agent with handle '" + r.getHandle() + "' exists already");
                            }
                        })
                        .chain(() -> requireTeamInCurrency(tx.db(), r.getTeamId(), r.getCurrencyCode()))
                        .chain(() -> {
                            Agent agent = Agent.newBuilder().setId(Ids.newId("agt")).setHandle(r.getHandle())
                                    .setDisplayName(r.getDisplayName()).setTeamId(r.getTeamId())
                                    .putAllLabels(r.getLabelsMap()).setStatus(AgentStatus.AGENT_STATUS_ACTIVE)
                                    .setMode(r.getMode()).setCurrencyCode(r.getCurrencyCode()).setPolicy(r.getPolicy())
                                    .setWorkingHours(r.getWorkingHours()).setCreateTime(Times.toProto(tx.now()))
                                    .setUpdateTime(Times.toProto(tx.now())).setVersion(1).build();
                            ApiKeys.NewKey newKey = ApiKeys.generate();
                            ApiKey.Builder key = ApiKey.newBuilder().setKeyId(newKey.keyId()).setAgentId(agent.getId())
                                    .setDescription("first key").setCreateTime(Times.toProto(tx.now()));
                            if (r.hasKeyExpireTime()) {
                                key.setExpireTime(Times.toProto(Times.toInstant(r.getKeyExpireTime())));
                            }
                            ApiKey apiKey = key.build();
                            return AgentRows.insert(tx.db(), agent)
                                    .chain(() -> KeyRows.insert(tx.db(), apiKey, newKey.secretSha256()))
                                    .chain(() -> AuditLog.append(tx.db(), tx.now(), new AuditLog.Entry(caller.actor(),
                                            "agent.create", "agent", agent.getId(), null, agent, "", r.getRequestId())))
                                    .chain(() -> AuditLog.append(tx.db(), tx.now(), new AuditLog.Entry(caller.actor(),
                                            "key.create", "key", apiKey.getKeyId(), null, apiKey, "", r.getRequestId())))
                                    .chain(() -> PolicyChanges.appendAgent(tx.db(), agent, tx.now()))
                                    .map(v -> CreateAgentResponse.newBuilder().setAgent(agent).setApiKey(apiKey)
                                            .setApiKeySecret(newKey.fullKey()).build());
                        }));
    }

    public Uni<Agent> update(Caller caller, UpdateAgentRequest r) {
        Set<String> mask = Set.copyOf(r.getUpdateMaskList());
        return change(caller, "UpdateAgent", r.getRequestId(), r, r.getAgentId(), r.getExpectedVersion(),
                "agent.update", "", (tx, current) -> {
                    AgentStatusTransitions.requireNotRevoked(current.getStatus());
                    Agent.Builder next = current.toBuilder();
                    if (mask.contains("display_name")) {
                        next.setDisplayName(r.getDisplayName());
                    }
                    if (mask.contains("team_id")) {
                        next.setTeamId(r.getTeamId());
                    }
                    if (mask.contains("labels")) {
                        next.clearLabels().putAllLabels(r.getLabelsMap());
                    }
                    if (mask.contains("mode")) {
                        next.setMode(r.getMode());
                    }
                    if (mask.contains("working_hours")) {
                        next.setWorkingHours(r.getWorkingHours());
                    }
                    Uni<Void> teamCheck = mask.contains("team_id")
                            ? requireTeamInCurrency(tx.db(), r.getTeamId(), current.getCurrencyCode())
                            : Uni.createFrom().voidItem();
                    return teamCheck.replaceWith(next);
                });
    }

    public Uni<Agent> suspend(Caller caller, String requestId, com.google.protobuf.Message request, String agentId,
                              String reason) {
        return status(caller, "SuspendAgent", "agent.suspend", requestId, request, agentId, reason,
                AgentStatusTransitions::suspend);
    }

    public Uni<Agent> reinstate(Caller caller, String requestId, com.google.protobuf.Message request, String agentId,
                                String reason) {
        return status(caller, "ReinstateAgent", "agent.reinstate", requestId, request, agentId, reason,
                AgentStatusTransitions::reinstate);
    }

    /** Permanent: the agent's keys are revoked with it, so nothing can ever authenticate as it again. */
    public Uni<Agent> revoke(Caller caller, String requestId, com.google.protobuf.Message request, String agentId,
                             String reason) {
        return change(caller, "RevokeAgent", requestId, request, agentId, 0, "agent.revoke", reason,
                (tx, current) -> {
                    Agent next = current.toBuilder().setStatus(AgentStatusTransitions.revoke(current.getStatus())).build();
                    return KeyRows.revokeAll(tx.db(), agentId, tx.now())
                            .call(keys -> auditKeyRevocations(tx, caller, keys, reason, requestId))
                            .replaceWith(next.toBuilder());
                });
    }

    public Uni<Agent> setPolicy(Caller caller, SetAgentPolicyRequest r) {
        return change(caller, "SetAgentPolicy", r.getRequestId(), r, r.getAgentId(), r.getExpectedVersion(),
                "agent.policy.set", "", (tx, current) -> {
                    AgentStatusTransitions.requireNotRevoked(current.getStatus());
                    Violations v = new Violations();
                    PolicyRules.check(r.getPolicy(), current.getCurrencyCode(), tx.now(), "policy", v);
                    v.throwIfAny();
                    return Uni.createFrom().item(current.toBuilder().setPolicy(r.getPolicy()));
                });
    }

    /** A change of one existing agent: load, check version, apply, bump, audit, publish. */
    interface AgentChange {
        Uni<Agent.Builder> apply(WriteTransactions.Tx tx, Agent current);
    }

    private Uni<Agent> change(Caller caller, String method, String requestId, com.google.protobuf.Message request,
                              String agentId, long expectedVersion, String action, String reason, AgentChange change) {
        return writes.idempotent(method, requestId, request, Agent.parser(), UnaryOperator.identity(),
                tx -> loadAgent(tx.db(), agentId)
                        .chain(current -> {
                            if (expectedVersion != 0 && expectedVersion != current.getVersion()) {
                                throw versionMismatch("agent", expectedVersion, current.getVersion());
                            }
                            return change.apply(tx, current).chain(next -> {
                                Agent updated = next.setVersion(current.getVersion() + 1)
                                        .setUpdateTime(Times.toProto(tx.now())).build();
                                return AgentRows.update(tx.db(), updated, current.getVersion())
                                        .chain(() -> AuditLog.append(tx.db(), tx.now(), new AuditLog.Entry(caller.actor(),
                                                action, "agent", agentId, current, updated, reason, requestId)))
                                        .chain(() -> PolicyChanges.appendAgent(tx.db(), updated, tx.now()))
                                        .replaceWith(updated);
                            });
                        }));
    }

    private Uni<Agent> status(Caller caller, String method, String action, String requestId,
                              com.google.protobuf.Message request, String agentId, String reason,
                              java.util.function.UnaryOperator<AgentStatus> transition) {
        return change(caller, method, requestId, request, agentId, 0, action, reason,
                (tx, current) -> Uni.createFrom().item(current.toBuilder().setStatus(transition.apply(current.getStatus()))));
    }

    private static Uni<Void> auditKeyRevocations(WriteTransactions.Tx tx, Caller caller, List<ApiKey> keys,
                                                 String reason, String requestId) {
        Uni<Void> chain = Uni.createFrom().voidItem();
        for (ApiKey key : keys) {
            ApiKey before = key.toBuilder().clearRevokeTime().build();
            chain = chain.chain(() -> AuditLog.append(tx.db(), tx.now(), new AuditLog.Entry(caller.actor(),
                    "key.revoke", "key", key.getKeyId(), before, key,
                    reason.isEmpty() ? "agent revoked" : reason, requestId)));
        }
        return chain;
    }

    static Uni<Agent> loadAgent(SqlClient db, String agentId) {
        return AgentRows.findById(db, agentId)
                .map(found -> found.orElseThrow(() -> ApiException.notFound("agent", agentId)));
    }

    /** An agent's team must exist and use the agent's currency, since a payment must pass both sets of caps. */
    private static Uni<Void> requireTeamInCurrency(SqlClient db, String teamId, String currency) {
        if (teamId.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return TeamRows.findById(db, teamId).invoke(team -> {
            Team t = team.orElseThrow(() -> ApiException.notFound("team", teamId));
            if (!t.getCurrencyCode().equals(currency)) {
                throw ApiException.invalid("team_id", "team '" + teamId + "' uses " + t.getCurrencyCode()
                        + " but the agent uses " + currency);
            }
        }).replaceWithVoid();
    }

    static ApiException versionMismatch(String what, long expected, long actual) {
        return ApiException.of(ErrorCode.ABORTED, "VERSION_MISMATCH", "the " + what + " is at version " + actual
                + ", not the expected " + expected + "; read it again and retry");
    }
}
