package dev.agentspend.analytics.domain;

import java.util.EnumSet;
import java.util.Set;

/**
 * The seed's action triggers of the four dashboard numbers:
 * cost per task up more than 20% week over week; velocity (last hour) above the projected hourly
 * budget; one tool above 50% of the 7 days' spend; daily cap utilization above 80% on most (4 or
 * more) of the last 7 days. Every comparison is in integers.
 */
public final class Triggers {
    /** A trigger. */
    public enum Trigger {
        COST_PER_TASK_UP, VELOCITY_OVER_BUDGET, TOOL_CONCENTRATION, CAP_UTILIZATION_HIGH
    }

    private Triggers() {
    }

    public static boolean costPerTaskUp(long previousAverage, long currentAverage, boolean hasPrevious) {
        // current > previous * 1.2  <=>  5 * current > 6 * previous
        return hasPrevious && previousAverage > 0
                && Math.multiplyExact(currentAverage, 5L) > Math.multiplyExact(previousAverage, 6L);
    }

    public static boolean toolConcentration(long topToolSpend, long totalSpend) {
        return totalSpend > 0 && Math.multiplyExact(topToolSpend, 2L) > totalSpend;
    }

    public static boolean capUtilizationHigh(int daysOver80Of7) {
        return daysOver80Of7 >= 4;
    }

    public static Set<Trigger> of(long previousCpt, long currentCpt, boolean hasPreviousCpt, Budget budget,
                                  long lastHourSpend, long topToolSpend, long totalSpend7d, int daysOver80) {
        Set<Trigger> out = EnumSet.noneOf(Trigger.class);
        if (costPerTaskUp(previousCpt, currentCpt, hasPreviousCpt)) {
            out.add(Trigger.COST_PER_TASK_UP);
        }
        if (budget.exceededBy(lastHourSpend)) {
            out.add(Trigger.VELOCITY_OVER_BUDGET);
        }
        if (toolConcentration(topToolSpend, totalSpend7d)) {
            out.add(Trigger.TOOL_CONCENTRATION);
        }
        if (capUtilizationHigh(daysOver80)) {
            out.add(Trigger.CAP_UTILIZATION_HIGH);
        }
        return out;
    }
}
