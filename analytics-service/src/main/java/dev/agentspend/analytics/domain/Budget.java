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
            return new Budget(Math.multiplyExact(dailyCapMicros, 60L) / minutes, Source.DAILY_CAP);
        }
        if (hasBaseline && baselineDailyMicros > 0) {
            return new Budget(Math.multiplyExact(baselineDailyMicros, 60L) / minutes, Source.BASELINE);
        }
        return new Budget(0, Source.NONE);
    }

    /** True when the last hour's spend is above the budget (never without a budget). */
    public boolean exceededBy(long lastHourSpendMicros) {
        return source != Source.NONE && lastHourSpendMicros > hourlyMicros;
    }
}
