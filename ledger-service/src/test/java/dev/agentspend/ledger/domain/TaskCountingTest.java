package dev.agentspend.ledger.domain;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A payment is counted per task only where a TASK cap bounds the agent: its own or its team's. */
class TaskCountingTest {
    private static final CapRule DAY = CapRule.of(Scope.AGENT, Window.DAY, 1_000, true);
    private static final CapRule AGENT_TASK = CapRule.of(Scope.AGENT, Window.TASK, 1_000, true);
    private static final CapRule TEAM_TASK = CapRule.of(Scope.TEAM, Window.TASK, 1_000, false);
    private static final Instant T = Instant.parse("2026-12-01T10:15:00Z");

    private static PolicyView view(boolean sandbox, List<CapRule> agentCaps, List<CapRule> teamCaps) {
        return new PolicyView("agt_a", teamCaps.isEmpty() ? "" : "team_t", AgentStatus.ACTIVE, sandbox, "USD",
                agentCaps, teamCaps, 0, sandbox ? 5_000 : 0);
    }

    @Test
    void withoutATaskCapTheTaskIsNotCounted() {
        PolicyView p = view(false, List.of(DAY), List.of());
        assertEquals("", p.countedTask("job-1"));
        List<CounterKey> keys = CounterKey.forPayment(p.agentId(), p.teamId(), "tool", p.countedTask("job-1"), T);
        assertTrue(keys.stream().noneMatch(k -> k.window() == Window.TASK), keys.toString());
        assertEquals(10, keys.size(), "five windows, for every tool and for the payment's");
    }

    @Test
    void theAgentsOwnTaskCapCountsIt() {
        PolicyView p = view(false, List.of(DAY, AGENT_TASK), List.of());
        assertEquals("job-1", p.countedTask("job-1"));
        List<CounterKey> keys = CounterKey.forPayment(p.agentId(), p.teamId(), "tool", p.countedTask("job-1"), T);
        assertEquals(2, keys.stream().filter(k -> k.window() == Window.TASK).count());
        // and the key the cap reads is among them
        assertTrue(keys.contains(CounterKey.forCap(AGENT_TASK, p.agentId(), "job-1", T)));
    }

    @Test
    void theTeamsTaskCapCountsItForAgentAndTeam() {
        PolicyView p = view(false, List.of(), List.of(TEAM_TASK));
        assertEquals("job-1", p.countedTask("job-1"));
        List<CounterKey> keys = CounterKey.forPayment(p.agentId(), p.teamId(), "tool", p.countedTask("job-1"), T);
        assertTrue(keys.contains(CounterKey.forCap(TEAM_TASK, p.teamId(), "job-1", T)));
    }

    @Test
    void aSandboxedAgentsOwnCapsDoNotApplySoNeitherDoesItsTaskCap() {
        assertEquals("", view(true, List.of(AGENT_TASK), List.of()).countedTask("job-1"));
        assertEquals("job-1", view(true, List.of(AGENT_TASK), List.of(TEAM_TASK)).countedTask("job-1"));
    }

    @Test
    void noTaskIdNoTask() {
        assertEquals("", view(false, List.of(AGENT_TASK), List.of()).countedTask(""));
    }
}
