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
    /**
     * The key the client gave this payment when a call with it ended with its outcome unknown: the
     * next call with the same Payment is the retry of that payment, with the same key. Cleared once
     * a call has a definite answer, so a Payment sent again after that is a new payment.
     */
    String unresolvedRequestId = "";
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
     * The idempotency key. Leave it unset and the client makes one per payment: it reuses it on its
     * own retries, and also on the next call with this same Payment object when a call ended with
     * its outcome unknown ({@link LedgerErrorException#transientFailure()}), so retrying
     * {@code pay(p)} yourself is charged at most once; after a definite answer (approved, declined or
     * refused) the next call with it is a new payment. Set it to carry idempotency across process
     * restarts. Not thread-safe: one Payment per logical payment, used by one thread at a time.
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
