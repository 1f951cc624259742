package dev.agentspend.analytics.domain;

import java.util.Arrays;

/**
 * Cost-per-task statistics of a set of completed tasks: count, total, average (rounded down), and
 * p50 / p90 / max by the nearest-rank method (the smallest cost with at least p% of the tasks at or
 * below it), so that every figure is the cost of a real task.
 */
public record TaskCosts(long count, long totalMicros, long averageMicros, long p50Micros, long p90Micros,
                        long maxMicros) {
    public static final TaskCosts EMPTY = new TaskCosts(0, 0, 0, 0, 0, 0);

    public static TaskCosts of(long[] costs) {
        if (costs.length == 0) {
            return EMPTY;
        }
        long[] sorted = costs.clone();
        Arrays.sort(sorted);
        long total = 0;
        for (long c : sorted) {
            total = Math.addExact(total, c);
        }
        return new TaskCosts(sorted.length, total, Math.floorDiv(total, sorted.length),
                nearestRank(sorted, 50), nearestRank(sorted, 90), sorted[sorted.length - 1]);
    }

    /** From a count and total only (the fleet overview's daily rollups). */
    public static long average(long count, long totalMicros) {
        return count == 0 ? 0 : Math.floorDiv(totalMicros, count);
    }

    static long nearestRank(long[] sorted, int percent) {
        int rank = (int) Math.ceil(percent / 100.0 * sorted.length);
        return sorted[Math.max(0, rank - 1)];
    }

    /**
     * Change of an average in percent against the previous one; empty (NaN) when there is no
     * previous average to compare with.
     */
    public static double changePercent(long previousAverage, long currentAverage, boolean hasPrevious) {
        if (!hasPrevious || previousAverage == 0) {
            return Double.NaN;
        }
        return (currentAverage - previousAverage) * 100.0 / previousAverage;
    }
}
