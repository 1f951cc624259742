package dev.agentspend.ledger.domain;

import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.time.temporal.IsoFields;
import java.time.temporal.TemporalAdjusters;

/**
 * The window a cap counts over. HOUR, DAY, WEEK and MONTH are UTC calendar windows: an hour starts
 * at minute 0, a day at 00:00, a week on Monday 00:00 (ISO 8601), a month on its first day.
 */
public enum Window {
    PAYMENT, TASK, HOUR, DAY, WEEK, MONTH, LIFETIME;

    /** Whether the window is a calendar window that starts and ends at UTC boundaries. */
    public boolean isCalendar() {
        return this == HOUR || this == DAY || this == WEEK || this == MONTH;
    }

    /** Calendar windows and lifetime: the counters a scope keeps per tool in one row (not TASK, not PAYMENT). */
    public boolean isCalendarOrLifetime() {
        return this == LIFETIME || isCalendar();
    }

    /** Start of the calendar window containing {@code t} (inclusive). */
    public Instant start(Instant t) {
        ZonedDateTime z = t.atZone(ZoneOffset.UTC);
        return switch (this) {
            case HOUR -> z.truncatedTo(ChronoUnit.HOURS).toInstant();
            case DAY -> z.truncatedTo(ChronoUnit.DAYS).toInstant();
            case WEEK -> z.truncatedTo(ChronoUnit.DAYS).with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY)).toInstant();
            case MONTH -> z.truncatedTo(ChronoUnit.DAYS).withDayOfMonth(1).toInstant();
            default -> throw new IllegalStateException(this + " is not a calendar window");
        };
    }

    /** End of the calendar window containing {@code t} (exclusive). */
    public Instant end(Instant t) {
        ZonedDateTime s = start(t).atZone(ZoneOffset.UTC);
        return switch (this) {
            case HOUR -> s.plusHours(1).toInstant();
            case DAY -> s.plusDays(1).toInstant();
            case WEEK -> s.plusWeeks(1).toInstant();
            case MONTH -> s.plusMonths(1).toInstant();
            default -> throw new IllegalStateException(this + " is not a calendar window");
        };
    }

    /**
     * The counter bucket of this window at time {@code t} (for TASK: of {@code taskId}); null for
     * PAYMENT, which bounds one payment and has no counter.
     */
    public String bucket(Instant t, String taskId) {
        return switch (this) {
            case PAYMENT -> null;
            case TASK -> "T:" + taskId;
            case LIFETIME -> "L";
            case HOUR -> HourBuckets.of(t).hour;
            case DAY -> HourBuckets.of(t).day;
            case WEEK -> HourBuckets.of(t).week;
            case MONTH -> HourBuckets.of(t).month;
        };
    }

    /**
     * The calendar buckets of one UTC hour. Every payment asks for them, several times (agent and
     * team, each tool), and building them cost a date conversion and four strings each time (JFR:
     * 3% of the ledger's allocation under the benchmark); the last hour's are kept.
     */
    private record HourBuckets(long epochHour, String hour, String day, String week, String month) {
        private static final long SECONDS_PER_HOUR = 3_600;
        /** Racing threads may each build the same hour's; any of them is right. */
        private static volatile HourBuckets last;

        static HourBuckets of(Instant t) {
            long epochHour = Math.floorDiv(t.getEpochSecond(), SECONDS_PER_HOUR);
            HourBuckets b = last;
            if (b == null || b.epochHour != epochHour) {
                b = build(epochHour);
                last = b;
            }
            return b;
        }

        // built by hand: String.format costs a parse per call
        private static HourBuckets build(long epochHour) {
            ZonedDateTime z = Instant.ofEpochSecond(epochHour * SECONDS_PER_HOUR).atZone(ZoneOffset.UTC);
            LocalDate d = z.toLocalDate();
            return new HourBuckets(epochHour, "H:" + d + ':' + twoDigits(z.getHour()), "D:" + d,
                    "W:" + d.get(IsoFields.WEEK_BASED_YEAR) + "-W" + twoDigits(d.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR)),
                    "M:" + d.getYear() + '-' + twoDigits(d.getMonthValue()));
        }
    }

    private static String twoDigits(int n) {
        return n < 10 ? "0" + n : Integer.toString(n);
    }
}
