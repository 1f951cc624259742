package dev.agentspend.ledger.domain;

/** An agent's status as the policy feed last said. Only ACTIVE agents may spend. */
public enum AgentStatus {
    ACTIVE, SUSPENDED, REVOKED
}
