package dev.agentspend.analytics.domain;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.LocalDate;
import java.util.Map;

/**
 * Baseline and cap advice after the seed's workflow: collect 7 to 14 days of data, then set the
 * daily cap at 2 to 3 times the average daily spend. The baseline days are the complete UTC days
 * before today, at most 14, and none before the agent's first day of activity. The recommendation is
 * rounded up to a whole cent (10,000 micros).
 */
public record CapAdvice(int daysOfData, long averageDailyMicros, long peakDailyMicros, double multiplier,
                        long recommendedDailyCapMicros, boolean sufficientData, String note) {
    public static final int MIN_DAYS = 7;
    public static final int MAX_DAYS = 14;
    private static final long CENT = 10_000;

    public static CapAdvice of(Map<LocalDate, Long> spendPerDay, LocalDate firstActiveDay, LocalDate today,
                               double multiplier) {
        if (multiplier < 2.0 || multiplier > 3.0) {
            throw new IllegalArgumentException("the cap advice multiplier must be 2 to 3, was " + multiplier);
        }
        if (firstActiveDay == null || !firstActiveDay.isBefore(today)) {
            return new CapAdvice(0, 0, 0, multiplier, 0, false,
                    "No complete day of data yet: collect at least " + MIN_DAYS + " days before setting a cap.");
        }
        LocalDate from = today.minusDays(MAX_DAYS);
        if (firstActiveDay.isAfter(from)) {
            from = firstActiveDay;
        }
        int days = 0;
        long total = 0;
        long peak = 0;
        for (LocalDate d = from; d.isBefore(today); d = d.plusDays(1)) {
            long spent = spendPerDay.getOrDefault(d, 0L);
            total = Math.addExact(total, spent);
            peak = Math.max(peak, spent);
            days++;
        }
        long average = Math.floorDiv(total, days);
        long recommended = BigDecimal.valueOf(total).multiply(BigDecimal.valueOf(multiplier))
                .divide(BigDecimal.valueOf(days), 0, RoundingMode.CEILING)
                .divide(BigDecimal.valueOf(CENT), 0, RoundingMode.CEILING)
                .multiply(BigDecimal.valueOf(CENT)).longValueExact();
        // no net spend (nothing paid, or refunds outweighing it) gives no cap to advise: applied, a
        // cap of zero or less would be refused by identity, or stop the agent
        boolean sufficient = days >= MIN_DAYS && recommended > 0;
        String note = days >= MIN_DAYS && !sufficient
                ? "No net spend in the " + days + " complete days of data: there is no baseline to base a cap on yet."
                : sufficient
                ? "Based on " + days + " complete days: the recommended daily cap is " + multiplier
                        + " x the average daily spend, enough headroom for spikes, tight enough to catch a runaway agent."
                : "Only " + days + " complete day" + (days == 1 ? "" : "s") + " of data: collect at least " + MIN_DAYS
                        + " days before applying this advice; the figures are shown for information only.";
        return new CapAdvice(days, average, peak, multiplier, recommended, sufficient, note);
    }
}
