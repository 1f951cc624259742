package dev.agentspend.alerts.domain;

import java.util.Map;

/** The configuration in force for one rule and one agent, every parameter resolved. */
public record RuleSettings(RuleType rule, boolean enabled, ActionType action, Level severity, Map<String, Long> params) {
    public RuleSettings {
        params = Map.copyOf(params);
    }

    public long param(String name) {
        Long v = params.get(name);
        if (v == null) {
            throw new IllegalArgumentException(rule + " has no parameter " + name);
        }
        return v;
    }
}
