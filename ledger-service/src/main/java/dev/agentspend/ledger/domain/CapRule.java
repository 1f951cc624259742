package dev.agentspend.ledger.domain;

import java.time.Instant;
import java.util.Objects;

/**
 * One cap of an agent's or team's policy, in domain terms.
 *
 * @param tool          empty if the cap counts every tool
 * @param raiseLimit    a temporary higher limit, in force while {@code now < raiseExpire}; 0 if none
 */
public record CapRule(Scope scope, Window window, long limit, boolean hard, String tool,
                      long raiseLimit, Instant raiseExpire) {
    public CapRule {
        Objects.requireNonNull(scope, "scope");
        Objects.requireNonNull(window, "window");
        tool = tool == null ? "" : tool;
    }

    public static CapRule of(Scope scope, Window window, long limit, boolean hard) {
        return new CapRule(scope, window, limit, hard, "", 0, null);
    }

    /** The limit in force at {@code now}: the temporary raise until it expires, the cap's limit after. */
    public long effectiveLimit(Instant now) {
        if (raiseLimit > limit && raiseExpire != null && now.isBefore(raiseExpire)) {
            return raiseLimit;
        }
        return limit;
    }

    /** Whether a payment for {@code paymentTool} counts against this cap. */
    public boolean appliesTo(String paymentTool) {
        return tool.isEmpty() || tool.equals(paymentTool);
    }
}
