package dev.agentspend.identity.domain;

/** The outcome of {@link AccessRules#decide}. */
public enum AccessDecision {
    ALLOW_ADMIN,
    ALLOW_SERVICE,
    UNAUTHENTICATED,
    PERMISSION_DENIED,
    /**
     * An agent key may call nothing here, but whether the answer is PERMISSION_DENIED (a valid key)
     * or UNAUTHENTICATED (an unknown one) depends on the key store.
     */
    DENY_AGENT_KEY
}
