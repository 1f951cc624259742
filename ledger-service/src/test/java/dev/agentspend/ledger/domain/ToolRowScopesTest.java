package dev.agentspend.ledger.domain;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which scopes' counters of a tool a decision reads: those a cap on the tool bounds (PolicyView#toolRowScopes). */
class ToolRowScopesTest {
    private static CapRule cap(Scope scope, Window window, String tool) {
        return new CapRule(scope, window, 1_000, true, tool, 0, null);
    }

    private static PolicyView view(boolean sandbox, List<CapRule> agentCaps, List<CapRule> teamCaps) {
        return new PolicyView("agt_a", "team_t", AgentStatus.ACTIVE, sandbox, "USD", agentCaps, teamCaps, 0, 5_000);
    }

    @Test
    void aCapOnAnotherToolOrOnEveryToolReadsNoToolRow() {
        PolicyView p = view(false, List.of(cap(Scope.AGENT, Window.DAY, ""), cap(Scope.AGENT, Window.DAY, "b")), List.of());
        assertEquals(List.of(), p.toolRowScopes("a"));
        assertEquals(List.of(), p.toolRowScopes(""), "the every-tool row counts every payment");
        assertEquals(List.of("agt_a"), p.toolRowScopes("b"));
    }

    @Test
    void everyCalendarWindowAndLifetimeReadTheRowButTaskAndPaymentCapsDoNot() {
        for (Window w : Window.values()) {
            PolicyView p = view(false, List.of(cap(Scope.AGENT, w, "a")), List.of());
            boolean reads = w != Window.TASK && w != Window.PAYMENT;
            assertEquals(reads ? List.of("agt_a") : List.of(), p.toolRowScopes("a"), w.toString());
        }
    }

    @Test
    void theTeamsCapReadsTheTeamsRowAndASandboxedAgentsOwnCapsNothing() {
        List<CapRule> own = List.of(cap(Scope.AGENT, Window.HOUR, "a"));
        List<CapRule> team = List.of(cap(Scope.TEAM, Window.LIFETIME, "a"));
        assertEquals(List.of("agt_a", "team_t"), view(false, own, team).toolRowScopes("a"));
        assertEquals(List.of("team_t"), view(false, List.of(), team).toolRowScopes("a"));
        assertEquals(List.of("team_t"), view(true, own, team).toolRowScopes("a"));
        assertEquals(List.of(), view(true, own, List.of()).toolRowScopes("a"));
    }
}
