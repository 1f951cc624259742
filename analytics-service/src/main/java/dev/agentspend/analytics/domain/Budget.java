package dev.agentspend.analytics.domain;

import dev.agentspend.common.api.WorkingSchedule;

import java.time.Instant;

/**
 * The projected hourly budget that spend velocity is judged against: the daily cap spread over the
 * working hours of the agent's current local day, or, for an agent without a daily cap, its
 * baseline (average daily spend) spread the same way. Without working hours, or on a day without
 * any, the day's 24 hours are used. Rounded down to a micro.
 */
public record Budget(long hourlyMicros, Source source) {
    /** Where the budget comes from. */
    public enum Source {
        DAILY_CAP, BASELINE, NONE
    }

    public static Budget project(long dailyCapMicros, long baselineDailyMicros, boolean hasBaseline,
                                 WorkingSchedule schedule, Instant now) {
        int minutes = schedule.workingMinutes(schedule.localDate(now));
        if (minutes == 0) {
            minutes = 1440;
        }
        if (dailyCapMicros > 0) {
            return new Budget(perHour(dailyCapMicros, minutes), Source.DAILY_CAP);
        }
        if (hasBaseline && baselineDailyMicros > 0) {
            return new Budget(perHour(baselineDailyMicros, minutes), Source.BASELINE);
        }
        return new Budget(0, Source.NONE);
    }

    /**
     * {@code dailyMicros * 60 / minutes}, rounded down, at most Long.MAX_VALUE: identity accepts any
     * positive cap, and a cap meant as "unlimited" must not fail every read that projects it.
     */
    static long perHour(long dailyMicros, int minutes) {
        if (dailyMicros < 0 || minutes <= 0) {
            throw new IllegalArgumentException("a daily amount " + dailyMicros + " over " + minutes + " minutes");
        }
        long whole = dailyMicros / minutes;
        long rest = dailyMicros % minutes;
        if (whole > (Long.MAX_VALUE - 60) / 60) {
            return Long.MAX_VALUE;
        }
        return whole * 60 + rest * 60 / minutes;
    }

    /** True when the last hour's spend is above the budget (never without a budget). */
    public boolean exceededBy(long lastHourSpendMicros) {
        return source != Source.NONE && lastHourSpendMicros > hourlyMicros;
    }
}
