package dev.agentspend.client;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One payment to make: amount, currency and the tool paid, plus optional task, logical call,
 * attempt, labels and the agent's own time. Build with {@link #of(long, String, String)}.
 */
public final class Payment {
    final long amountMicros;
    final String currencyCode;
    final String tool;
    String taskId = "";
    String callId = "";
    int attempt;
    String requestId = "";
    Instant occurredTime;
    final Map<String, String> labels = new LinkedHashMap<>();

    private Payment(long amountMicros, String currencyCode, String tool) {
        this.amountMicros = amountMicros;
        this.currencyCode = Objects.requireNonNull(currencyCode, "currencyCode");
        this.tool = Objects.requireNonNull(tool, "tool");
    }

    /** A payment of {@code amountMicros} (1 USD = 1,000,000) in {@code currencyCode} for {@code tool}. */
    public static Payment of(long amountMicros, String currencyCode, String tool) {
        return new Payment(amountMicros, currencyCode, tool);
    }

    /** The unit of work this payment belongs to (cost per task is computed from it). */
    public Payment task(String taskId) {
        this.taskId = Objects.requireNonNull(taskId, "taskId");
        return this;
    }

    /**
     * The agent's logical call and which try of it this is: attempt 1 first, 2 and up when the
     * agent retries the call itself (for example after a tool error). The ledger reports retry
     * cost from these.
     */
    public Payment call(String callId, int attempt) {
        if (attempt < 1) {
            throw new IllegalArgumentException("attempt starts at 1, was " + attempt);
        }
        this.callId = Objects.requireNonNull(callId, "callId");
        this.attempt = attempt;
        return this;
    }

    /**
     * The idempotency key. Leave it unset and the client makes one per {@code pay} call and reuses
     * it on its own retries; set it to carry idempotency across process restarts.
     */
    public Payment requestId(String requestId) {
        this.requestId = Objects.requireNonNull(requestId, "requestId");
        return this;
    }

    public Payment occurredAt(Instant occurredTime) {
        this.occurredTime = Objects.requireNonNull(occurredTime, "occurredTime");
        return this;
    }

    public Payment label(String key, String value) {
        labels.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return this;
    }
}
