package dev.agentspend.ledger.grpc;

import dev.agentspend.proto.identity.v1.AgentPolicy;

/** Who calls: the admin, an internal service, or an agent (by one of its keys). */
sealed interface Caller {
    record Admin() implements Caller {
    }

    record Service() implements Caller {
    }

    record Agent(AgentPolicy policy, String keyId) implements Caller {
        String agentId() {
            return policy.getAgentId();
        }
    }

    /** The idempotency scope of the caller's request ids. */
    default String idempotencyScope() {
        if (this instanceof Agent a) {
            return "agent:" + a.agentId();
        }
        return this instanceof Admin ? "admin" : "service";
    }
}
