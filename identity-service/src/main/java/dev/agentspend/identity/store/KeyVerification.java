package dev.agentspend.identity.store;

import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.proto.identity.v1.AgentStatus;
import dev.agentspend.proto.identity.v1.AuthenticateResponse;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Instant;

/**
 * Checks a presented agent key against the store. Reads the current rows on every call, so a
 * suspension, revocation or expiry takes effect on the very next call.
 */
@ApplicationScoped
public class KeyVerification {
    @Inject
    Pool pool;

    /** Why a key was accepted or not; a bounded set, used as a metric label. */
    public enum Result {
        OK, MALFORMED, UNKNOWN_KEY, WRONG_SECRET, KEY_REVOKED, KEY_EXPIRED, AGENT_SUSPENDED, AGENT_REVOKED
    }

    public record Outcome(Result result, AuthenticateResponse response) {
    }

    public Uni<Outcome> verify(String presented) {
        var parsed = ApiKeys.parse(presented);
        if (parsed.isEmpty()) {
            return Uni.createFrom().item(new Outcome(Result.MALFORMED, null));
        }
        return verify(parsed.get());
    }

    public Uni<Outcome> verify(ApiKeys.PresentedKey key) {
        return KeyRows.findWithAgent(pool, key.keyId()).map(found -> {
            if (found.isEmpty()) {
                return new Outcome(Result.UNKNOWN_KEY, null);
            }
            KeyRows.KeyWithAgent k = found.get();
            // the secret is checked first so that a wrong secret learns nothing about the key's state
            if (!ApiKeys.verify(key, k.secretSha256())) {
                return new Outcome(Result.WRONG_SECRET, null);
            }
            if (k.key().hasRevokeTime()) {
                return new Outcome(Result.KEY_REVOKED, null);
            }
            if (k.key().hasExpireTime() && !Times.toInstant(k.key().getExpireTime()).isAfter(Instant.now())) {
                return new Outcome(Result.KEY_EXPIRED, null);
            }
            if (k.agent().getStatus() == AgentStatus.AGENT_STATUS_SUSPENDED) {
                return new Outcome(Result.AGENT_SUSPENDED, null);
            }
            if (k.agent().getStatus() != AgentStatus.AGENT_STATUS_ACTIVE) {
                return new Outcome(Result.AGENT_REVOKED, null);
            }
            return new Outcome(Result.OK, AuthenticateResponse.newBuilder().setAgent(k.agent())
                    .setKeyId(k.key().getKeyId()).build());
        });
    }

    /** Whether the key would authenticate (used only to pick the right refusal for an agent key). */
    public Uni<Boolean> isValid(ApiKeys.PresentedKey key) {
        return verify(key).map(outcome -> outcome.result() == Result.OK);
    }
}
