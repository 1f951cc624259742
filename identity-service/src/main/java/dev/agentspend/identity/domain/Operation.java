package dev.agentspend.identity.domain;

/** The kinds of operation access is decided for. */
public enum Operation {
    /** Everything that reads or changes agents, teams, keys, policies or the audit log. */
    ADMIN,
    /** Mapping an agent key to its agent (the ledger's and gateways' lookup). */
    AUTHENTICATE,
    /** The policy feed the ledger enforces from. */
    WATCH_POLICIES,
    /**
     * Suspending an agent: the admin, and the alert service (service token) cutting off an agent
     * whose alert is configured to suspend. Reinstating and revoking stay admin-only.
     */
    SUSPEND_AGENT
}
