package dev.agentspend.ledger.domain;

/** Whose cap: the agent's own, its team's, or the sandbox ceiling of a SANDBOX agent. */
public enum Scope {
    AGENT, TEAM, SANDBOX
}
