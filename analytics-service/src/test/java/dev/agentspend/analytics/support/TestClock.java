package dev.agentspend.analytics.support;

import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Alternative;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/**
 * Replaces the service's clock in tests: the system clock unless a test pins "now" (to compute
 * windows by hand on a constructed history), and back to the system clock when it is done.
 */
@ApplicationScoped
public class TestClock {
    private static volatile Instant pinned;

    public static void pin(Instant now) {
        pinned = now;
    }

    public static void release() {
        pinned = null;
    }

    @Produces
    @Singleton
    @Alternative
    @Priority(1)
    Clock clock() {
        return new Clock() {
            @Override
            public ZoneId getZone() {
                return ZoneOffset.UTC;
            }

            @Override
            public Clock withZone(ZoneId zone) {
                return this;
            }

            @Override
            public Instant instant() {
                Instant p = pinned;
                return p != null ? p : Instant.now();
            }
        };
    }
}
