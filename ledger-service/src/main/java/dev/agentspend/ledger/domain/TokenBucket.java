package dev.agentspend.ledger.domain;

/**
 * A token bucket: {@code ratePerSecond} tokens a second, at most {@code burst} saved up. Time is
 * passed in (monotonic nanoseconds), so the rule is tested without a clock.
 */
public final class TokenBucket {
    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    private final long ratePerSecond;
    private final long burst;
    /** Tokens, in units of 1/ratePerSecond seconds' worth scaled to nanoseconds: exact integers. */
    private long creditNanos;
    private long lastNanos;

    public TokenBucket(long ratePerSecond, long burst, long nowNanos) {
        if (ratePerSecond <= 0 || burst <= 0) {
            throw new IllegalArgumentException("rate and burst must be positive: " + ratePerSecond + ", " + burst);
        }
        this.ratePerSecond = ratePerSecond;
        this.burst = burst;
        this.creditNanos = burst * NANOS_PER_SECOND;
        this.lastNanos = nowNanos;
    }

    /**
     * Takes one token if there is one and returns 0; otherwise takes nothing and returns how many
     * nanoseconds until one will be there.
     */
    public synchronized long tryTake(long nowNanos) {
        long elapsed = Math.max(0, nowNanos - lastNanos);
        lastNanos = Math.max(lastNanos, nowNanos);
        long cap = burst * NANOS_PER_SECOND;
        // credit grows by rate tokens per second; one token costs NANOS_PER_SECOND of credit
        long gained = elapsed >= cap / ratePerSecond ? cap : elapsed * ratePerSecond;
        creditNanos = Math.min(cap, creditNanos + gained);
        if (creditNanos >= NANOS_PER_SECOND) {
            creditNanos -= NANOS_PER_SECOND;
            return 0;
        }
        long missing = NANOS_PER_SECOND - creditNanos;
        return (missing + ratePerSecond - 1) / ratePerSecond;
    }
}
