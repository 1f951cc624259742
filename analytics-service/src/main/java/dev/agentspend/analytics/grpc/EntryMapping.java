package dev.agentspend.analytics.grpc;

import dev.agentspend.analytics.domain.Bucketing;
import dev.agentspend.analytics.domain.EntryFacts;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;

import java.time.Instant;

/** Maps the ledger's protobuf Entry onto the framework-free {@link EntryFacts}. */
public final class EntryMapping {
    private EntryMapping() {
    }

    public static EntryFacts facts(Entry e) {
        Instant recorded = Instant.ofEpochSecond(e.getRecordedTime().getSeconds(), e.getRecordedTime().getNanos());
        Instant occurred = e.hasOccurredTime()
                ? Instant.ofEpochSecond(e.getOccurredTime().getSeconds(), e.getOccurredTime().getNanos())
                : null;
        return new EntryFacts(e.getPosition(), kind(e), e.getDecision() == Decision.DECISION_APPROVED, e.getAgentId(),
                e.getTeamId(), e.getCurrencyCode(), e.getTool(), e.getTaskId(), e.getAttempt(),
                e.getCounterpartyAgentId(), e.getAmountMicros(), e.getSpendMicros(), e.getHoldId(),
                e.getTaskOutcomeValue(), Bucketing.bucketTime(occurred, recorded));
    }

    static EntryFacts.Kind kind(Entry e) {
        return switch (e.getEventType()) {
            case EVENT_TYPE_PAYMENT_APPROVED, EVENT_TYPE_PAYMENT_DECLINED -> EntryFacts.Kind.PAYMENT;
            case EVENT_TYPE_HOLD_PLACED, EVENT_TYPE_HOLD_DECLINED -> EntryFacts.Kind.HOLD_PLACED;
            case EVENT_TYPE_HOLD_CAPTURED, EVENT_TYPE_CAPTURE_DECLINED -> EntryFacts.Kind.HOLD_CAPTURED;
            case EVENT_TYPE_HOLD_RELEASED, EVENT_TYPE_HOLD_EXPIRED -> EntryFacts.Kind.HOLD_ENDED;
            case EVENT_TYPE_AGENT_PAYMENT_APPROVED, EVENT_TYPE_AGENT_PAYMENT_DECLINED -> EntryFacts.Kind.AGENT_PAYMENT;
            case EVENT_TYPE_REVERSAL -> EntryFacts.Kind.REVERSAL;
            case EVENT_TYPE_TASK_COMPLETED -> EntryFacts.Kind.TASK_COMPLETED;
            default -> EntryFacts.Kind.OTHER;
        };
    }
}
