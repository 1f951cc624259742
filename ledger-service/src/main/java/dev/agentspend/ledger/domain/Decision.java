package dev.agentspend.ledger.domain;

import java.util.List;

/**
 * The outcome of an authorization: approved (perhaps past SOFT caps, listed in softBreaches) or
 * declined with a reason, the HARD cap exceeded when there is one, and an explanation.
 */
public record Decision(boolean approved, DeclineReason reason, Breach exceeded, List<Breach> softBreaches,
                       String message) {
    public Decision {
        softBreaches = List.copyOf(softBreaches);
    }

    static Decision approve(List<Breach> softBreaches) {
        return new Decision(true, null, null, softBreaches, "");
    }

    static Decision decline(DeclineReason reason, Breach exceeded, String message) {
        return new Decision(false, reason, exceeded, List.of(), message);
    }
}
