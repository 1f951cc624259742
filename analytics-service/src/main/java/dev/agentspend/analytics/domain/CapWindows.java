package dev.agentspend.analytics.domain;

import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAdjusters;

/**
 * The current calendar window of a cap, in UTC as identity and the ledger define them: an hour
 * starts at minute 0, a day at 00:00, a week on Monday 00:00, a month on its first day. LIFETIME
 * has no bounds ({@code null}).
 */
public final class CapWindows {
    /** The cap windows that have a current window whose utilization can be shown. */
    public enum Kind {
        HOUR, DAY, WEEK, MONTH, LIFETIME
    }

    /** [start, end) of a window; both null for LIFETIME. */
    public record Range(Instant start, Instant end) {
    }

    private CapWindows() {
    }

    public static Range current(Kind kind, Instant now) {
        LocalDate day = LocalDate.ofInstant(now, ZoneOffset.UTC);
        return switch (kind) {
            case HOUR -> {
                Instant s = now.truncatedTo(ChronoUnit.HOURS);
                yield new Range(s, s.plus(1, ChronoUnit.HOURS));
            }
            case DAY -> new Range(startOf(day), startOf(day.plusDays(1)));
            case WEEK -> {
                LocalDate monday = day.with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY));
                yield new Range(startOf(monday), startOf(monday.plusWeeks(1)));
            }
            case MONTH -> {
                LocalDate first = day.withDayOfMonth(1);
                yield new Range(startOf(first), startOf(first.plusMonths(1)));
            }
            case LIFETIME -> new Range(null, null);
        };
    }

    /** The limit in force: a temporary raise until its expiry, the cap's own limit otherwise. */
    public static long effectiveLimit(long limitMicros, long raisedLimitMicros, Instant raiseExpiry, Instant now) {
        if (raisedLimitMicros > 0 && raiseExpiry != null && now.isBefore(raiseExpiry)) {
            return raisedLimitMicros;
        }
        return limitMicros;
    }

    /** used / limit for display; 0 without a limit. */
    public static double ratio(long usedMicros, long limitMicros) {
        return limitMicros <= 0 ? 0.0 : (double) usedMicros / limitMicros;
    }

    /**
     * Integer test of used &gt; 80% of limit: 5 * used &gt; 4 * limit, no rounding, for any limit (a
     * cap may be as large as a long). For integers that is used &gt; floor(4 * limit / 5), computed
     * as 4 * (limit / 5) + 4 * (limit % 5) / 5, which cannot overflow.
     */
    public static boolean over80Percent(long usedMicros, long limitMicros) {
        return limitMicros > 0 && usedMicros > 4 * (limitMicros / 5) + 4 * (limitMicros % 5) / 5;
    }

    static Instant startOf(LocalDate day) {
        return day.atStartOfDay(ZoneOffset.UTC).toInstant();
    }
}
