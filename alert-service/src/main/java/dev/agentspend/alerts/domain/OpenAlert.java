package dev.agentspend.alerts.domain;

import java.time.Instant;
import java.util.List;

/** An alert not yet resolved, as the evaluator tracks it. */
public record OpenAlert(String alertId, RuleType rule, String dedupeKey, List<String> agentIds, String teamId,
                        Level severity, ActionType action, Evidence evidence, Instant firstSeen, Instant lastSeen) {
    public OpenAlert {
        agentIds = List.copyOf(agentIds);
    }

    public OpenAlert seenAgain(Evidence latest, Instant at) {
        return new OpenAlert(alertId, rule, dedupeKey, agentIds, teamId, severity, action,
                latest.withTrigger(evidence.triggerPosition(), evidence.triggerRecordTime()), firstSeen, at);
    }
}
