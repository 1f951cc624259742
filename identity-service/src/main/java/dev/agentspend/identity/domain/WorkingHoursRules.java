package dev.agentspend.identity.domain;

import dev.agentspend.common.error.Violations;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.identity.v1.WorkingInterval;

import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Working hours: an IANA region time zone and non-overlapping intervals within each day. */
public final class WorkingHoursRules {
    private WorkingHoursRules() {
    }

    public static void check(WorkingHours hours, String path, Violations v) {
        boolean hasIntervals = hours.getIntervalsCount() > 0;
        if (!hours.getTimeZone().isEmpty() || hasIntervals) {
            // offsets like +02:00 are refused: they ignore daylight saving, which shifts working hours
            v.check(ZoneId.getAvailableZoneIds().contains(hours.getTimeZone()), path + ".time_zone",
                    "must be an IANA time zone such as Europe/Paris, was '"
                            + dev.agentspend.common.api.Fields.printable(hours.getTimeZone()) + "'");
        }
        if (hours.getIntervalsCount() > Limits.MAX_WORKING_INTERVALS) {
            v.add(path + ".intervals", "at most " + Limits.MAX_WORKING_INTERVALS + " intervals are allowed");
            return;
        }
        boolean allValid = true;
        for (int i = 0; i < hours.getIntervalsCount(); i++) {
            WorkingInterval in = hours.getIntervals(i);
            String at = path + ".intervals[" + i + "]";
            boolean ok = true;
            if (in.getDayOfWeek() < 1 || in.getDayOfWeek() > 7) {
                v.add(at + ".day_of_week", "must be 1 (Monday) to 7 (Sunday), was " + in.getDayOfWeek());
                ok = false;
            }
            if (in.getStartMinute() < 0 || in.getStartMinute() > 1439) {
                v.add(at + ".start_minute", "must be 0..1439, was " + in.getStartMinute());
                ok = false;
            }
            if (in.getEndMinute() < 1 || in.getEndMinute() > 1440 || in.getEndMinute() <= in.getStartMinute()) {
                v.add(at + ".end_minute", "must be 1..1440 and larger than start_minute, was " + in.getEndMinute());
                ok = false;
            }
            allValid &= ok;
        }
        if (allValid) {
            checkOverlaps(hours.getIntervalsList(), path, v);
        }
    }

    private static void checkOverlaps(List<WorkingInterval> intervals, String path, Violations v) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < intervals.size(); i++) {
            order.add(i);
        }
        order.sort(Comparator.<Integer>comparingInt(i -> intervals.get(i).getDayOfWeek())
                .thenComparingInt(i -> intervals.get(i).getStartMinute()));
        for (int k = 1; k < order.size(); k++) {
            WorkingInterval prev = intervals.get(order.get(k - 1));
            WorkingInterval cur = intervals.get(order.get(k));
            if (prev.getDayOfWeek() == cur.getDayOfWeek() && cur.getStartMinute() < prev.getEndMinute()) {
                v.add(path + ".intervals[" + order.get(k) + "]", "overlaps " + path + ".intervals["
                        + order.get(k - 1) + "] on day " + cur.getDayOfWeek());
            }
        }
    }
}
