package dev.agentspend.ledger.grpc;

import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

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

    /** The two counters of one label combination, registered once (this runs for every payment). */
    private record Series(Counter count, Counter amount) {
    }

    private final Map<String, Series> series = new ConcurrentHashMap<>();

    void record(String operation, Entry e) {
        boolean approved = e.getDecision() == Decision.DECISION_APPROVED;
        String currency = e.getCurrencyCode().length() == 3 ? e.getCurrencyCode() : "other";
        String key = operation + '/' + (approved ? 0 : e.getDeclineReasonValue()) + '/' + currency;
        Series s = series.computeIfAbsent(key, k -> {
            String decision = approved ? "approved" : "declined";
            String reason = approved ? "none"
                    : e.getDeclineReason().name().substring("DECLINE_REASON_".length()).toLowerCase();
            return new Series(
                    Counter.builder("agentspend.ledger.authorizations")
                            .description("Authorizations decided by the ledger (replays not counted)")
                            .tags("operation", operation, "decision", decision, "reason", reason)
                            .register(registry),
                    Counter.builder("agentspend.ledger.authorized.amount.micros")
                            .description("Amounts of the authorizations decided, in micro-units of the currency")
                            .tags("operation", operation, "decision", decision, "reason", reason, "currency", currency)
                            .register(registry));
        });
        s.count().increment();
        s.amount().increment(e.getAmountMicros());
    }
}
