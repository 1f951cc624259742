package dev.agentspend.identity.domain;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.proto.identity.v1.AgentStatus;

/**
 * The status machine: ACTIVE and SUSPENDED go back and forth; REVOKED is final. Asking for a
 * transition that does not apply is FAILED_PRECONDITION, so that a caller learns the real state
 * instead of believing it changed something.
 */
public final class AgentStatusTransitions {
    private AgentStatusTransitions() {
    }

    public static AgentStatus suspend(AgentStatus current) {
        requireNotRevoked(current);
        if (current != AgentStatus.AGENT_STATUS_ACTIVE) {
            throw precondition("AGENT_NOT_ACTIVE", "only an active agent can be suspended; it is " + name(current));
        }
        return AgentStatus.AGENT_STATUS_SUSPENDED;
    }

    public static AgentStatus reinstate(AgentStatus current) {
        requireNotRevoked(current);
        if (current != AgentStatus.AGENT_STATUS_SUSPENDED) {
            throw precondition("AGENT_NOT_SUSPENDED", "only a suspended agent can be reinstated; it is " + name(current));
        }
        return AgentStatus.AGENT_STATUS_ACTIVE;
    }

    public static AgentStatus revoke(AgentStatus current) {
        requireNotRevoked(current);
        return AgentStatus.AGENT_STATUS_REVOKED;
    }

    /** Revocation is permanent: a revoked agent's settings and keys can no longer change. */
    public static void requireNotRevoked(AgentStatus current) {
        if (current == AgentStatus.AGENT_STATUS_REVOKED) {
            throw precondition("AGENT_REVOKED", "the agent is revoked, which is permanent; create a new agent");
        }
    }

    private static ApiException precondition(String reason, String message) {
        return ApiException.of(ErrorCode.FAILED_PRECONDITION, reason, message);
    }

    private static String name(AgentStatus status) {
        return status.name().substring("AGENT_STATUS_".length());
    }
}
