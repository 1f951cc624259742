package dev.agentspend.alerts.domain;

import java.time.Duration;

/** Exponential backoff of webhook and suspension retries: base * 2^(attempt-1), capped. */
public final class Backoff {
    private Backoff() {
    }

    public static Duration after(int attempts, Duration base, Duration max) {
        if (attempts <= 0) {
            return Duration.ZERO;
        }
        int shift = Math.min(attempts - 1, 30);
        long millis = base.toMillis() << shift;
        if (millis <= 0 || millis > max.toMillis()) {
            return max;
        }
        return Duration.ofMillis(millis);
    }
}
