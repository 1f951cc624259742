package dev.agentspend.client;

import dev.agentspend.proto.ledger.v1.CapBreach;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;

/**
 * The ledger declined: nothing was charged, and nothing new reserved. A declined capture leaves
 * its hold open ({@code entry().getHoldId()}): capture less or release it, or it stays reserved
 * against caps and balance until it expires. The decline is recorded in the ledger
 * like any payment. Retrying the same call will not help unless the reason goes away (a window
 * rolls over, the agent is topped up or reinstated). A payment with an explicit request_id is
 * answered with its first decline again, except POLICY_UNAVAILABLE (the ledger could not decide):
 * retried with the same request_id, it is decided anew.
 */
public final class PaymentDeclinedException extends AgentSpendException {
    private final transient Entry entry;

    PaymentDeclinedException(Entry entry) {
        super(describe(entry), null);
        this.entry = entry;
    }

    public DeclineReason reason() {
        return entry.getDeclineReason();
    }

    /** For CAP_EXCEEDED and SANDBOX_CEILING: the cap, its window and the headroom that was left. */
    public CapBreach exceededCap() {
        return entry.getExceededCap();
    }

    /** The recorded decline. */
    public Entry entry() {
        return entry;
    }

    private static String describe(Entry entry) {
        StringBuilder s = new StringBuilder("payment declined: ").append(entry.getDeclineReason().name()
                .replace("DECLINE_REASON_", ""));
        if (entry.hasExceededCap()) {
            CapBreach cap = entry.getExceededCap();
            s.append(" (").append(cap.getScope().name().replace("CAP_SCOPE_", "").toLowerCase())
                    .append(' ').append(cap.getWindow().name().replace("CAP_WINDOW_", "").toLowerCase())
                    .append(" cap ").append(cap.getLimitMicros()).append(" micros, headroom ")
                    .append(cap.getHeadroomMicros()).append(" micros)");
        }
        if (!entry.getNote().isEmpty()) {
            s.append(": ").append(entry.getNote());
        }
        return s.toString();
    }
}
