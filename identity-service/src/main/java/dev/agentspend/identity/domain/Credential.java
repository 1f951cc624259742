package dev.agentspend.identity.domain;

import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.common.auth.BearerTokens;

import java.util.Optional;

/** What a caller presented in its {@code authorization} header, before any access decision. */
public sealed interface Credential {
    record Missing() implements Credential {
    }

    record Admin() implements Credential {
    }

    record Service() implements Credential {
    }

    /** A well-formed agent key; whether it is a valid one is only known after a lookup. */
    record AgentKey(ApiKeys.PresentedKey key) implements Credential {
    }

    /** A bearer token that is neither configured token nor an agent key. */
    record Unknown() implements Credential {
    }

    static Credential fromAuthorizationHeader(String headerValue, String adminToken, String serviceToken) {
        if (headerValue == null || headerValue.isEmpty()) {
            return new Missing();
        }
        Optional<String> token = BearerTokens.parse(headerValue);
        if (token.isEmpty()) {
            return new Unknown();
        }
        String presented = token.get();
        if (BearerTokens.matches(presented, adminToken)) {
            return new Admin();
        }
        if (BearerTokens.matches(presented, serviceToken)) {
            return new Service();
        }
        Optional<ApiKeys.PresentedKey> key = ApiKeys.parse(presented);
        return key.<Credential>map(AgentKey::new).orElseGet(Unknown::new);
    }
}
