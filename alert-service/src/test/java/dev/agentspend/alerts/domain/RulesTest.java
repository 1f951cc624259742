package dev.agentspend.alerts.domain;

import dev.agentspend.common.api.WorkingSchedule;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static dev.agentspend.alerts.domain.Fixtures.*;
import static org.junit.jupiter.api.Assertions.*;

/** Each rule against hand-computed histories: the boundary that fires and the one just below. */
class RulesTest {
    private static final int BS = 60;

    private static AgentState state(AgentPolicy p, LedgerEvent... events) {
        Evaluator ev = new Evaluator(BS);
        RuleConfigSet none = RuleConfigSet.defaults();
        for (LedgerEvent e : events) {
            ev.onEvent(e, id -> p, none, e.recordedTime());
        }
        return ev.agent(events[0].agentId());
    }

    @Test
    void velocityAgainstTheDailyCapSpreadOverTheDay() {
        // 24 USD a day over 1,440 minutes: 1 USD per hour. 1.000001 USD in the hour is over, 1 USD is not.
        AgentPolicy p = policy("a", List.of(dailyCap(24_000_000)), WorkingSchedule.none());
        RuleSettings st = RuleType.SPEND_VELOCITY.defaultSettings();
        AgentState over = state(p, spend("a", 600_000, "t", T0), spend("a", 400_001, "t", T0.plusSeconds(600)));
        List<Finding> f = Rules.velocity(over, p, st, T0.plusSeconds(600), BS);
        assertEquals(1, f.size());
        assertEquals(1_000_001, f.get(0).evidence().measure("window_spend_micros"));
        assertEquals(1_000_000, f.get(0).evidence().measurements().get(0).threshold());
        AgentState at = state(p, spend("a", 600_000, "t", T0), spend("a", 400_000, "t", T0.plusSeconds(600)));
        assertTrue(Rules.velocity(at, p, st, T0.plusSeconds(600), BS).isEmpty());
    }

    @Test
    void velocityBudgetFollowsWorkingHours() {
        // 8 working hours on Wednesday in UTC: 24 USD / 8 h = 3 USD per hour.
        AgentPolicy p = policy("a", List.of(dailyCap(24_000_000)), nineToFive("UTC"));
        RuleSettings st = RuleType.SPEND_VELOCITY.defaultSettings();
        assertTrue(Rules.velocity(state(p, spend("a", 3_000_000, "t", T0)), p, st, T0, BS).isEmpty());
        List<Finding> f = Rules.velocity(state(p, spend("a", 3_000_001, "t", T0)), p, st, T0, BS);
        assertEquals(3_000_000, f.get(0).evidence().measurements().get(0).threshold());
        assertEquals(480, f.get(0).evidence().measure("working_minutes"));
    }

    @Test
    void velocityOfAnUncappedAgentAgainstItsBaseline() {
        // Baseline: 2.4 USD over the 24 h before the hour = 0.1 USD/h; 3x = 0.3 USD, but the minimum is 1 USD.
        AgentPolicy p = policy("a", List.of(), WorkingSchedule.none());
        RuleSettings st = RuleType.SPEND_VELOCITY.defaultSettings();
        Instant now = T0.plusSeconds(86_400);
        AgentState small = state(p, spend("a", 2_400_000, "t", T0.plusSeconds(7200)), spend("a", 900_000, "t", now));
        assertTrue(Rules.velocity(small, p, st, now, BS).isEmpty(), "below the minimum spend");
        AgentState big = state(p, spend("a", 2_400_000, "t", T0.plusSeconds(7200)), spend("a", 1_000_000, "t", now));
        List<Finding> f = Rules.velocity(big, p, st, now, BS);
        assertEquals(300_000, f.get(0).evidence().measurements().get(0).threshold());
        assertEquals(2_400_000, f.get(0).evidence().measure("baseline_spend_micros"));
    }

    @Test
    void toolConcentrationAboveHalf() {
        AgentPolicy p = policy("a", List.of(), WorkingSchedule.none());
        RuleSettings st = settings(RuleType.TOOL_CONCENTRATION, Map.of("min_payments", 2L));
        // 0.6 of 1.1 USD = 545 permille > 500
        AgentState s = state(p, spend("a", 600_000, "x", T0), spend("a", 500_000, "y", T0));
        List<Finding> f = Rules.toolConcentration(s, st, T0, BS);
        assertEquals("x", f.get(0).subject());
        assertEquals(545, f.get(0).evidence().measure("tool_share_permille"));
        // exactly half is not above half
        AgentState even = state(p, spend("a", 600_000, "x", T0), spend("a", 600_000, "y", T0));
        assertTrue(Rules.toolConcentration(even, st, T0, BS).isEmpty());
    }

    @Test
    void capUtilizationNowAndRegularly() {
        AgentPolicy p = policy("a", List.of(dailyCap(10_000_000)), WorkingSchedule.none());
        RuleSettings st = RuleType.CAP_UTILIZATION.defaultSettings();
        AgentState s = state(p, spend("a", 8_000_001, "t", T0));
        List<Finding> f = Rules.capUtilization(s, p, st, T0);
        assertEquals(1, f.size());
        assertEquals("now:DAY", f.get(0).subject());
        assertEquals(800, f.get(0).evidence().measure("utilization_permille"));
        assertTrue(Rules.capUtilization(state(p, spend("a", 8_000_000, "t", T0)), p, st, T0).isEmpty());

        // two earlier days over 80% (back-dated occurred_time) plus today: three of the last seven.
        Instant d1 = T0.minusSeconds(86_400), d2 = T0.minusSeconds(3 * 86_400);
        AgentState regular = state(p,
                spend("a", 9_000_000, "t", "", 0, d1, T0),
                spend("a", 8_500_000, "t", "", 0, d2, T0),
                spend("a", 8_100_000, "t", T0.plusSeconds(60)));
        List<Finding> r = Rules.capUtilization(regular, p, st, T0.plusSeconds(60));
        Finding reg = r.stream().filter(x -> x.subject().equals("regular")).findFirst().orElseThrow();
        assertEquals(3, reg.evidence().measure("days_over_threshold"));
        AgentState twice = state(p, spend("a", 9_000_000, "t", "", 0, d1, T0), spend("a", 8_100_000, "t", T0.plusSeconds(60)));
        assertTrue(Rules.capUtilization(twice, p, st, T0.plusSeconds(60)).stream().noneMatch(x -> x.subject().equals("regular")));
    }

    @Test
    void retryRateAboveFifteenPercentWithItsCost() {
        AgentPolicy p = policy("a", List.of(), WorkingSchedule.none());
        RuleSettings st = RuleType.RETRY_RATE.defaultSettings();
        LedgerEvent[] events = new LedgerEvent[20];
        for (int i = 0; i < 20; i++) {
            // 4 retries of 20 = 200 permille; each retry costs 0.25 USD
            events[i] = spend("a", i < 4 ? 250_000 : 100_000, "t", "", i < 4 ? 2 : 1, null, T0.plusSeconds(i));
        }
        List<Finding> f = Rules.retryRate(state(p, events), st, T0.plusSeconds(20), BS);
        assertEquals(200, f.get(0).evidence().measure("retry_rate_permille"));
        assertEquals(1_000_000, f.get(0).evidence().measure("retry_spend_micros"));
        // 3 of 20 = 150 permille: not above 15%
        events[3] = spend("a", 100_000, "t", "", 1, null, T0.plusSeconds(3));
        assertTrue(Rules.retryRate(state(p, events), st, T0.plusSeconds(20), BS).isEmpty());
    }

    @Test
    void offHoursUsesTheAgentsTimeZone() {
        // 10:00 UTC is 19:00 in Tokyo: outside 9-17 there, inside 9-17 in UTC.
        AgentPolicy tokyo = policy("a", List.of(), nineToFive("Asia/Tokyo"));
        RuleSettings st = RuleType.OFF_HOURS_SPEND.defaultSettings();
        List<Finding> f = Rules.offHours(state(tokyo, spend("a", 100_000, "t", T0)), tokyo, st, T0, BS);
        assertEquals(100_000, f.get(0).evidence().measure("off_hours_spend_micros"));
        AgentPolicy utc = policy("a", List.of(), nineToFive("UTC"));
        assertTrue(Rules.offHours(state(utc, spend("a", 100_000, "t", T0)), utc, st, T0, BS).isEmpty());
        assertTrue(Rules.offHours(state(tokyo, spend("a", 99_999, "t", T0)), tokyo, st, T0, BS).isEmpty(), "below the minimum");
    }

    @Test
    void toolSpikeAgainstItsOwnBaseline() {
        AgentPolicy p = policy("a", List.of(), WorkingSchedule.none());
        RuleSettings st = RuleType.TOOL_SPEND_SPIKE.defaultSettings();
        // baseline: 3 payments of 1.2 USD over the 24 h before the 5-minute window = 3.6 USD/day,
        // 12,500 micros per 5 minutes expected; 5x = 62,500. The window spends 5 x 0.2 USD = 1 USD.
        Instant now = T0.plusSeconds(86_400);
        LedgerEvent[] events = {
                spend("a", 1_200_000, "x", T0.plusSeconds(3600)), spend("a", 1_200_000, "x", T0.plusSeconds(7200)),
                spend("a", 1_200_000, "x", T0.plusSeconds(10_800)),
                spend("a", 200_000, "x", now), spend("a", 200_000, "x", now), spend("a", 200_000, "x", now),
                spend("a", 200_000, "x", now), spend("a", 200_000, "x", now)};
        List<Finding> f = Rules.toolSpike(state(p, events), st, now, BS);
        assertEquals("x", f.get(0).subject());
        assertEquals(12_500, f.get(0).evidence().measure("expected_spend_micros"));
        assertEquals(80_000, f.get(0).evidence().measure("ratio_to_baseline_permille"));
        // the same window on a tool without baseline payments does not fire (left to velocity)
        LedgerEvent[] fresh = {spend("a", 200_000, "y", now), spend("a", 200_000, "y", now), spend("a", 200_000, "y", now),
                spend("a", 200_000, "y", now), spend("a", 200_000, "y", now)};
        assertTrue(Rules.toolSpike(state(p, fresh), st, now, BS).isEmpty());
    }

    @Test
    void declineBurstIgnoresPolicyUnavailable() {
        AgentPolicy p = policy("a", List.of(), WorkingSchedule.none());
        RuleSettings st = RuleType.DECLINE_BURST.defaultSettings();
        LedgerEvent[] five = new LedgerEvent[5];
        for (int i = 0; i < 5; i++) {
            five[i] = decline("a", "CAP_EXCEEDED", T0.plusSeconds(i));
        }
        List<Finding> f = Rules.declineBurst(state(p, five), st, T0.plusSeconds(5), BS);
        assertEquals(5, f.get(0).evidence().measure("declines"));
        assertEquals(5, f.get(0).evidence().measure("declines_cap_exceeded"));
        five[4] = decline("a", "POLICY_UNAVAILABLE", T0.plusSeconds(4));
        assertTrue(Rules.declineBurst(state(p, five), st, T0.plusSeconds(5), BS).isEmpty());
    }

    @Test
    void costPerTaskWeekOverWeek() {
        AgentPolicy p = policy("a", List.of(), WorkingSchedule.none());
        RuleSettings st = RuleType.COST_PER_TASK_INCREASE.defaultSettings();
        // previous week: 5 tasks at 1 USD; this week 5 tasks at 1.21 USD: +210 permille > 200.
        List<LedgerEvent> events = new java.util.ArrayList<>();
        Instant lastWeek = T0.minusSeconds(9 * 86_400);
        for (int i = 0; i < 5; i++) {
            events.add(spend("a", 1_000_000, "t", "old" + i, 0, lastWeek, T0));
            events.add(taskDone("a", "old" + i, lastWeek, T0));
            events.add(spend("a", 1_210_000, "t", "new" + i, 0, null, T0));
            events.add(taskDone("a", "new" + i, null, T0));
        }
        List<Finding> f = Rules.costPerTask(state(p, events.toArray(new LedgerEvent[0])), st, T0);
        assertEquals(1_210_000, f.get(0).evidence().measure("avg_cost_per_task_micros"));
        assertEquals(1_000_000, f.get(0).evidence().measure("previous_avg_cost_per_task_micros"));
        assertEquals(210, f.get(0).evidence().measure("increase_permille"));
        // +20% exactly is not more than 20%
        events.replaceAll(e -> e.spendMicros() == 1_210_000 ? spend("a", 1_200_000, "t", e.taskId(), 0, null, T0) : e);
        assertTrue(Rules.costPerTask(state(p, events.toArray(new LedgerEvent[0])), st, T0).isEmpty());
    }

    @Test
    void aCapWindowHasEndedOnceTheWindowOfItsKindHoldingTheLatestPaymentStartsAfterIt() {
        Instant latest = Instant.parse("2026-03-04T10:00:00Z"); // a Wednesday
        assertFalse(Rules.capWindowEnded(Rules.capKey(AgentPolicy.CapWindow.HOUR, "", latest), latest), "the current hour");
        assertTrue(Rules.capWindowEnded(Rules.capKey(AgentPolicy.CapWindow.HOUR, "web/search", latest.minusSeconds(3_600)),
                latest), "the hour before");
        assertFalse(Rules.capWindowEnded(Rules.capKey(AgentPolicy.CapWindow.DAY, "", Instant.parse("2026-03-04T00:00:00Z")),
                latest.plusSeconds(13 * 3_600)), "the same day, 23:00");
        assertTrue(Rules.capWindowEnded(Rules.capKey(AgentPolicy.CapWindow.WEEK, "", Instant.parse("2026-02-23T00:00:00Z")),
                latest), "last week");
        assertFalse(Rules.capWindowEnded(Rules.capKey(AgentPolicy.CapWindow.MONTH, "", Instant.parse("2026-03-01T00:00:00Z")),
                latest), "this month");
        assertFalse(Rules.capWindowEnded(Rules.capKey(AgentPolicy.CapWindow.LIFETIME, "web/search", Instant.EPOCH),
                latest), "lifetime never ends");
        assertFalse(Rules.capWindowEnded("YEAR||0", latest), "a key of another form is kept");
    }
}
