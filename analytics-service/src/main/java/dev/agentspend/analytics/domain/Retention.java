package dev.agentspend.analytics.domain;

import dev.agentspend.common.error.Violations;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;

/**
 * How long the fine-grained rows are kept. Minute rows (per agent and tool, per payer and payee) hold
 * a row per key and minute, about 5.8 million a day for a thousand agents paying for four tools
 * around the clock; they are kept for {@code minuteDays} whole UTC days before today, and the day
 * rows they roll up into are kept for good. Tasks are kept for {@code taskDays} after they complete
 * (or, never completed, after their last payment).
 *
 * <p>The horizons are whole UTC days, so that a window reaching before the minute horizon can still
 * be answered exactly from the day rows when its edges are UTC midnights. A read that would need
 * minutes or tasks from before a horizon is refused, not answered from rows that may be gone: the
 * answer would be silently short. The horizons follow the clock, not the purge, so a request is
 * refused or served the same whether or not the purge has run yet.
 */
public record Retention(int minuteDays, int taskDays) {
    /** Off-hours spend reads minutes over 7 days by default, today's included: 8 days at least. */
    public static final int MIN_MINUTE_DAYS = 8;
    /** The dashboard's cost-per-task trend covers 14 days. */
    public static final int MIN_TASK_DAYS = 14;
    /** Windows are at most {@link Windows#MAX_DAYS} long: keeping minutes longer than that serves nothing. */
    public static final int MAX_MINUTE_DAYS = Windows.MAX_DAYS;
    public static final int MAX_TASK_DAYS = 3660;

    public Retention {
        if (minuteDays < MIN_MINUTE_DAYS || minuteDays > MAX_MINUTE_DAYS) {
            throw new IllegalArgumentException("minute rows must be kept " + MIN_MINUTE_DAYS + " to " + MAX_MINUTE_DAYS
                    + " days, not " + minuteDays);
        }
        if (taskDays < MIN_TASK_DAYS || taskDays > MAX_TASK_DAYS) {
            throw new IllegalArgumentException("tasks must be kept " + MIN_TASK_DAYS + " to " + MAX_TASK_DAYS
                    + " days, not " + taskDays);
        }
    }

    /** Minute rows before this (a UTC midnight) may be purged. */
    public Instant minuteHorizon(Instant now) {
        return daysBefore(now, minuteDays);
    }

    /** Tasks completed (or, open, last paid) before this (a UTC midnight) may be purged. */
    public Instant taskHorizon(Instant now) {
        return daysBefore(now, taskDays);
    }

    /** The longest cost-per-task window: its previous window (as long again) ends where the current starts. */
    public int maxCostWindowDays() {
        // the current window has today and days - 1 before it, the previous days more: 2 days - 1 in all
        return (taskDays + 1) / 2;
    }

    /**
     * A window answered from the day rows for its whole UTC days and from the minutes for its
     * ragged edges: an edge before the minute horizon must be a UTC midnight.
     */
    public void requireMinuteEdges(Windows w, Instant now, Violations v) {
        Instant horizon = minuteHorizon(now);
        if (w.start().isBefore(horizon) && !isMidnight(w.start())) {
            v.add("start_time", beforeHorizon(horizon, "a window that starts before then must start at a UTC midnight"));
        }
        if (w.end().isBefore(horizon) && !isMidnight(w.end())) {
            v.add("end_time", beforeHorizon(horizon, "a window that ends before then must end at a UTC midnight"));
        }
    }

    /** A window answered from the minutes alone: it must start at or after the minute horizon. */
    public void requireMinutes(Windows w, Instant now, String why, Violations v) {
        Instant horizon = minuteHorizon(now);
        if (w.start().isBefore(horizon)) {
            v.add("start_time", beforeHorizon(horizon, why));
        }
    }

    /** A window over completed tasks: it must start at or after the task horizon. */
    public void requireTasks(Windows w, Instant now, Violations v) {
        Instant horizon = taskHorizon(now);
        if (w.start().isBefore(horizon)) {
            v.add("start_time", "tasks are kept for " + taskDays + " days (agentspend.analytics.retention.task-days): "
                    + "the window must start at or after " + horizon);
        }
    }

    public static boolean isMidnight(Instant t) {
        return t.getEpochSecond() % 86_400 == 0 && t.getNano() == 0;
    }

    private String beforeHorizon(Instant horizon, String rule) {
        return "minute detail is kept for " + minuteDays + " days (agentspend.analytics.retention.minute-days), from "
                + horizon + " on; " + rule;
    }

    private static Instant daysBefore(Instant now, int days) {
        LocalDate today = LocalDate.ofInstant(now, ZoneOffset.UTC);
        return today.minusDays(days).atStartOfDay(ZoneOffset.UTC).toInstant();
    }
}
