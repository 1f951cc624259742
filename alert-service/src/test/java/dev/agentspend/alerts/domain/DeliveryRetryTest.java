package dev.agentspend.alerts.domain;

import dev.agentspend.alerts.config.AlertsConfig;
import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.WithDefault;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The webhook retry rule with the production defaults (read from {@link AlertsConfig}'s
 * annotations, so that changing a default is checked here): a receiver down for an hour loses
 * nothing and is tried again within max-backoff of coming back; only an attempt failing
 * give-up-after past its event abandons a delivery.
 */
class DeliveryRetryTest {
    private static final Instant EVENT = Instant.parse("2026-03-02T09:00:00Z");

    private static Duration productionDefault(String setting) throws NoSuchMethodException {
        return DurationConverter.parseDuration(AlertsConfig.Webhooks.class.getMethod(setting)
                .getAnnotation(WithDefault.class).value());
    }

    private static DeliveryRetry production() throws NoSuchMethodException {
        return new DeliveryRetry(productionDefault("baseBackoff"), productionDefault("maxBackoff"),
                productionDefault("giveUpAfter"));
    }

    @Test
    void theDefaultsSurviveAnHourLongOutageAndRetryWithinAFewMinutesOfRecovery() throws Exception {
        DeliveryRetry retry = production();
        assertTrue(retry.maxBackoff().compareTo(Duration.ofMinutes(5)) <= 0,
                "a receiver that comes back waits at most a few minutes: " + retry.maxBackoff());
        assertTrue(retry.giveUpAfter().compareTo(Duration.ofHours(24)) >= 0,
                "a receiver down for a day (a weekend's Friday night to Saturday) loses nothing: " + retry.giveUpAfter());

        // the receiver refuses every attempt for an hour, then is back
        Instant outageEnd = EVENT.plus(Duration.ofHours(1));
        Instant attempt = EVENT;
        int failed = 0;
        Duration longestGap = Duration.ZERO;
        while (attempt.isBefore(outageEnd)) {
            failed++;
            Optional<Instant> next = retry.next(failed, EVENT, attempt);
            assertTrue(next.isPresent(), "not abandoned after " + failed + " attempts, " + Duration.between(EVENT, attempt));
            Duration gap = Duration.between(attempt, next.get());
            longestGap = gap.compareTo(longestGap) > 0 ? gap : longestGap;
            attempt = next.get();
        }
        // the first attempt after recovery delivers it
        Duration afterRecovery = Duration.between(outageEnd, attempt);
        assertTrue(afterRecovery.compareTo(retry.maxBackoff()) <= 0, "delivered " + afterRecovery + " after recovery");
        assertEquals(retry.maxBackoff(), longestGap, "the backoff reached its cap and stayed there");
        // attempts at 0, 1, 3, ..., 255 s (backoff 1 s doubling to 256 s), then every 5 min from 511 s
        // (512 s is past the cap): 9 + 11 failed attempts in the hour, the next one at 3,811 s delivers
        assertEquals(20, failed);
        assertEquals(Duration.ofSeconds(211), afterRecovery);
    }

    @Test
    void abandonedOnlyByAnAttemptFailingGiveUpAfterPastItsEvent() throws Exception {
        DeliveryRetry retry = production();
        Instant deadline = EVENT.plus(retry.giveUpAfter());
        assertTrue(retry.next(5_000, EVENT, deadline.minusMillis(1)).isPresent(), "many attempts alone abandon nothing");
        assertEquals(Optional.of(deadline.minusMillis(1).plus(retry.maxBackoff())),
                retry.next(5_000, EVENT, deadline.minusMillis(1)));
        assertEquals(Optional.empty(), retry.next(5_000, EVENT, deadline));
        assertEquals(Optional.empty(), retry.next(1, EVENT, deadline.plusSeconds(1)), "an old event's first failure too");
    }

    @Test
    void backsOffFromTheBaseDoublingToTheCap() {
        DeliveryRetry retry = new DeliveryRetry(Duration.ofSeconds(1), Duration.ofSeconds(4), Duration.ofMinutes(1));
        Instant now = EVENT.plusSeconds(10);
        assertEquals(Optional.of(now.plusSeconds(1)), retry.next(1, EVENT, now));
        assertEquals(Optional.of(now.plusSeconds(2)), retry.next(2, EVENT, now));
        assertEquals(Optional.of(now.plusSeconds(4)), retry.next(3, EVENT, now));
        assertEquals(Optional.of(now.plusSeconds(4)), retry.next(40, EVENT, now));
    }

    @Test
    void refusesSettingsThatCannotWork() {
        assertThrows(IllegalArgumentException.class,
                () -> new DeliveryRetry(Duration.ZERO, Duration.ofSeconds(4), Duration.ofHours(1)));
        assertThrows(IllegalArgumentException.class,
                () -> new DeliveryRetry(Duration.ofSeconds(5), Duration.ofSeconds(4), Duration.ofHours(1)));
        assertThrows(IllegalArgumentException.class,
                () -> new DeliveryRetry(Duration.ofSeconds(1), Duration.ofMinutes(5), Duration.ofMinutes(1)));
    }
}
