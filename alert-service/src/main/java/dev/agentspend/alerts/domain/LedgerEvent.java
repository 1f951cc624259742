package dev.agentspend.alerts.domain;

import java.time.Instant;

/**
 * What the rules need of one ledger entry, independent of the wire format.
 *
 * @param spendMicros   what the entry adds to the agent's spend (negative for refunds)
 * @param occurredTime  when the agent says it happened; null when not sent
 * @param recordedTime  when the ledger recorded it: every "now" window counts on this time
 */
public record LedgerEvent(long position, String entryId, Kind kind, String agentId, String teamId,
                          long spendMicros, long amountMicros, String currencyCode, String tool, String taskId,
                          int attempt, String counterpartyAgentId, String declineReason,
                          Instant occurredTime, Instant recordedTime) {

    public enum Kind {
        /** An approved payment, capture or agent payment: money spent. */
        SPEND,
        /** A declined payment, hold, capture or agent payment. */
        DECLINE,
        /** A task closed. */
        TASK_COMPLETED,
        /** A refund of spend. */
        REVERSAL,
        /** Anything else (credits, holds placed, releases): no rule looks at it. */
        OTHER
    }

    public boolean isAgentPayment() {
        return counterpartyAgentId != null && !counterpartyAgentId.isEmpty() && kind == Kind.SPEND;
    }

    /**
     * The time day-bucketed trend rules (cost per task, regular cap utilization) count on: the
     * agent's occurred_time when it is sent and plausible (not after the recorded time and at most
     * {@code maxBackdate} before it), else the recorded time. Windows that act "now" (velocity,
     * spikes, declines, loops, off-hours, retries, current cap utilization) always use recorded time,
     * which an agent cannot influence.
     */
    public Instant trendTime(java.time.Duration maxBackdate) {
        if (occurredTime == null || occurredTime.isAfter(recordedTime)
                || occurredTime.isBefore(recordedTime.minus(maxBackdate))) {
            return recordedTime;
        }
        return occurredTime;
    }
}
