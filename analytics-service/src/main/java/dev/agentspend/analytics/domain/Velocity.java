package dev.agentspend.analytics.domain;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Spend velocity over rolling windows ending now. A window of N minutes is the current minute and
 * the N-1 before it (minute buckets), so a payment counts in every window the moment it is
 * ingested. Rates are rounded down: per minute = spend / N, per hour = spend * 60 / N.
 */
public final class Velocity {
    /** The windows reported, in minutes. */
    public static final int[] WINDOWS = {1, 5, 15, 60};

    /** One window's figures. */
    public record Window(int minutes, long spendMicros, long perMinuteMicros, long perHourMicros) {
    }

    private Velocity() {
    }

    /** The first minute bucket of the window of {@code minutes} ending at {@code now}. */
    public static Instant windowStart(Instant now, int minutes) {
        return now.truncatedTo(ChronoUnit.MINUTES).minus(minutes - 1L, ChronoUnit.MINUTES);
    }

    /** Computes every window from spend per minute bucket (buckets outside the last hour are ignored). */
    public static List<Window> windows(Map<Instant, Long> spendPerMinute, Instant now) {
        List<Window> out = new ArrayList<>();
        for (int minutes : WINDOWS) {
            Instant start = windowStart(now, minutes);
            Instant end = now.truncatedTo(ChronoUnit.MINUTES).plus(1, ChronoUnit.MINUTES);
            long spend = 0;
            for (Map.Entry<Instant, Long> e : spendPerMinute.entrySet()) {
                if (!e.getKey().isBefore(start) && e.getKey().isBefore(end)) {
                    spend = Math.addExact(spend, e.getValue());
                }
            }
            out.add(new Window(minutes, spend, Math.floorDiv(spend, minutes),
                    Math.floorDiv(Math.multiplyExact(spend, 60L), minutes)));
        }
        return out;
    }
}
