package dev.agentspend.identity.domain;

import dev.agentspend.common.auth.ApiKeys;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

class AccessRulesTest {
    private static final String ADMIN = "admin-secret-token";
    private static final String SERVICE = "service-secret-token";

    private static Credential from(String header) {
        return Credential.fromAuthorizationHeader(header, ADMIN, SERVICE);
    }

    @Test
    void headersAreClassified() {
        assertInstanceOf(Credential.Missing.class, from(null));
        assertInstanceOf(Credential.Missing.class, from(""));
        assertInstanceOf(Credential.Unknown.class, from("Basic abc"));
        assertInstanceOf(Credential.Unknown.class, from("Bearer someone-else"));
        assertInstanceOf(Credential.Admin.class, from("Bearer " + ADMIN));
        assertInstanceOf(Credential.Admin.class, from("bearer " + ADMIN));
        assertInstanceOf(Credential.Service.class, from("Bearer " + SERVICE));
        assertInstanceOf(Credential.AgentKey.class, from("Bearer " + ApiKeys.generate().fullKey()));
        assertInstanceOf(Credential.Unknown.class, from("Bearer as_not_a_key"));
    }

    @Test
    void emptyConfiguredTokensMatchNothing() {
        assertInstanceOf(Credential.Unknown.class, Credential.fromAuthorizationHeader("Bearer x", "", ""));
    }

    @Test
    void adminMayDoEverythingServiceOnlyFeedsAgentKeysNothing() {
        for (Operation op : Operation.values()) {
            assertEquals(AccessDecision.ALLOW_ADMIN, AccessRules.decide(new Credential.Admin(), op));
            assertEquals(AccessDecision.DENY_AGENT_KEY,
                    AccessRules.decide(new Credential.AgentKey(ApiKeys.parse(ApiKeys.generate().fullKey()).orElseThrow()), op));
            assertEquals(AccessDecision.UNAUTHENTICATED, AccessRules.decide(new Credential.Missing(), op));
            assertEquals(AccessDecision.UNAUTHENTICATED, AccessRules.decide(new Credential.Unknown(), op));
        }
        assertEquals(AccessDecision.PERMISSION_DENIED, AccessRules.decide(new Credential.Service(), Operation.ADMIN));
        assertEquals(AccessDecision.ALLOW_SERVICE, AccessRules.decide(new Credential.Service(), Operation.AUTHENTICATE));
        assertEquals(AccessDecision.ALLOW_SERVICE, AccessRules.decide(new Credential.Service(), Operation.WATCH_POLICIES));
        // the alert service suspends agents whose alerts are set to SUSPEND
        assertEquals(AccessDecision.ALLOW_SERVICE, AccessRules.decide(new Credential.Service(), Operation.SUSPEND_AGENT));
    }
}
