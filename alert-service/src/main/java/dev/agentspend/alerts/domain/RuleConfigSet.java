package dev.agentspend.alerts.domain;

import dev.agentspend.common.api.Fields;
import dev.agentspend.common.error.Violations;

import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;

/**
 * Every stored rule configuration: defaults, then the fleet's, the team's and the agent's
 * overrides, each replacing only what it sets.
 */
public final class RuleConfigSet {
    /** Longest window a parameter may ask for; the rule state keeps this much history. */
    public static final long MAX_WINDOW_SECONDS = 8 * 86_400L;

    public enum Scope { FLEET, TEAM, AGENT }

    public record Key(Scope scope, String scopeId, RuleType rule) {
    }

    private final Map<Key, RuleOverride> overrides;
    /** Per rule: its defaults with the fleet's override applied (the same for every agent). */
    private final Map<RuleType, RuleSettings> fleetSettings = new EnumMap<>(RuleType.class);
    /** Per rule, the team and agent overrides by scope id: looked up per entry without a key object. */
    private final Map<RuleType, Map<String, RuleOverride>> teamOverrides = new EnumMap<>(RuleType.class);
    private final Map<RuleType, Map<String, RuleOverride>> agentOverrides = new EnumMap<>(RuleType.class);

    public RuleConfigSet(Map<Key, RuleOverride> overrides) {
        this.overrides = Map.copyOf(overrides);
        for (RuleType rule : RuleType.values()) {
            RuleOverride fleet = this.overrides.get(new Key(Scope.FLEET, "", rule));
            fleetSettings.put(rule, fleet == null ? rule.defaultSettings() : fleet.applyTo(rule.defaultSettings()));
        }
        this.overrides.forEach((key, o) -> {
            switch (key.scope()) {
                case TEAM -> teamOverrides.computeIfAbsent(key.rule(), r -> new HashMap<>()).put(key.scopeId(), o);
                case AGENT -> agentOverrides.computeIfAbsent(key.rule(), r -> new HashMap<>()).put(key.scopeId(), o);
                case FLEET -> {
                    // in fleetSettings
                }
            }
        });
    }

    public static RuleConfigSet defaults() {
        return new RuleConfigSet(new HashMap<>());
    }

    public RuleSettings effective(String agentId, String teamId, RuleType rule) {
        RuleSettings s = fleetSettings.get(rule);
        if (teamId != null && !teamId.isEmpty()) {
            s = apply(s, teamOverrides.get(rule), teamId);
        }
        if (agentId != null && !agentId.isEmpty()) {
            s = apply(s, agentOverrides.get(rule), agentId);
        }
        return s;
    }

    /** The largest value of a parameter over the defaults and every stored override. */
    public long maxParam(RuleType rule, String name) {
        long max = rule.defaults().get(name);
        for (Map.Entry<Key, RuleOverride> e : overrides.entrySet()) {
            if (e.getKey().rule() == rule && e.getValue().params().containsKey(name)) {
                max = Math.max(max, e.getValue().params().get(name));
            }
        }
        return max;
    }

    private static RuleSettings apply(RuleSettings s, Map<String, RuleOverride> byScopeId, String scopeId) {
        RuleOverride o = byScopeId == null ? null : byScopeId.get(scopeId);
        return o == null ? s : o.applyTo(s);
    }

    /** Checks an override's parameters against its rule: known names, sensible ranges. */
    public static void validate(RuleType rule, Map<String, Long> params, String field, Violations v) {
        for (Map.Entry<String, Long> p : params.entrySet()) {
            String name = p.getKey();
            long value = p.getValue();
            // a name the caller made up is echoed bounded and without control characters
            String f = field + "[" + Fields.printable(name) + "]";
            if (!rule.defaults().containsKey(name)) {
                v.add(f, "is not a parameter of " + rule + "; known: " + String.join(", ", rule.defaults().keySet()));
            } else if (name.endsWith("_seconds")) {
                v.check(value >= 1 && value <= MAX_WINDOW_SECONDS, f, "must be 1.." + MAX_WINDOW_SECONDS + " seconds");
            } else if (name.endsWith("_days")) {
                v.check(value >= 1 && value <= 7, f, "must be 1..7 days");
            } else if (name.endsWith("_permille")) {
                v.check(value >= 1 && value <= 1_000_000, f, "must be 1..1000000 permille");
            } else if (name.equals("max_length")) {
                v.check(value >= 2 && value <= 64, f, "must be 2..64 agents");
            } else {
                v.check(value >= 0, f, "must not be negative");
            }
        }
    }
}
