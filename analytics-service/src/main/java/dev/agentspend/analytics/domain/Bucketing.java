package dev.agentspend.analytics.domain;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;

/**
 * Which time bucket an entry counts in.
 *
 * <p>An entry counts at its {@code occurred_time} when the agent sent one: a late entry (recorded
 * now, occurred an hour ago) lands in the bucket of when it happened, so charts and per-day figures
 * show spend when it was incurred. Without an occurred time it counts at {@code recorded_time}. An
 * occurred time after the recorded time can only be clock skew of the agent, and the recorded time
 * is used then: nothing is ever counted in the future.
 *
 * <p>Consequence: the ledger counts caps on recorded time, analytics on occurred time, so an agent's
 * "spend today" here can differ from the ledger's by the late entries; totals over all time agree.
 */
public final class Bucketing {
    private Bucketing() {
    }

    public static Instant bucketTime(Instant occurred, Instant recorded) {
        if (occurred == null || occurred.isAfter(recorded)) {
            return recorded;
        }
        return occurred;
    }

    public static Instant minute(Instant t) {
        return t.truncatedTo(ChronoUnit.MINUTES);
    }

    public static LocalDate utcDay(Instant t) {
        return LocalDate.ofInstant(t, ZoneOffset.UTC);
    }
}
