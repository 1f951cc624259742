package dev.agentspend.alerts.domain;

import java.util.Map;

/**
 * The configuration stored for one rule at one scope: only what it sets; null and absent
 * parameters inherit from the wider scope.
 */
public record RuleOverride(Boolean enabled, ActionType action, Level severity, Map<String, Long> params) {
    public RuleOverride {
        params = params == null ? Map.of() : Map.copyOf(params);
    }

    public RuleSettings applyTo(RuleSettings base) {
        java.util.LinkedHashMap<String, Long> merged = new java.util.LinkedHashMap<>(base.params());
        merged.putAll(params);
        return new RuleSettings(base.rule(), enabled == null ? base.enabled() : enabled,
                action == null ? base.action() : action, severity == null ? base.severity() : severity, merged);
    }
}
