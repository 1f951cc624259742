package dev.agentspend.common.api;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WorkingScheduleTest {
    private static final WorkingSchedule PARIS_9_TO_5 = new WorkingSchedule(ZoneId.of("Europe/Paris"), List.of(
            new WorkingSchedule.Interval(1, 540, 1020), new WorkingSchedule.Interval(2, 540, 1020),
            new WorkingSchedule.Interval(3, 540, 1020), new WorkingSchedule.Interval(4, 540, 1020),
            new WorkingSchedule.Interval(5, 540, 1020)));

    @Test
    void workingHoursAreJudgedInTheAgentsZoneAcrossDaylightSaving() {
        // Monday 2026-11-30, Paris is UTC+1 in winter
        assertTrue(PARIS_9_TO_5.isOffHours(Instant.parse("2026-11-30T07:59:00Z")));
        assertFalse(PARIS_9_TO_5.isOffHours(Instant.parse("2026-11-30T08:00:00Z")));
        assertFalse(PARIS_9_TO_5.isOffHours(Instant.parse("2026-11-30T15:59:00Z")));
        assertTrue(PARIS_9_TO_5.isOffHours(Instant.parse("2026-11-30T16:00:00Z")));
        // Monday 2026-07-06, UTC+2 in summer
        assertFalse(PARIS_9_TO_5.isOffHours(Instant.parse("2026-07-06T07:00:00Z")));
        assertTrue(PARIS_9_TO_5.isOffHours(Instant.parse("2026-07-06T06:59:00Z")));
        // Sunday is off all day; without working hours nothing is off-hours
        assertTrue(PARIS_9_TO_5.isOffHours(Instant.parse("2026-11-29T10:00:00Z")));
        assertFalse(WorkingSchedule.none().isOffHours(Instant.parse("2026-11-29T03:00:00Z")));
        assertEquals(480, PARIS_9_TO_5.workingMinutes(LocalDate.parse("2026-11-30")));
        assertEquals(0, PARIS_9_TO_5.workingMinutes(LocalDate.parse("2026-11-29")));
        // Sunday 23:30 UTC is already Monday 00:30 in Paris
        assertEquals(LocalDate.parse("2026-11-30"), PARIS_9_TO_5.localDate(Instant.parse("2026-11-29T23:30:00Z")));
    }

    @Test
    void overlappingIntervalsCountEachMinuteOnce() {
        WorkingSchedule overlapping = new WorkingSchedule(ZoneId.of("UTC"), List.of(
                new WorkingSchedule.Interval(1, 540, 720), new WorkingSchedule.Interval(1, 660, 780)));
        assertEquals(240, overlapping.workingMinutes(LocalDate.parse("2026-11-30")));
    }
}
