package dev.agentspend.alerts.domain;

import dev.agentspend.common.api.WorkingSchedule;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static dev.agentspend.alerts.domain.Fixtures.*;
import static org.junit.jupiter.api.Assertions.*;

/** Alert life cycle: one condition gives one alert; it resolves when the condition clears. */
class EvaluatorTest {
    private final Map<String, AgentPolicy> policies = Map.of("a", policy("a", List.of(), WorkingSchedule.none()));
    /** Agents a and b, for the tests where one agent's entries must leave the other's state alone. */
    private final Map<String, AgentPolicy> two = Map.of("a", policy("a", List.of(), WorkingSchedule.none()),
            "b", policy("b", List.of(), WorkingSchedule.none()));

    @Test
    void oneConditionGivesOneAlertThenResolvesWhenTheWindowPasses() {
        Evaluator ev = new Evaluator(1);
        RuleConfigSet configs = RuleConfigSet.defaults();
        LedgerEvent[] declines = new LedgerEvent[8];
        for (int i = 0; i < 8; i++) {
            declines[i] = decline("a", "CAP_EXCEEDED", T0.plusSeconds(i));
        }
        List<AlertChange> changes = run(ev, policies, configs, declines);
        List<AlertChange> fired = changes.stream().filter(c -> c instanceof AlertChange.Fired).toList();
        assertEquals(1, fired.size(), "one burst, one alert");
        assertEquals(RuleType.DECLINE_BURST, fired.get(0).alert().rule());
        assertEquals(declines[4].position(), fired.get(0).alert().evidence().triggerPosition());
        assertEquals(3, changes.stream().filter(c -> c instanceof AlertChange.Refreshed).count());

        // still within 300 s: nothing resolves
        assertTrue(ev.sweep(T0.plusSeconds(200), policies::get, configs).isEmpty());
        List<AlertChange> later = ev.sweep(T0.plusSeconds(400), policies::get, configs);
        assertEquals(1, later.size());
        assertInstanceOf(AlertChange.Resolved.class, later.get(0));
        assertTrue(ev.openAlerts().isEmpty());

        // a new burst later is a new alert
        LedgerEvent[] again = new LedgerEvent[5];
        for (int i = 0; i < 5; i++) {
            again[i] = decline("a", "CAP_EXCEEDED", T0.plusSeconds(1000 + i));
        }
        List<AlertChange> second = run(ev, policies, configs, again);
        assertEquals(1, second.stream().filter(c -> c instanceof AlertChange.Fired).count());
        assertNotEquals(fired.get(0).alert().alertId(), second.get(0).alert().alertId());
    }

    @Test
    void anEntryRecordedBeforeOnesAlreadyAppliedNeitherShrinksTheWindowNorRefiresTheAlert() {
        // The ledger stamps recorded_time when a payment's transaction starts and hands out the
        // feed position at commit: a payment that waited for the agent's row lock comes later in
        // the feed with an earlier recorded time. Here it falls in the previous 60 s bucket.
        Evaluator ev = new Evaluator(60);
        RuleConfigSet configs = RuleConfigSet.defaults();
        LedgerEvent[] burst = new LedgerEvent[5];
        for (int i = 0; i < 5; i++) {
            burst[i] = decline("a", "CAP_EXCEEDED", T0.plusSeconds(60 + i));
        }
        List<AlertChange> fired = run(ev, policies, configs, burst);
        assertEquals(1, fired.stream().filter(c -> c instanceof AlertChange.Fired).count());
        String alertId = fired.get(0).alert().alertId();

        List<AlertChange> late = run(ev, policies, configs, decline("a", "CAP_EXCEEDED", T0.plusSeconds(59)));
        assertEquals(1, late.size(), "the burst still holds: " + late);
        AlertChange.Refreshed refreshed = assertInstanceOf(AlertChange.Refreshed.class, late.get(0));
        assertEquals(6, refreshed.alert().evidence().measure("declines"), "every decline applied is counted");

        List<AlertChange> next = run(ev, policies, configs, decline("a", "CAP_EXCEEDED", T0.plusSeconds(66)));
        assertTrue(next.stream().noneMatch(c -> c instanceof AlertChange.Fired), "no second alert for the same burst");
        assertEquals(alertId, next.get(0).alert().alertId());
        assertEquals(7, next.get(0).alert().evidence().measure("declines"));
    }

    @Test
    void aDisabledRuleNeverFiresAndAgentOverridesBeatTeamAndFleet() {
        RuleConfigSet configs = new RuleConfigSet(Map.of(
                new RuleConfigSet.Key(RuleConfigSet.Scope.FLEET, "", RuleType.DECLINE_BURST),
                new RuleOverride(null, null, null, Map.of("min_declines", 3L)),
                new RuleConfigSet.Key(RuleConfigSet.Scope.TEAM, "team_a", RuleType.DECLINE_BURST),
                new RuleOverride(null, ActionType.SUSPEND, Level.CRITICAL, Map.of("min_declines", 4L)),
                new RuleConfigSet.Key(RuleConfigSet.Scope.AGENT, "b", RuleType.DECLINE_BURST),
                new RuleOverride(false, null, null, Map.of())));
        RuleSettings a = configs.effective("a", "team_a", RuleType.DECLINE_BURST);
        assertEquals(4, a.param("min_declines"));
        assertEquals(ActionType.SUSPEND, a.action());
        assertEquals(300, a.param("window_seconds"));
        assertEquals(3, configs.effective("c", "", RuleType.DECLINE_BURST).param("min_declines"));
        assertFalse(configs.effective("b", "team_a", RuleType.DECLINE_BURST).enabled());

        Evaluator ev = new Evaluator(1);
        LedgerEvent[] declines = new LedgerEvent[6];
        for (int i = 0; i < 6; i++) {
            declines[i] = decline("b", "CAP_EXCEEDED", T0.plusSeconds(i));
        }
        assertTrue(run(ev, Map.of(), configs, declines).stream().noneMatch(c -> c instanceof AlertChange.Fired));
    }

    @Test
    void anEntryOlderThanTheSweepThatResolvedItsAlertDoesNotFireItAgain() {
        Evaluator ev = new Evaluator(1);
        RuleConfigSet configs = RuleConfigSet.defaults();
        LedgerEvent[] burst = new LedgerEvent[5];
        for (int i = 0; i < 5; i++) {
            burst[i] = decline("a", "CAP_EXCEEDED", T0.plusSeconds(i));
        }
        assertEquals(1, run(ev, Map.of(), configs, burst).stream().filter(c -> c instanceof AlertChange.Fired).count());
        // the sweep judges the burst's window over and resolves the alert
        Instant swept = T0.plusSeconds(301);
        List<AlertChange> resolved = ev.sweep(swept, Map.<String, AgentPolicy>of()::get, configs);
        assertEquals(1, resolved.size());
        assertInstanceOf(AlertChange.Resolved.class, resolved.get(0));
        // an entry recorded before the sweep, committed after it: judged at its own time the burst
        // still holds, but the resolved alert covered that time
        List<AlertChange> late = run(ev, Map.of(), configs, decline("a", "CAP_EXCEEDED", T0.plusSeconds(299)));
        assertTrue(late.stream().noneMatch(c -> c instanceof AlertChange.Fired), late.toString());
        // a new burst after the sweep is a new alert
        LedgerEvent[] again = new LedgerEvent[5];
        for (int i = 0; i < 5; i++) {
            again[i] = decline("a", "CAP_EXCEEDED", swept.plusSeconds(10 + i));
        }
        assertEquals(1, run(ev, Map.of(), configs, again).stream().filter(c -> c instanceof AlertChange.Fired).count());
    }

    @Test
    void whatASweepResolvedIsStoredWithTheResolutionAndCoversLateEntriesAfterARestore() {
        Evaluator ev = new Evaluator(1);
        RuleConfigSet configs = RuleConfigSet.defaults();
        LedgerEvent[] burst = new LedgerEvent[5];
        for (int i = 0; i < 5; i++) {
            burst[i] = decline("a", "CAP_EXCEEDED", T0.plusSeconds(i));
        }
        run(ev, Map.of(), configs, burst);
        Instant swept = T0.plusSeconds(301);
        AlertChange.Resolved resolved = assertInstanceOf(AlertChange.Resolved.class,
                ev.sweep(swept, Map.<String, AgentPolicy>of()::get, configs).get(0));
        assertEquals(swept, resolved.sweptAt(), "what the store writes beside the resolution");

        // another process takes over from the stored state: what was swept comes back with it
        Evaluator fresh = new Evaluator(1);
        fresh.restore(List.of(ev.agent("a")), ev.graph(), List.copyOf(ev.openAlerts()),
                Map.of(resolved.alert().dedupeKey(), resolved.sweptAt()));
        List<AlertChange> late = run(fresh, Map.of(), configs, decline("a", "CAP_EXCEEDED", T0.plusSeconds(299)));
        assertTrue(late.stream().noneMatch(c -> c instanceof AlertChange.Fired), late.toString());
        // without it (what a restart forgot before), the same entry fired the alert a second time
        Evaluator forgetful = new Evaluator(1);
        forgetful.restore(List.of(ev.agent("a")), ev.graph(), List.copyOf(ev.openAlerts()));
        assertTrue(run(forgetful, Map.of(), configs, decline("a", "CAP_EXCEEDED", T0.plusSeconds(299))).stream()
                .anyMatch(c -> c instanceof AlertChange.Fired));
        // an entry resolves an alert with no sweep time
        for (int i = 0; i < 5; i++) {
            run(fresh, Map.of(), configs, decline("a", "CAP_EXCEEDED", swept.plusSeconds(10 + i)));
        }
        AlertChange.Resolved byEntry = run(fresh, Map.of(), configs, spend("a", 1, "t", swept.plusSeconds(400))).stream()
                .filter(c -> c instanceof AlertChange.Resolved).map(c -> (AlertChange.Resolved) c).findFirst().orElseThrow();
        assertNull(byEntry.sweptAt());
    }

    @Test
    void aLoopSuspendsEachOfItsAgentsByThatAgentsOwnSetting() {
        // b has the loop rule set to NOTIFY for itself; a and c keep the default SUSPEND
        RuleConfigSet configs = new RuleConfigSet(Map.of(
                new RuleConfigSet.Key(RuleConfigSet.Scope.AGENT, "b", RuleType.PAYMENT_LOOP),
                new RuleOverride(null, ActionType.NOTIFY, null, Map.of())));
        for (boolean bCloses : new boolean[]{true, false}) {
            Evaluator ev = new Evaluator(1);
            List<AlertChange> changes = bCloses
                    ? run(ev, Map.of(), configs, agentPayment("a", "b", 100, T0), agentPayment("b", "a", 100, T0.plusSeconds(1)))
                    : run(ev, Map.of(), configs, agentPayment("b", "a", 100, T0), agentPayment("a", "b", 100, T0.plusSeconds(1)));
            List<AlertChange.Fired> fired = changes.stream().filter(c -> c instanceof AlertChange.Fired)
                    .map(c -> (AlertChange.Fired) c).toList();
            assertEquals(1, fired.size());
            assertEquals(List.of("a", "b"), fired.get(0).alert().agentIds());
            assertEquals(List.of("a"), fired.get(0).suspend(), "whoever closed the loop (b closes: " + bCloses + ")");
        }
    }

    @Test
    void aLoopFiresOnceForAllItsAgentsAndResolvesWhenItAgesOut() {
        Evaluator ev = new Evaluator(1);
        RuleConfigSet configs = RuleConfigSet.defaults();
        List<AlertChange> changes = run(ev, Map.of(), configs,
                agentPayment("c", "a", 300, T0), agentPayment("a", "b", 100, T0.plusSeconds(1)),
                agentPayment("b", "c", 200, T0.plusSeconds(2)), agentPayment("c", "a", 50, T0.plusSeconds(3)));
        List<AlertChange> fired = changes.stream().filter(c -> c instanceof AlertChange.Fired).toList();
        assertEquals(1, fired.size());
        OpenAlert loop = fired.get(0).alert();
        assertEquals(List.of("a", "b", "c"), loop.agentIds());
        assertEquals(ActionType.SUSPEND, loop.action());
        assertEquals(List.of("a", "b", "c"), ((AlertChange.Fired) fired.get(0)).suspend());
        // it fires on the payment that closes the cycle (b -> c), with the amounts at that moment
        assertEquals(600, loop.evidence().measure("cycle_amount_micros"));
        assertEquals(new Evidence.LoopHop("c", "a", 300, 1), loop.evidence().loop().get(2));
        // another payment around the same cycle refreshes the same alert
        AlertChange last = changes.get(changes.size() - 1);
        assertInstanceOf(AlertChange.Refreshed.class, last);
        assertEquals(loop.alertId(), last.alert().alertId());
        assertEquals(650, last.alert().evidence().measure("cycle_amount_micros"));
        assertEquals(new Evidence.LoopHop("c", "a", 350, 2), last.alert().evidence().loop().get(2));
        assertTrue(ev.sweep(T0.plusSeconds(3600), Map.<String, AgentPolicy>of()::get, configs).isEmpty());
        List<AlertChange> aged = ev.sweep(T0.plusSeconds(3603), Map.<String, AgentPolicy>of()::get, configs);
        assertEquals(1, aged.size());
        assertInstanceOf(AlertChange.Resolved.class, aged.get(0));
    }

    @Test
    void trendTimeAcceptsOnlyPlausibleBackdating() {
        LedgerEvent future = spend("a", 1, "t", "", 0, T0.plusSeconds(10), T0);
        assertEquals(T0, future.trendTime(Evaluator.MAX_BACKDATE));
        LedgerEvent old = spend("a", 1, "t", "", 0, T0.minusSeconds(16 * 86_400), T0);
        assertEquals(T0, old.trendTime(Evaluator.MAX_BACKDATE));
        LedgerEvent week = spend("a", 1, "t", "", 0, T0.minusSeconds(7 * 86_400), T0);
        assertEquals(T0.minusSeconds(7 * 86_400), week.trendTime(Evaluator.MAX_BACKDATE));
    }

    @Test
    void anAgentsEntryResolvesItsOwnAlertsAndNoOtherAgentsAlsoAfterARestore() {
        Evaluator ev = new Evaluator(1);
        RuleConfigSet configs = RuleConfigSet.defaults();
        for (int i = 0; i < 5; i++) {
            run(ev, two, configs, decline("a", "CAP_EXCEEDED", T0.plusSeconds(i)),
                    decline("b", "CAP_EXCEEDED", T0.plusSeconds(i)));
        }
        assertEquals(2, ev.openAlerts().size(), "a burst each");

        // a's next entry comes after its burst left the 300 s window: a's alert resolves, b's stays open
        List<AlertChange> changes = run(ev, two, configs, spend("a", 1, "t", T0.plusSeconds(400)));
        assertEquals(1, changes.size());
        AlertChange.Resolved resolved = assertInstanceOf(AlertChange.Resolved.class, changes.get(0));
        assertEquals(List.of("a"), resolved.alert().agentIds());
        assertEquals(List.of("b"), ev.openAlerts().stream().map(a -> a.agentIds().get(0)).toList());

        // restored (as after a failed batch), b's entry still finds and resolves b's alert
        Evaluator restored = new Evaluator(1);
        restored.restore(List.of(ev.agent("a"), ev.agent("b")), ev.graph(), List.copyOf(ev.openAlerts()));
        List<AlertChange> later = run(restored, two, configs, spend("b", 1, "t", T0.plusSeconds(500)));
        assertEquals(1, later.size());
        assertEquals(List.of("b"), assertInstanceOf(AlertChange.Resolved.class, later.get(0)).alert().agentIds());
        assertTrue(restored.openAlerts().isEmpty());
        // and firing again after the restore is indexed too: a new burst of a's resolves on a's own entry
        for (int i = 0; i < 5; i++) {
            run(restored, two, configs, decline("a", "CAP_EXCEEDED", T0.plusSeconds(600 + i)));
        }
        assertEquals(1, restored.openAlerts().size());
        assertInstanceOf(AlertChange.Resolved.class,
                run(restored, two, configs, spend("a", 1, "t", T0.plusSeconds(1_000))).get(0));
        assertTrue(restored.openAlerts().isEmpty());
    }

    @Test
    void graphChangesNameWhatTheGraphPrunedAndWhatItStillHolds() {
        Evaluator ev = new Evaluator(60);
        RuleConfigSet configs = RuleConfigSet.defaults();
        run(ev, two, configs, agentPayment("a", "b", 5, T0));
        GraphChanges first = ev.takeGraphChanges();
        assertFalse(first.pruned());
        assertEquals(1, first.added().size());

        // one batch: b pays a, then an entry past the hour's loop window prunes both payments
        run(ev, two, configs, agentPayment("b", "a", 5, T0.plusSeconds(10)), spend("a", 1, "t", T0.plusSeconds(3_700)));
        GraphChanges second = ev.takeGraphChanges();
        assertEquals(T0.plusSeconds(100).toEpochMilli(), second.prunedBeforeEpochMilli());
        assertEquals(List.of(), second.added(), "added and pruned in the same batch: nothing to insert");
        assertTrue(ev.graph().isEmpty());
        assertTrue(ev.takeGraphChanges().isEmpty());
    }

    @Test
    void aCapSetMidDayIsJudgedOnTheDaysWholeSpendAndTwoCapsOfOneWindowCountItOnce() {
        Evaluator ev = new Evaluator(60);
        RuleConfigSet configs = RuleConfigSet.defaults();
        // 850,000 spent before the agent had any cap
        run(ev, Map.of("a", policy("a", List.of(), WorkingSchedule.none())), configs,
                spend("a", 850_000, "t", T0));
        // then a DAY cap of 1,000,000, SOFT and HARD: the day is 85% used, not 0% and not 170%
        AgentPolicy.CapLimit day = dailyCap(1_000_000);
        Map<String, AgentPolicy> capped = Map.of("a", policy("a", List.of(day, day), WorkingSchedule.none()));
        List<AlertChange> changes = run(ev, capped, configs, spend("a", 1, "t", T0.plusSeconds(60)));
        List<AlertChange.Fired> fired = changes.stream().filter(c -> c instanceof AlertChange.Fired f
                && f.alert().rule() == RuleType.CAP_UTILIZATION).map(c -> (AlertChange.Fired) c).toList();
        assertEquals(1, fired.size(), changes.toString());
        assertEquals(850_001, fired.get(0).alert().evidence().measure("used_micros"));
    }

    @Test
    void capWindowsThatEndedAreDroppedAndTheCurrentOneStillAlerts() {
        AgentPolicy.CapLimit hourly = new AgentPolicy.CapLimit(AgentPolicy.CapWindow.HOUR, 10_000, "", 0, null);
        AgentPolicy.CapLimit searchHourly = new AgentPolicy.CapLimit(AgentPolicy.CapWindow.HOUR, 10_000, "web/search", 0, null);
        AgentPolicy.CapLimit monthly = new AgentPolicy.CapLimit(AgentPolicy.CapWindow.MONTH, 1_000_000_000, "", 0, null);
        AgentPolicy.CapLimit lifetimeSearch = new AgentPolicy.CapLimit(AgentPolicy.CapWindow.LIFETIME, 1_000_000_000,
                "web/search", 0, null);
        Map<String, AgentPolicy> capped = Map.of("a", policy("a",
                List.of(hourly, searchHourly, dailyCap(1_000_000_000), monthly, lifetimeSearch), WorkingSchedule.none()));
        Evaluator ev = new Evaluator(60);
        RuleConfigSet configs = RuleConfigSet.defaults();
        // a payment every 10 minutes for 40 days: 960 hours, 40 days and two months of windows
        for (int i = 0; i < 40 * 144; i++) {
            run(ev, capped, configs, spend("a", 100, "web/search", T0.plusSeconds(600L * i)));
        }
        Instant last = T0.plusSeconds(600L * (40 * 144 - 1));
        assertEquals(Instant.parse("2026-04-13T09:50:00Z"), last);
        Map<String, Long> windows = ev.agent("a").capWindows;
        // the last payment is at 2026-04-13T09:50Z: this hour holds 6 payments, this day 60, April 1,788
        assertEquals(Map.of(
                "HOUR||" + Instant.parse("2026-04-13T09:00:00Z").getEpochSecond(), 600L,
                "HOUR|web/search|" + Instant.parse("2026-04-13T09:00:00Z").getEpochSecond(), 600L,
                "DAY||" + Instant.parse("2026-04-13T00:00:00Z").getEpochSecond(), 6_000L,
                // a Monday: the week (counted with no weekly cap, as the ledger counts it) is that day
                "WEEK||" + Instant.parse("2026-04-13T00:00:00Z").getEpochSecond(), 6_000L,
                "MONTH||" + Instant.parse("2026-04-01T00:00:00Z").getEpochSecond(), 178_800L,
                "LIFETIME|web/search|0", 576_000L), windows, "only the windows that hold the latest payment");

        // 9,000 more in this hour take the hourly caps over 80%: they alert on this hour alone
        List<AlertChange> over = run(ev, capped, configs, spend("a", 9_000, "web/search", last.plusSeconds(1)));
        assertTrue(over.stream().anyMatch(c -> c instanceof AlertChange.Fired f
                        && f.alert().rule() == RuleType.CAP_UTILIZATION
                        && f.alert().evidence().measure("used_micros") == 9_600),
                "the current hour's 600 + 9,000 micros: " + over);

        // a late entry of an hour already past is not kept beside the current windows
        run(ev, capped, configs, spend("a", 100, "web/search", last.minusSeconds(3_600)));
        assertEquals(6, ev.agent("a").capWindows.size(), "the past hour's window is dropped again: "
                + ev.agent("a").capWindows);
    }
}
