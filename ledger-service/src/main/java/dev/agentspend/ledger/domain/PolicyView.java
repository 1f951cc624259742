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

    /**
     * The scopes (this agent, its team) whose counters of {@code tool} a decision for this agent
     * reads: those with a cap on that tool in a calendar window or lifetime, among the caps that
     * bound the agent (its own unless sandboxed, its team's). A payment adds to a tool's counters
     * only where they count every payment of the tool, which the ledger makes so the first time a
     * cap reads them (ToolCounters): only such a cap ever reads them, and a payment that grew them
     * all paid a sixth of its cost for it. Empty for the every-tool counters (tool ''), which
     * count every payment. TASK caps on a tool read task buckets, which {@link #countedTask} rules.
     */
    public List<String> toolRowScopes(String tool) {
        if (tool == null || tool.isEmpty()) {
            return List.of();
        }
        boolean agent = !sandbox && readsToolRow(agentCaps, tool);
        boolean team = readsToolRow(teamCaps, tool);
        if (agent && team) {
            return List.of(agentId, teamId);
        }
        return agent ? List.of(agentId) : team ? List.of(teamId) : List.of();
    }

    private static boolean readsToolRow(List<CapRule> caps, String tool) {
        for (CapRule c : caps) {
            if (c.window().isCalendarOrLifetime() && c.tool().equals(tool)) {
                return true;
            }
        }
        return false;
    }

    public String scopeId(Scope scope) {
        return scope == Scope.TEAM ? teamId : agentId;
    }
}
