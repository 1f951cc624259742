package dev.agentspend.analytics.domain;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.FieldViolation;
import dev.agentspend.common.error.Violations;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Horizons are UTC midnights; a window is refused exactly when it needs minutes or tasks from before them. */
class RetentionTest {
    private static final Instant NOW = Instant.parse("2026-12-03T08:30:00Z");
    private final Retention retention = new Retention(35, 180);

    @Test
    void horizonsAreWholeUtcDaysBeforeToday() {
        assertEquals(Instant.parse("2026-10-29T00:00:00Z"), retention.minuteHorizon(NOW));
        assertEquals(Instant.parse("2026-06-06T00:00:00Z"), retention.taskHorizon(NOW));
        assertEquals(Instant.parse("2026-10-29T00:00:00Z"), retention.minuteHorizon(Instant.parse("2026-12-03T23:59:59Z")));
        assertEquals(Instant.parse("2026-10-30T00:00:00Z"), retention.minuteHorizon(Instant.parse("2026-12-04T00:00:00Z")));
    }

    @Test
    void edgesBeforeTheMinuteHorizonMustBeMidnights() {
        assertEquals(List.of(), edges("2026-10-01T00:00:00Z", "2026-12-03T08:31:00Z"), "whole old days, recent edge");
        assertEquals(List.of(), edges("2026-10-29T00:01:00Z", "2026-10-30T13:00:00Z"), "every edge after the horizon");
        assertEquals(List.of(), edges("2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z"));
        assertEquals(List.of("start_time"), edges("2026-10-28T23:59:00Z", "2026-12-03T08:31:00Z"));
        assertEquals(List.of("end_time"), edges("2026-10-01T00:00:00Z", "2026-10-28T12:00:00Z"));
        assertEquals(List.of("start_time", "end_time"), edges("2026-10-01T10:00:00Z", "2026-10-01T12:00:00Z"),
                "a window inside an old day is all edge");
    }

    @Test
    void minutesAndTasksFromTheHorizonOn() {
        Violations ok = new Violations();
        retention.requireMinutes(window("2026-10-29T00:00:00Z", "2026-11-05T00:00:00Z"), NOW, "why", ok);
        retention.requireTasks(window("2026-06-06T00:00:00Z", "2026-06-07T00:00:00Z"), NOW, ok);
        assertTrue(ok.isEmpty());
        Violations minutes = new Violations();
        retention.requireMinutes(window("2026-10-28T23:59:00Z", "2026-11-05T00:00:00Z"), NOW, "off-hours need minutes", minutes);
        assertFalse(minutes.isEmpty());
        String message = assertThrows(ApiException.class, minutes::throwIfAny).violations().get(0).description();
        assertTrue(message.contains("minute detail is kept for 35 days") && message.contains("2026-10-29T00:00:00Z")
                && message.contains("off-hours need minutes"), message);
        Violations tasks = new Violations();
        retention.requireTasks(window("2026-06-05T23:00:00Z", "2026-06-07T00:00:00Z"), NOW, tasks);
        assertFalse(tasks.isEmpty());
    }

    @Test
    void limits() {
        assertThrows(IllegalArgumentException.class, () -> new Retention(Retention.MIN_MINUTE_DAYS - 1, 180));
        assertThrows(IllegalArgumentException.class, () -> new Retention(Retention.MAX_MINUTE_DAYS + 1, 180));
        assertThrows(IllegalArgumentException.class, () -> new Retention(35, Retention.MIN_TASK_DAYS - 1));
        assertThrows(IllegalArgumentException.class, () -> new Retention(35, Retention.MAX_TASK_DAYS + 1));
        assertEquals(90, retention.maxCostWindowDays(), "90 days and the 90 before them, today included: 179 days");
        assertEquals(7, new Retention(35, 14).maxCostWindowDays());
        assertEquals(8, new Retention(35, 15).maxCostWindowDays());
        assertTrue(Retention.isMidnight(Instant.parse("2026-12-03T00:00:00Z")));
        assertFalse(Retention.isMidnight(Instant.parse("2026-12-03T00:00:00.001Z")));
        assertFalse(Retention.isMidnight(Instant.parse("2026-12-03T00:01:00Z")));
    }

    private List<String> edges(String start, String end) {
        Violations v = new Violations();
        retention.requireMinuteEdges(window(start, end), NOW, v);
        if (v.isEmpty()) {
            return List.of();
        }
        ApiException e = assertThrows(ApiException.class, v::throwIfAny);
        return e.violations().stream().map(FieldViolation::field).toList();
    }

    private static Windows window(String start, String end) {
        return new Windows(Instant.parse(start), Instant.parse(end));
    }
}
