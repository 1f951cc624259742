package dev.agentspend.analytics.domain;

import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Daily cap utilization over the last 14 UTC days (today and the 13 before): each day's spend over
 * the daily cap in force now; the averages over the last 7 and 14 days count days without spend as
 * 0%; "over 80%" is judged in integers.
 */
public record DailyUtilization(List<Day> days, double average7d, double average14d, int daysOver80Percent7d) {
    /** One day. */
    public record Day(LocalDate day, long spentMicros, double utilization) {
    }

    public static DailyUtilization of(Map<LocalDate, Long> spendPerDay, LocalDate today, long dailyCapMicros) {
        List<Day> days = new ArrayList<>();
        double sum7 = 0;
        double sum14 = 0;
        int over = 0;
        for (int back = 13; back >= 0; back--) {
            LocalDate d = today.minusDays(back);
            long spent = spendPerDay.getOrDefault(d, 0L);
            double u = CapWindows.ratio(spent, dailyCapMicros);
            days.add(new Day(d, spent, u));
            sum14 += u;
            if (back < 7) {
                sum7 += u;
                if (CapWindows.over80Percent(spent, dailyCapMicros)) {
                    over++;
                }
            }
        }
        return new DailyUtilization(days, sum7 / 7, sum14 / 14, over);
    }
}
