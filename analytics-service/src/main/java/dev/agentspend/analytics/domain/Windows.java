package dev.agentspend.analytics.domain;

import dev.agentspend.common.error.Violations;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * The time window of a request: [start, end) in whole minutes (the finest bucket), at most
 * {@link #MAX_DAYS} days. Unset end means "now", including the current minute; unset start means
 * {@code defaultLength} before the end.
 */
public record Windows(Instant start, Instant end) {
    public static final int MAX_DAYS = 400;

    public static Windows resolve(Instant start, Instant end, Duration defaultLength, Instant now, Violations v) {
        Instant e = end != null ? end : now.truncatedTo(ChronoUnit.MINUTES).plus(1, ChronoUnit.MINUTES);
        Instant s = start != null ? start : e.minus(defaultLength);
        if (start != null && !start.truncatedTo(ChronoUnit.MINUTES).equals(start)) {
            v.add("start_time", "must be a whole minute (seconds and nanos 0)");
        }
        if (end != null && !end.truncatedTo(ChronoUnit.MINUTES).equals(end)) {
            v.add("end_time", "must be a whole minute (seconds and nanos 0)");
        }
        if (!s.isBefore(e)) {
            v.add("start_time", "must be before end_time");
        } else if (Duration.between(s, e).toDays() > MAX_DAYS) {
            v.add("start_time", "the window may be at most " + MAX_DAYS + " days long");
        }
        return new Windows(s, e);
    }
}
