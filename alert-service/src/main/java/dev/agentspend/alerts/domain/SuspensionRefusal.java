package dev.agentspend.alerts.domain;

import java.util.Set;

/**
 * What a refused SuspendAgent call means for the suspension an alert asked for. Identity refuses
 * to suspend an agent that is not active (AGENT_NOT_ACTIVE: it is suspended already, by a person or
 * another alert's action), which is what the alert wanted: done, not a failure. A refusal a retry
 * cannot change (the agent is unknown or revoked, the request malformed) ends it; anything else
 * (identity unreachable, overloaded, timed out, the service token refused) is retried.
 */
public enum SuspensionRefusal {
    ALREADY_SUSPENDED, FINAL, TRANSIENT;

    // a refused credential is retried: an operator fixes a service token, and the suspension then goes
    private static final Set<String> FINAL_CODES = Set.of("NOT_FOUND", "INVALID_ARGUMENT", "FAILED_PRECONDITION",
            "ALREADY_EXISTS");

    /** {@code code}: the gRPC status code's name; {@code reason}: its ErrorInfo reason, or "". */
    public static SuspensionRefusal of(String code, String reason) {
        if ("FAILED_PRECONDITION".equals(code) && "AGENT_NOT_ACTIVE".equals(reason)) {
            return ALREADY_SUSPENDED;
        }
        return FINAL_CODES.contains(code) ? FINAL : TRANSIENT;
    }
}
