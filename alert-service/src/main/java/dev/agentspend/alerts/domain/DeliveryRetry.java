package dev.agentspend.alerts.domain;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * When a failed webhook delivery is tried again, and when it is abandoned. Retries back off
 * exponentially up to {@code maxBackoff}, so a receiver that comes back is tried again at most
 * {@code maxBackoff} later. A delivery is abandoned only by an attempt that fails
 * {@code giveUpAfter} or more after its event, never after a number of attempts: a receiver down
 * for less than {@code giveUpAfter} gets every event, however long it took (a count of attempts
 * would tie how long an outage is survived to the backoff settings).
 */
public record DeliveryRetry(Duration baseBackoff, Duration maxBackoff, Duration giveUpAfter) {
    public DeliveryRetry {
        if (baseBackoff.isNegative() || baseBackoff.isZero() || maxBackoff.compareTo(baseBackoff) < 0) {
            throw new IllegalArgumentException("webhook backoff must be positive with max-backoff >= base-backoff, got "
                    + baseBackoff + " and " + maxBackoff);
        }
        if (giveUpAfter.compareTo(maxBackoff) < 0) {
            throw new IllegalArgumentException("webhook give-up-after must be at least max-backoff, got " + giveUpAfter);
        }
    }

    /**
     * After the {@code failedAttempts}-th failed attempt, made at {@code now}, of a delivery of an
     * event of {@code eventTime}: when to try again, or empty when the delivery is abandoned.
     */
    public Optional<Instant> next(int failedAttempts, Instant eventTime, Instant now) {
        if (!now.isBefore(eventTime.plus(giveUpAfter))) {
            return Optional.empty();
        }
        return Optional.of(now.plus(Backoff.after(failedAttempts, baseBackoff, maxBackoff)));
    }
}
