package dev.agentspend.client;

import io.grpc.Status;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Bounded retries with exponential backoff and full jitter, on transient failures only. Every
 * retry resends the identical request (same request_id), so the ledger applies it at most once.
 *
 * @param maxAttempts     attempts in all, 1..10 (1 = no retry)
 * @param initialBackoff  the first pause's upper bound
 * @param maxBackoff      the cap on every pause
 * @param attemptTimeout  the deadline of each attempt
 */
public record RetryPolicy(int maxAttempts, Duration initialBackoff, Duration maxBackoff, Duration attemptTimeout) {
    public static final RetryPolicy DEFAULT =
            new RetryPolicy(4, Duration.ofMillis(50), Duration.ofSeconds(2), Duration.ofSeconds(5));
    public static final RetryPolicy NONE =
            new RetryPolicy(1, Duration.ofMillis(1), Duration.ofMillis(1), Duration.ofSeconds(5));

    public RetryPolicy {
        if (maxAttempts < 1 || maxAttempts > 10) {
            throw new IllegalArgumentException("maxAttempts must be 1..10, was " + maxAttempts);
        }
        // whole milliseconds: a pause or deadline is applied in milliseconds, and one under a
        // millisecond would become no pause at all, or a deadline every attempt misses
        if (initialBackoff.toMillis() < 1 || maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("backoff must be at least 1 ms with maxBackoff >= initialBackoff, was "
                    + initialBackoff + " and " + maxBackoff);
        }
        if (attemptTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("attemptTimeout must be at least 1 ms, was " + attemptTimeout);
        }
    }

    /**
     * Failures after which the same request may succeed: the ledger was unreachable, overloaded or
     * timed out. Everything else (a refused request, a wrong key) fails the same way every time.
     */
    public static boolean isTransient(Status.Code code) {
        return code == Status.Code.UNAVAILABLE
                || code == Status.Code.DEADLINE_EXCEEDED
                || code == Status.Code.RESOURCE_EXHAUSTED
                || code == Status.Code.ABORTED;
    }

    /**
     * Answers after which the request was certainly not applied: the ledger refused it as it
     * stands. After any other failure (a timeout, a lost connection, an internal error, an
     * interrupted call) it may have been applied, and only a retry with the same request_id can
     * tell.
     */
    public static boolean isDefiniteRefusal(Status.Code code) {
        return switch (code) {
            case INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, FAILED_PRECONDITION, ALREADY_EXISTS,
                 NOT_FOUND, OUT_OF_RANGE, UNIMPLEMENTED -> true;
            default -> false;
        };
    }

    /** The pause before retry number {@code retry} (1-based): uniform in [0, min(max, initial * 2^(retry-1))]. */
    long backoffMillis(int retry) {
        long capMs = maxBackoff.toMillis();
        long boundMs = initialBackoff.toMillis();
        for (int i = 1; i < retry && boundMs < capMs; i++) {
            boundMs = Math.min(capMs, boundMs * 2);
        }
        return ThreadLocalRandom.current().nextLong(Math.min(boundMs, capMs) + 1);
    }
}
