package dev.agentspend.ledger.domain;

/** Why an authorization was declined (agentspend.ledger.v1.DeclineReason). */
public enum DeclineReason {
    CAP_EXCEEDED, INSUFFICIENT_BALANCE, AGENT_SUSPENDED, AGENT_REVOKED, SANDBOX_CEILING,
    POLICY_UNAVAILABLE, HOLD_LIMIT_REACHED
}
