package dev.agentspend.ledger.support;

import jakarta.enterprise.context.ApplicationScoped;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;

/**
 * The ledger's clock in tests: the system time plus an offset that tests set to roll cap windows
 * over UTC boundaries or to age holds past their expiry, without waiting. Replaces the default
 * InstantSource bean.
 */
@ApplicationScoped
public class TestClock implements InstantSource {
    private volatile Duration offset = Duration.ZERO;

    @Override
    public Instant instant() {
        return Instant.now().plus(offset);
    }

    /** From now on the clock reads {@code t} (and keeps running from there). */
    public void set(Instant t) {
        offset = Duration.between(Instant.now(), t);
    }

    public void advance(Duration d) {
        offset = offset.plus(d);
    }

    public void reset() {
        offset = Duration.ZERO;
    }
}
