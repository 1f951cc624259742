package dev.agentspend.ledger.domain;

import java.util.List;

/**
 * What the ledger enforces for one agent: its status, mode and caps, and its team's caps, as of
 * the policy feed's last event.
 *
 * @param teamId         empty if the agent has no team
 * @param maxConcurrentHolds 0 means no limit
 * @param sandboxCeiling for SANDBOX agents, the lifetime ceiling (0: cannot spend)
 */
public record PolicyView(String agentId, String teamId, AgentStatus status, boolean sandbox, String currency,
                         List<CapRule> agentCaps, List<CapRule> teamCaps, int maxConcurrentHolds,
                         long sandboxCeiling) {
    public PolicyView {
        teamId = teamId == null ? "" : teamId;
        agentCaps = List.copyOf(agentCaps);
        teamCaps = List.copyOf(teamCaps);
    }

    public boolean hasTeam() {
        return !teamId.isEmpty();
    }

    /** The caps that bound this agent's spend: its own (unless sandboxed) and its team's. */
    public List<CapRule> enforcedCaps() {
        if (sandbox) {
            return teamCaps;
        }
        if (teamCaps.isEmpty()) {
            return agentCaps;
        }
        java.util.ArrayList<CapRule> all = new java.util.ArrayList<>(agentCaps);
        all.addAll(teamCaps);
        return all;
    }

    /**
     * The task a payment of {@code taskId} is counted under: {@code taskId} where a TASK cap bounds
     * this agent (its own, unless sandboxed, or its team's), "" (no task counter) otherwise. Task
     * counters are read only by TASK caps, and each task left two rows per scope in ledger.counters
     * for good: with a task every ten payments, a fifth of the rows a payment wrote and of the
     * counter rows the ledger keeps. So a TASK cap added while a task is under way counts the task's
     * payments from then on. Holds always count their task: a reservation must be released from
     * the rows it was placed in, whatever the policy is by then.
     */
    public String countedTask(String taskId) {
        if (taskId == null || taskId.isEmpty()) {
            return "";
        }
        if (!sandbox) {
            for (CapRule c : agentCaps) {
                if (c.window() == Window.TASK) {
                    return taskId;
                }
            }
        }
        for (CapRule c : teamCaps) {
            if (c.window() == Window.TASK) {
                return taskId;
            }
        }
        return "";
    }

    public String scopeId(Scope scope) {
        return scope == Scope.TEAM ? teamId : agentId;
    }
}
