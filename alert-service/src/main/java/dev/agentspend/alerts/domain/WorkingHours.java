package dev.agentspend.alerts.domain;

import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.List;

/**
 * A weekly schedule in an IANA time zone. Without intervals the agent has no working hours and is
 * never off-hours.
 */
public record WorkingHours(ZoneId zone, List<Interval> intervals) {
    public WorkingHours {
        intervals = List.copyOf(intervals);
    }

    /** ISO day of week 1..7, minutes since local midnight, end exclusive. */
    public record Interval(int dayOfWeek, int startMinute, int endMinute) {
    }

    public static WorkingHours none() {
        return new WorkingHours(ZoneId.of("UTC"), List.of());
    }

    public boolean defined() {
        return !intervals.isEmpty();
    }

    /** Whether the instant falls in a working interval (local wall time of the zone). */
    public boolean isWorking(Instant at) {
        if (!defined()) {
            return true;
        }
        ZonedDateTime local = at.atZone(zone);
        int dow = local.getDayOfWeek().getValue();
        int minute = local.getHour() * 60 + local.getMinute();
        for (Interval i : intervals) {
            if (i.dayOfWeek() == dow && minute >= i.startMinute() && minute < i.endMinute()) {
                return true;
            }
        }
        return false;
    }

    /** Working minutes on the local day that contains the instant (0 when none are scheduled). */
    public int workingMinutesOnDayOf(Instant at) {
        LocalDate day = at.atZone(zone).toLocalDate();
        DayOfWeek dow = day.getDayOfWeek();
        int total = 0;
        for (Interval i : intervals) {
            if (i.dayOfWeek() == dow.getValue()) {
                total += i.endMinute() - i.startMinute();
            }
        }
        return Math.min(total, 1440);
    }
}
