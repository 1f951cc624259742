package dev.agentspend.ledger.grpc;

import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.common.auth.BearerTokens;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.ledger.config.LedgerConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.InstantSource;
import java.util.Optional;

/**
 * Resolves the bearer token of a call: the admin token, the service token, or an agent key
 * verified locally against the policy cache (secret hash in constant time, expiry on the ledger's
 * clock). Unknown or malformed: UNAUTHENTICATED. Messages never echo the token.
 */
@ApplicationScoped
public class Authenticator {
    @Inject
    LedgerConfig config;

    @Inject
    PolicyCache cache;

    @Inject
    AgentRateLimits rateLimits;

    @Inject
    InstantSource clock;

    Caller resolve(String header) {
        Optional<String> token = BearerTokens.parse(header);
        if (token.isEmpty()) {
            throw unauthenticated("missing credential: send `authorization: Bearer <token>` metadata");
        }
        String t = token.get();
        if (ApiKeys.looksLikeApiKey(t)) {
            ApiKeys.PresentedKey key = ApiKeys.parse(t).orElseThrow(() -> unauthenticated("malformed agent key"));
            if (!cache.ready()) {
                throw ApiException.of(ErrorCode.UNAVAILABLE, "POLICY_NOT_LOADED",
                        "the ledger has not loaded the policies from identity yet; retry shortly");
            }
            Caller.Agent agent = cache.authenticate(key, clock.instant())
                    .map(p -> new Caller.Agent(p, key.keyId()))
                    .orElseThrow(() -> unauthenticated("unknown, revoked or expired agent key"));
            rateLimits.admit(agent.agentId());
            return agent;
        }
        if (BearerTokens.matches(t, config.auth().adminToken())) {
            return new Caller.Admin();
        }
        if (BearerTokens.matches(t, config.auth().serviceToken())) {
            return new Caller.Service();
        }
        throw unauthenticated("unknown credential");
    }

    Caller.Agent agent(String header) {
        Caller c = resolve(header);
        if (c instanceof Caller.Agent a) {
            return a;
        }
        throw denied("this operation needs an agent key; the agent is always the key's own");
    }

    void admin(String header) {
        if (!(resolve(header) instanceof Caller.Admin)) {
            throw denied("this operation needs the admin credential");
        }
    }

    void service(String header) {
        if (!(resolve(header) instanceof Caller.Service)) {
            throw denied("this operation needs the service credential");
        }
    }

    static ApiException denied(String message) {
        return ApiException.of(ErrorCode.PERMISSION_DENIED, "PERMISSION_DENIED", message);
    }

    private static ApiException unauthenticated(String message) {
        return ApiException.of(ErrorCode.UNAUTHENTICATED, "UNAUTHENTICATED", message);
    }
}
