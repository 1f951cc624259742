package dev.agentspend.alerts.domain;

import dev.agentspend.common.api.WorkingSchedule;

import java.time.Instant;
import java.time.ZoneId;
import java.util.List;
import java.util.Map;

/** Builders of events, policies and settings for the rule tests. */
final class Fixtures {
    static final Instant T0 = Instant.parse("2026-03-04T10:00:00Z"); // a Wednesday
    private static long position;

    private Fixtures() {
    }

    static LedgerEvent spend(String agent, long micros, String tool, Instant at) {
        return new LedgerEvent(++position, "ent_" + position, LedgerEvent.Kind.SPEND, agent, "team_a", micros, micros,
                "USD", tool, "", 0, "", "", null, at);
    }

    static LedgerEvent spend(String agent, long micros, String tool, String task, int attempt, Instant occurred, Instant at) {
        return new LedgerEvent(++position, "ent_" + position, LedgerEvent.Kind.SPEND, agent, "team_a", micros, micros,
                "USD", tool, task, attempt, "", "", occurred, at);
    }

    static LedgerEvent taskDone(String agent, String task, Instant occurred, Instant at) {
        return new LedgerEvent(++position, "ent_" + position, LedgerEvent.Kind.TASK_COMPLETED, agent, "team_a", 0, 0,
                "USD", "", task, 0, "", "", occurred, at);
    }

    static LedgerEvent decline(String agent, String reason, Instant at) {
        return new LedgerEvent(++position, "ent_" + position, LedgerEvent.Kind.DECLINE, agent, "team_a", 0, 1_000_000,
                "USD", "t", "", 0, "", reason, null, at);
    }

    static LedgerEvent agentPayment(String from, String to, long micros, Instant at) {
        return new LedgerEvent(++position, "ent_" + position, LedgerEvent.Kind.SPEND, from, "", micros, micros,
                "USD", "agent-payment", "", 0, to, "", null, at);
    }

    static AgentPolicy policy(String agent, List<AgentPolicy.CapLimit> caps, WorkingSchedule hours) {
        return new AgentPolicy(agent, "team_a", "USD", caps, hours);
    }

    static AgentPolicy.CapLimit dailyCap(long micros) {
        return new AgentPolicy.CapLimit(AgentPolicy.CapWindow.DAY, micros, "", 0, null);
    }

    static RuleSettings settings(RuleType rule, Map<String, Long> overrides) {
        return new RuleOverride(null, null, null, overrides).applyTo(rule.defaultSettings());
    }

    static WorkingSchedule nineToFive(String zone) {
        return new WorkingSchedule(ZoneId.of(zone), List.of(
                new WorkingSchedule.Interval(1, 540, 1020), new WorkingSchedule.Interval(2, 540, 1020),
                new WorkingSchedule.Interval(3, 540, 1020), new WorkingSchedule.Interval(4, 540, 1020),
                new WorkingSchedule.Interval(5, 540, 1020)));
    }

    /** Applies events to a fresh evaluator with the given policies and returns every change. */
    static List<AlertChange> run(Evaluator ev, Map<String, AgentPolicy> policies, RuleConfigSet configs, LedgerEvent... events) {
        List<AlertChange> all = new java.util.ArrayList<>();
        for (LedgerEvent e : events) {
            all.addAll(ev.onEvent(e, policies::get, configs, e.recordedTime()));
        }
        return all;
    }
}
