package dev.agentspend.ledger.grpc;

import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

/**
 * Prometheus metrics of authorizations:
 * <ul>
 *   <li>{@code agentspend_ledger_authorizations_total{operation,decision,reason}}: how many;</li>
 *   <li>{@code agentspend_ledger_authorized_amount_micros_total{operation,decision,reason,currency}}:
 *       the amounts asked for, in micro-units.</li>
 * </ul>
 * Label cardinality is bounded: operation (pay, hold, capture, pay_agent), decision (approved,
 * declined), reason (none or one of the DeclineReason values) and currency (ISO 4217 codes) are
 * closed sets: at most 4 x 2 x 8 x currencies series. Agent, team, tool and task ids are never
 * labels (unbounded); per-agent figures come from the entry feed (analytics).
 */
@ApplicationScoped
public class PaymentMetrics {
    @Inject
    MeterRegistry registry;

    void record(String operation, Entry e) {
        String decision = e.getDecision() == Decision.DECISION_APPROVED ? "approved" : "declined";
        String reason = e.getDecision() == Decision.DECISION_APPROVED ? "none"
                : e.getDeclineReason().name().substring("DECLINE_REASON_".length()).toLowerCase();
        Counter.builder("agentspend.ledger.authorizations")
                .description("Authorizations decided by the ledger (replays not counted)")
                .tags("operation", operation, "decision", decision, "reason", reason)
                .register(registry).increment();
        Counter.builder("agentspend.ledger.authorized.amount.micros")
                .description("Amounts of the authorizations decided, in micro-units of the currency")
                .tags("operation", operation, "decision", decision, "reason", reason,
                        "currency", e.getCurrencyCode().length() == 3 ? e.getCurrencyCode() : "other")
                .register(registry).increment(e.getAmountMicros());
    }
}
