package dev.agentspend.identity.domain;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.FieldViolation;
import dev.agentspend.common.error.Violations;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.identity.v1.WorkingInterval;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class WorkingHoursRulesTest {
    private static WorkingInterval interval(int day, int start, int end) {
        return WorkingInterval.newBuilder().setDayOfWeek(day).setStartMinute(start).setEndMinute(end).build();
    }

    private static List<String> violations(WorkingHours hours) {
        Violations v = new Violations();
        WorkingHoursRules.check(hours, "working_hours", v);
        try {
            v.throwIfAny();
            return List.of();
        } catch (ApiException e) {
            return e.violations().stream().map(FieldViolation::field).toList();
        }
    }

    @Test
    void noWorkingHoursAtAllIsValid() {
        assertEquals(List.of(), violations(WorkingHours.getDefaultInstance()));
    }

    @Test
    void zoneMustBeAnIanaRegion() {
        assertEquals(List.of(), violations(WorkingHours.newBuilder().setTimeZone("Asia/Tokyo").build()));
        assertEquals(List.of("working_hours.time_zone"), violations(WorkingHours.newBuilder().setTimeZone("+02:00").build()));
        assertEquals(List.of("working_hours.time_zone"),
                violations(WorkingHours.newBuilder().addIntervals(interval(1, 0, 60)).build()));
    }

    @Test
    void intervalsAreBoundedAndDoNotOverlap() {
        WorkingHours bad = WorkingHours.newBuilder().setTimeZone("UTC").addIntervals(interval(0, 0, 60))
                .addIntervals(interval(2, -1, 60)).addIntervals(interval(3, 600, 600)).addIntervals(interval(4, 0, 1441)).build();
        assertEquals(List.of("working_hours.intervals[0].day_of_week", "working_hours.intervals[1].start_minute",
                "working_hours.intervals[2].end_minute", "working_hours.intervals[3].end_minute"), violations(bad));
        WorkingHours overlapping = WorkingHours.newBuilder().setTimeZone("UTC").addIntervals(interval(1, 600, 720))
                .addIntervals(interval(2, 0, 1440)).addIntervals(interval(1, 540, 601)).build();
        assertEquals(List.of("working_hours.intervals[0]"), violations(overlapping));
        WorkingHours adjacent = WorkingHours.newBuilder().setTimeZone("UTC").addIntervals(interval(1, 540, 720))
                .addIntervals(interval(1, 720, 1440)).build();
        assertEquals(List.of(), violations(adjacent));
    }
}
