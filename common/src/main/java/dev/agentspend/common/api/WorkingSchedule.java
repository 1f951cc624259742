package dev.agentspend.common.api;

import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.List;
import java.util.Objects;

/**
 * An agent's weekly working hours in its IANA time zone, as identity's policy feed carries them.
 * Analytics (off-hours spend, hourly budget) and alerts (the off-hours rule) judge with this one
 * class, so that the same payment is never off-hours in one and not in the other. Off-hours spend is spend at a moment
 * outside every interval, judged in local time (so daylight-saving changes are followed).
 * An agent without intervals has no working hours: nothing it spends is off-hours.
 */
public record WorkingSchedule(ZoneId zone, List<Interval> intervals) {
    /** One working interval: ISO day of week, minutes since local midnight [start, end). */
    public record Interval(int dayOfWeek, int startMinute, int endMinute) {
    }

    public WorkingSchedule {
        Objects.requireNonNull(zone, "zone");
        intervals = List.copyOf(intervals);
    }

    public static WorkingSchedule none() {
        return new WorkingSchedule(ZoneId.of("UTC"), List.of());
    }

    public boolean hasWorkingHours() {
        return !intervals.isEmpty();
    }

    /** True when the moment lies inside a working interval (always false without working hours). */
    public boolean isWorking(Instant t) {
        ZonedDateTime local = t.atZone(zone);
        int dow = local.getDayOfWeek().getValue();
        int minute = local.getHour() * 60 + local.getMinute();
        for (Interval i : intervals) {
            if (i.dayOfWeek() == dow && minute >= i.startMinute() && minute < i.endMinute()) {
                return true;
            }
        }
        return false;
    }

    /** True when spend at this moment is off-hours: the agent has working hours and the moment is outside them. */
    public boolean isOffHours(Instant t) {
        return hasWorkingHours() && !isWorking(t);
    }

    /** Working minutes on a local date (overlapping intervals counted once). */
    public int workingMinutes(LocalDate localDate) {
        DayOfWeek dow = localDate.getDayOfWeek();
        boolean[] minutes = new boolean[1440];
        for (Interval i : intervals) {
            if (i.dayOfWeek() == dow.getValue()) {
                for (int m = Math.max(0, i.startMinute()); m < Math.min(1440, i.endMinute()); m++) {
                    minutes[m] = true;
                }
            }
        }
        int count = 0;
        for (boolean b : minutes) {
            if (b) {
                count++;
            }
        }
        return count;
    }

    /** The local date of a moment in the agent's zone. */
    public LocalDate localDate(Instant t) {
        return t.atZone(zone).toLocalDate();
    }
}
