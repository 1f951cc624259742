package dev.agentspend.identity.store;

import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.identity.domain.AgentStatusTransitions;
import dev.agentspend.identity.domain.Caller;
import dev.agentspend.identity.domain.Limits;
import dev.agentspend.proto.identity.v1.Agent;
import dev.agentspend.proto.identity.v1.ApiKey;
import dev.agentspend.proto.identity.v1.CreateApiKeyRequest;
import dev.agentspend.proto.identity.v1.CreateApiKeyResponse;
import dev.agentspend.proto.identity.v1.RevokeApiKeyRequest;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.function.UnaryOperator;

/**
 * Key rotation and revocation. A key belongs to its agent's policy (the feed carries its verifier),
 * so every key change also bumps the agent's version and publishes the agent again.
 */
@ApplicationScoped
public class KeyCommands {
    @Inject
    WriteTransactions writes;

    public Uni<CreateApiKeyResponse> create(Caller caller, CreateApiKeyRequest r) {
        return writes.idempotent("CreateApiKey", r.getRequestId(), r, CreateApiKeyResponse.parser(),
                response -> response.toBuilder().clearApiKeySecret().build(),
                tx -> AgentCommands.loadAgent(tx.db(), r.getAgentId())
                        .call(agent -> KeyRows.countUsable(tx.db(), agent.getId(), tx.now()).invoke(count -> {
                            AgentStatusTransitions.requireNotRevoked(agent.getStatus());
                            if (count >= Limits.MAX_KEYS_PER_AGENT) {
                                throw ApiException.of(ErrorCode.FAILED_PRECONDITION, "TOO_MANY_KEYS", "the agent has "
                                        + count + " usable keys, the most allowed; revoke one first");
                            }
                        }))
                        .chain(agent -> {
                            ApiKeys.NewKey newKey = ApiKeys.generate();
                            ApiKey.Builder key = ApiKey.newBuilder().setKeyId(newKey.keyId()).setAgentId(agent.getId())
                                    .setDescription(r.getDescription()).setCreateTime(Times.toProto(tx.now()));
                            if (r.hasExpireTime()) {
                                key.setExpireTime(Times.toProto(Times.toInstant(r.getExpireTime())));
                            }
                            ApiKey apiKey = key.build();
                            return KeyRows.insert(tx.db(), apiKey, newKey.secretSha256())
                                    .chain(() -> AuditLog.append(tx.db(), tx.now(), new AuditLog.Entry(caller.actor(),
                                            "key.create", "key", apiKey.getKeyId(), null, apiKey, "", r.getRequestId())))
                                    .chain(() -> republishAgent(tx, agent))
                                    .replaceWith(CreateApiKeyResponse.newBuilder().setApiKey(apiKey)
                                            .setApiKeySecret(newKey.fullKey()).build());
                        }));
    }

    public Uni<ApiKey> revoke(Caller caller, RevokeApiKeyRequest r) {
        return writes.idempotent("RevokeApiKey", r.getRequestId(), r, ApiKey.parser(), UnaryOperator.identity(),
                tx -> KeyRows.findById(tx.db(), r.getKeyId())
                        .map(found -> found.orElseThrow(() -> ApiException.notFound("key", r.getKeyId())))
                        .chain(before -> {
                            if (before.hasRevokeTime()) {
                                throw ApiException.of(ErrorCode.FAILED_PRECONDITION, "KEY_ALREADY_REVOKED",
                                        "key '" + r.getKeyId() + "' is revoked already");
                            }
                            ApiKey after = before.toBuilder().setRevokeTime(Times.toProto(tx.now())).build();
                            return KeyRows.revoke(tx.db(), r.getKeyId(), tx.now())
                                    .chain(() -> AuditLog.append(tx.db(), tx.now(), new AuditLog.Entry(caller.actor(),
                                            "key.revoke", "key", r.getKeyId(), before, after, r.getReason(),
                                            r.getRequestId())))
                                    .chain(() -> AgentCommands.loadAgent(tx.db(), before.getAgentId()))
                                    .chain(agent -> republishAgent(tx, agent))
                                    .replaceWith(after);
                        }));
    }

    private static Uni<Long> republishAgent(WriteTransactions.Tx tx, Agent current) {
        Agent updated = current.toBuilder().setVersion(current.getVersion() + 1)
                .setUpdateTime(Times.toProto(tx.now())).build();
        return AgentRows.update(tx.db(), updated, current.getVersion())
                .chain(() -> PolicyChanges.appendAgent(tx.db(), updated, tx.now()));
    }
}
