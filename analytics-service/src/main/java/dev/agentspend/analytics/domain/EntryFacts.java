package dev.agentspend.analytics.domain;

import java.time.Instant;
import java.util.Objects;

/**
 * What analytics needs of one ledger entry, free of protobuf: the transport maps
 * {@code agentspend.ledger.v1.Entry} into this and every aggregate is computed from it.
 *
 * @param bucketTime the time the entry counts at (see {@link Bucketing})
 */
public record EntryFacts(long position, Kind kind, boolean approved, String agentId, String teamId,
                         String currencyCode, String tool, String taskId, int attempt,
                         String counterpartyAgentId, long amountMicros, long spendMicros, String holdId,
                         int taskOutcome, Instant bucketTime) {

    /** The entry types analytics distinguishes (the ledger's EventType, grouped by what they do to the numbers). */
    public enum Kind {
        /** An authorization of a payment to a vendor (approved or declined). */
        PAYMENT,
        /** A hold placed (approved) or declined. */
        HOLD_PLACED,
        /** A hold captured (approved) or a capture declined. */
        HOLD_CAPTURED,
        /** A hold released by the agent or expired: the reservation ends, nothing moves. */
        HOLD_ENDED,
        /** An agent-to-agent payment (approved or declined). */
        AGENT_PAYMENT,
        /** A refund of an earlier entry: spend_micros is negative for refunded spend. */
        REVERSAL,
        /** A task closed with an outcome. */
        TASK_COMPLETED,
        /** A top-up, or a type analytics does not count. */
        OTHER
    }

    public EntryFacts {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(agentId, "agentId");
        Objects.requireNonNull(bucketTime, "bucketTime");
        teamId = teamId == null ? "" : teamId;
        currencyCode = currencyCode == null ? "" : currencyCode;
        tool = tool == null ? "" : tool;
        taskId = taskId == null ? "" : taskId;
        counterpartyAgentId = counterpartyAgentId == null ? "" : counterpartyAgentId;
        holdId = holdId == null ? "" : holdId;
    }

    /** An approved payment, capture or agent payment: one productive call that moved money. */
    public boolean isCall() {
        return approved && (kind == Kind.PAYMENT || kind == Kind.HOLD_CAPTURED || kind == Kind.AGENT_PAYMENT);
    }

    /** A declined authorization (payment, hold, capture or agent payment): counted apart from spend. */
    public boolean isDecline() {
        return !approved && (kind == Kind.PAYMENT || kind == Kind.HOLD_PLACED || kind == Kind.HOLD_CAPTURED
                || kind == Kind.AGENT_PAYMENT);
    }

    /** A call after the first try of its logical call. */
    public boolean isRetry() {
        return isCall() && attempt > 1;
    }
}
