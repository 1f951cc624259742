package dev.agentspend.identity.domain;

import dev.agentspend.common.error.Violations;
import dev.agentspend.proto.identity.v1.SpendingPolicy;

import java.time.Instant;

/** An agent's whole spending policy: its caps plus the holds limit and the sandbox ceiling. */
public final class PolicyRules {
    private PolicyRules() {
    }

    public static void check(SpendingPolicy policy, String currency, Instant now, String path, Violations v) {
        CapRules.check(policy.getCapsList(), currency, policy.getAllowInvertedWindows(), now, path + ".caps", v);
        v.check(policy.getMaxConcurrentHolds() >= 0 && policy.getMaxConcurrentHolds() <= Limits.MAX_CONCURRENT_HOLDS,
                path + ".max_concurrent_holds", "must be 0 (no limit) to " + Limits.MAX_CONCURRENT_HOLDS);
        v.check(policy.getSandboxCeilingMicros() >= 0, path + ".sandbox_ceiling_micros",
                "must not be negative, was " + policy.getSandboxCeilingMicros());
    }
}
