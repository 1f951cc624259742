package dev.agentspend.alerts.domain;

import dev.agentspend.common.api.WorkingSchedule;

import java.time.Instant;
import java.util.List;

/** What the rules need of an agent's policy (from identity's WatchPolicies). */
public record AgentPolicy(String agentId, String teamId, String currencyCode, List<CapLimit> caps,
                          WorkingSchedule workingHours) {
    public AgentPolicy {
        caps = List.copyOf(caps);
    }

    public enum CapWindow { HOUR, DAY, WEEK, MONTH, LIFETIME }

    /**
     * A cap the rules look at.
     *
     * @param tool         empty when it counts every tool
     * @param raisedLimit  the temporary raise's limit, 0 without one
     * @param raiseExpiry  when the raise ends; null without one
     */
    public record CapLimit(CapWindow window, long limitMicros, String tool, long raisedLimit, Instant raiseExpiry) {
        public long limitAt(Instant now) {
            return raiseExpiry != null && now.isBefore(raiseExpiry) && raisedLimit > limitMicros ? raisedLimit : limitMicros;
        }

        public boolean counts(String paidTool) {
            return tool.isEmpty() || tool.equals(paidTool);
        }
    }

    /** The agent's DAY cap over every tool, if it has one. */
    public CapLimit dailyCap() {
        for (CapLimit c : caps) {
            if (c.window() == CapWindow.DAY && c.tool().isEmpty()) {
                return c;
            }
        }
        return null;
    }
}
