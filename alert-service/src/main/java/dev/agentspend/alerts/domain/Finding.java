package dev.agentspend.alerts.domain;

import java.util.List;

/**
 * A condition that holds now.
 *
 * @param subject what distinguishes this condition from others of the same rule and agents (a
 *                tool, a cap window, `regular`); empty when the rule has one condition per agent
 */
public record Finding(RuleType rule, List<String> agentIds, String teamId, String subject, Evidence evidence) {
    public Finding {
        agentIds = List.copyOf(agentIds);
        subject = subject == null ? "" : subject;
        teamId = teamId == null ? "" : teamId;
    }

    /** One condition, one alert: the identity of the condition. */
    public String dedupeKey() {
        return rule.name() + "|" + String.join(">", agentIds) + (subject.isEmpty() ? "" : "|" + subject);
    }
}
