package dev.agentspend.ledger.domain;

import dev.agentspend.common.error.ApiException;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AuthorizerTest {
    static final Instant NOW = Instant.parse("2026-11-29T10:15:00Z");
    final Map<CounterKey, Usage> counters = new HashMap<>();
    final Function<CounterKey, Usage> lookup = k -> counters.getOrDefault(k, Usage.ZERO);

    static PolicyView policy(List<CapRule> agentCaps, List<CapRule> teamCaps) {
        return new PolicyView("agt_a", teamCaps.isEmpty() ? "" : "team_t", AgentStatus.ACTIVE, false, "USD",
                agentCaps, teamCaps, 0, 0);
    }

    static Authorizer.Request pay(long amount) {
        return new Authorizer.Request(amount, amount, "openai/chat", "task-1", NOW, NOW, false);
    }

    static Authorizer.Account account(long balance) {
        return new Authorizer.Account(balance, 0, 0);
    }

    @Test
    void calendarWindowsAreUtcAndIso() {
        Instant sunday = Instant.parse("2026-11-29T23:59:59.999Z");
        assertEquals(Instant.parse("2026-11-23T00:00:00Z"), Window.WEEK.start(sunday));
        assertEquals(Instant.parse("2026-11-30T00:00:00Z"), Window.WEEK.end(sunday));
        assertEquals("W:2026-W48", Window.WEEK.bucket(sunday, null));
        assertEquals("W:2026-W49", Window.WEEK.bucket(sunday.plusMillis(1), null));
        assertEquals("D:2026-11-29", Window.DAY.bucket(sunday, null));
        assertEquals("D:2026-11-30", Window.DAY.bucket(sunday.plusMillis(1), null));
        assertEquals("H:2026-11-29:23", Window.HOUR.bucket(sunday, null));
        Instant endOfMonth = Instant.parse("2026-11-30T23:59:59.999Z");
        assertEquals("M:2026-11", Window.MONTH.bucket(endOfMonth, null));
        assertEquals("M:2026-12", Window.MONTH.bucket(endOfMonth.plusMillis(1), null));
        assertEquals(Instant.parse("2026-12-01T00:00:00Z"), Window.MONTH.end(sunday));
        assertEquals(Instant.parse("2026-11-01T00:00:00Z"), Window.MONTH.start(endOfMonth));
        // ISO week-based year: 2027-01-01 is a Friday in week 53 of 2026
        assertEquals("W:2026-W53", Window.WEEK.bucket(Instant.parse("2027-01-01T12:00:00Z"), null));
        assertEquals("T:x", Window.TASK.bucket(sunday, "x"));
        assertNull(Window.PAYMENT.bucket(sunday, null));
    }

    @Test
    void approvesWithinCapsAndBalance() {
        Decision d = Authorizer.decide(policy(List.of(CapRule.of(Scope.AGENT, Window.DAY, 100, true)), List.of()),
                true, account(1000), lookup, pay(100));
        assertTrue(d.approved());
    }

    @Test
    void hardCapDeclinesWithTheTightestHeadroom() {
        PolicyView p = policy(List.of(CapRule.of(Scope.AGENT, Window.DAY, 100, true),
                CapRule.of(Scope.AGENT, Window.HOUR, 50, true)), List.of());
        counters.put(new CounterKey("agt_a", Window.DAY.bucket(NOW, null), ""), new Usage(30, 10));
        counters.put(new CounterKey("agt_a", Window.HOUR.bucket(NOW, null), ""), new Usage(20, 10));
        Decision d = Authorizer.decide(p, true, account(1000), lookup, pay(61));
        assertFalse(d.approved());
        assertEquals(DeclineReason.CAP_EXCEEDED, d.reason());
        assertEquals(Window.HOUR, d.exceeded().window());
        assertEquals(20, d.exceeded().headroom());
        assertEquals(30, d.exceeded().used());
        assertEquals(Instant.parse("2026-11-29T11:00:00Z"), d.exceeded().windowEnd());
        assertTrue(Authorizer.decide(p, true, account(1000), lookup, pay(20)).approved());
    }

    @Test
    void softCapsApproveAndReportTheBreach() {
        PolicyView p = policy(List.of(CapRule.of(Scope.AGENT, Window.DAY, 100, false)), List.of());
        Decision d = Authorizer.decide(p, true, account(1000), lookup, pay(150));
        assertTrue(d.approved());
        assertEquals(1, d.softBreaches().size());
        assertEquals(100, d.softBreaches().get(0).headroom());
    }

    @Test
    void teamCapsApplyOnTopOfTheAgentsOwn() {
        PolicyView p = policy(List.of(CapRule.of(Scope.AGENT, Window.DAY, 1000, true)),
                List.of(CapRule.of(Scope.TEAM, Window.DAY, 100, true)));
        counters.put(new CounterKey("team_t", Window.DAY.bucket(NOW, null), ""), new Usage(90, 0));
        Decision d = Authorizer.decide(p, true, account(1000), lookup, pay(20));
        assertEquals(DeclineReason.CAP_EXCEEDED, d.reason());
        assertEquals(Scope.TEAM, d.exceeded().scope());
        assertEquals(10, d.exceeded().headroom());
    }

    @Test
    void perToolPerTaskAndPerPaymentCaps() {
        CapRule tool = new CapRule(Scope.AGENT, Window.DAY, 10, true, "openai/chat", 0, null);
        CapRule other = new CapRule(Scope.AGENT, Window.DAY, 1, true, "other/tool", 0, null);
        PolicyView p = policy(List.of(tool, other, CapRule.of(Scope.AGENT, Window.TASK, 50, true),
                CapRule.of(Scope.AGENT, Window.PAYMENT, 30, true)), List.of());
        assertEquals(Window.DAY, Authorizer.decide(p, true, account(1000), lookup, pay(11)).exceeded().window());
        counters.put(new CounterKey("agt_a", "T:task-1", ""), new Usage(45, 0));
        assertEquals(Window.TASK, Authorizer.decide(p, true, account(1000), lookup, pay(6)).exceeded().window());
        counters.clear();
        PolicyView big = policy(List.of(CapRule.of(Scope.AGENT, Window.PAYMENT, 30, true)), List.of());
        Decision d = Authorizer.decide(big, true, account(1000), lookup, pay(31));
        assertEquals(Window.PAYMENT, d.exceeded().window());
        assertEquals(30, d.exceeded().headroom());
    }

    @Test
    void temporaryRaiseHoldsUntilItsExpiry() {
        CapRule raised = new CapRule(Scope.AGENT, Window.DAY, 100, true, "", 500, NOW.plusSeconds(60));
        assertEquals(500, raised.effectiveLimit(NOW));
        assertEquals(100, raised.effectiveLimit(NOW.plusSeconds(60)));
        PolicyView p = policy(List.of(raised), List.of());
        assertTrue(Authorizer.decide(p, true, account(1000), lookup, pay(400)).approved());
        Authorizer.Request later = new Authorizer.Request(400, 400, "", "", NOW.plusSeconds(61), NOW.plusSeconds(61), false);
        assertFalse(Authorizer.decide(p, true, account(1000), lookup, later).approved());
    }

    @Test
    void statusFreshnessBalanceSandboxAndHoldLimit() {
        PolicyView p = policy(List.of(), List.of());
        assertEquals(DeclineReason.POLICY_UNAVAILABLE, Authorizer.decide(p, false, account(1000), lookup, pay(1)).reason());
        PolicyView suspended = new PolicyView("agt_a", "", AgentStatus.SUSPENDED, false, "USD", List.of(), List.of(), 0, 0);
        assertEquals(DeclineReason.AGENT_SUSPENDED, Authorizer.decide(suspended, true, account(1000), lookup, pay(1)).reason());
        PolicyView revoked = new PolicyView("agt_a", "", AgentStatus.REVOKED, false, "USD", List.of(), List.of(), 0, 0);
        assertEquals(DeclineReason.AGENT_REVOKED, Authorizer.decide(revoked, true, account(1000), lookup, pay(1)).reason());
        // held money is not available
        assertEquals(DeclineReason.INSUFFICIENT_BALANCE,
                Authorizer.decide(p, true, new Authorizer.Account(100, 60, 1), lookup, pay(41)).reason());
        assertTrue(Authorizer.decide(p, true, new Authorizer.Account(100, 60, 1), lookup, pay(40)).approved());
        PolicyView sandbox = new PolicyView("agt_a", "", AgentStatus.ACTIVE, true, "USD",
                List.of(CapRule.of(Scope.AGENT, Window.DAY, 1, true)), List.of(), 0, 100);
        counters.put(new CounterKey("agt_a", "L", ""), new Usage(70, 10));
        Decision d = Authorizer.decide(sandbox, true, account(1000), lookup, pay(21));
        assertEquals(DeclineReason.SANDBOX_CEILING, d.reason());
        assertEquals(20, d.exceeded().headroom());
        // the agent's own caps do not apply in sandbox mode, only the ceiling
        assertTrue(Authorizer.decide(sandbox, true, account(1000), lookup, pay(20)).approved());
        PolicyView limited = new PolicyView("agt_a", "", AgentStatus.ACTIVE, false, "USD", List.of(), List.of(), 2, 0);
        Authorizer.Request hold = new Authorizer.Request(1, 1, "t", "", NOW, NOW, true);
        assertEquals(DeclineReason.HOLD_LIMIT_REACHED,
                Authorizer.decide(limited, true, new Authorizer.Account(100, 2, 2), lookup, hold).reason());
        assertTrue(Authorizer.decide(limited, true, new Authorizer.Account(100, 1, 1), lookup, hold).approved());
    }

    @Test
    void overflowIsRefusedWithAClearMessage() {
        PolicyView p = policy(List.of(CapRule.of(Scope.AGENT, Window.DAY, Long.MAX_VALUE, true)), List.of());
        counters.put(new CounterKey("agt_a", Window.DAY.bucket(NOW, null), ""), new Usage(Long.MAX_VALUE - 5, 0));
        ApiException e = assertThrows(ApiException.class,
                () -> Authorizer.decide(p, true, account(Long.MAX_VALUE), lookup, pay(10)));
        assertTrue(e.getMessage().contains("overflow"), e.getMessage());
        assertThrows(ApiException.class, () -> Money.add(Long.MAX_VALUE, 1, "the balance"));
    }

    @Test
    void hardLimitsNameTheCountersOfHardCapsOnly() {
        PolicyView p = policy(List.of(CapRule.of(Scope.AGENT, Window.DAY, 100, true),
                CapRule.of(Scope.AGENT, Window.HOUR, 10, false)), List.of(CapRule.of(Scope.TEAM, Window.DAY, 80, true)));
        Map<CounterKey, Long> limits = Authorizer.hardLimits(p, pay(1));
        assertEquals(2, limits.size());
        assertEquals(100L, limits.get(new CounterKey("agt_a", Window.DAY.bucket(NOW, null), "")));
        assertEquals(80L, limits.get(new CounterKey("team_t", Window.DAY.bucket(NOW, null), "")));
    }

    @Test
    void paymentCountersCoverEveryWindowToolAndScope() {
        List<CounterKey> keys = CounterKey.forPayment("agt_a", "team_t", "tool", "task", NOW);
        assertEquals(24, keys.size());
        assertEquals(6, CounterKey.forPayment("agt_a", "", "", "task", NOW).size());
    }
}
