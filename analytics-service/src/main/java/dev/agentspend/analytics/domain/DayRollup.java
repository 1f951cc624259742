package dev.agentspend.analytics.domain;

import java.time.Duration;
import java.time.Instant;

/**
 * When the minutes' sums move into the day rows (agent_tool_day, and agent_day's spend, calls and
 * declines; V2__day_rollup.sql). {@code daysRolledThrough} (W): every minute before it is in the day
 * rows, and its minute rows are marked so. The consumer moves W forward to {@link #horizon} in the
 * transaction of a batch; readers add the unmarked minute rows to the day rows.
 */
public final class DayRollup {
    /**
     * How long a minute stays out of the day rows after it ends. Its entries arrive up to the feed's
     * lag later (under a second); entries arriving after its rollup are still counted (the batch adds
     * them to the day rows itself), so this only keeps that path rare.
     */
    public static final Duration SETTLE = Duration.ofMinutes(1);

    private DayRollup() {
    }

    /** The minutes that ended at least {@link #SETTLE} before {@code now} are the ones before this. */
    public static Instant horizon(Instant now) {
        return Bucketing.minute(now).minus(SETTLE);
    }

    /** W after a batch applied at {@code now}: the horizon when it is past W, else W (W never moves back). */
    public static Instant next(Instant daysRolledThrough, Instant now) {
        Instant h = horizon(now);
        return h.isAfter(daysRolledThrough) ? h : daysRolledThrough;
    }
}
