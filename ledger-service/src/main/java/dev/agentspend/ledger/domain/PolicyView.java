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

    public String scopeId(Scope scope) {
        return scope == Scope.TEAM ? teamId : agentId;
    }
}
