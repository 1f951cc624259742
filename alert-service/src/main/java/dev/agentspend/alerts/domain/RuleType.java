package dev.agentspend.alerts.domain;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The nine anomaly rules with their defaults. Every rule is on by default. Parameters are integers:
 * percentages in permille, money in micro-units, durations in seconds, counts as is.
 *
 * <p>Default actions: only {@link #TOOL_SPEND_SPIKE} and {@link #PAYMENT_LOOP} suspend. A spike on
 * one tool against its own baseline is the signature of a prompt injection steering the agent to an
 * expensive endpoint over and over: every further minute costs money and the agent's output cannot
 * be trusted, so cutting it off is the safe default (a person reinstates it). A payment loop moves
 * money in a circle without producing anything and, left alone, repeats until caps stop it;
 * suspending every agent of the cycle breaks it. The other rules describe trends or pressure that
 * caps already bound (velocity, cap utilization, declines) or that need a person's judgement
 * (cost per task, retries, off-hours, concentration): they notify only.
 */
public enum RuleType {
    COST_PER_TASK_INCREASE(Level.WARNING, ActionType.NOTIFY, params(
            "increase_permille", 200, "min_tasks", 5)),
    SPEND_VELOCITY(Level.WARNING, ActionType.NOTIFY, params(
            "window_seconds", 3600, "min_spend_micros", 1_000_000,
            "baseline_window_seconds", 86_400, "baseline_multiplier_permille", 3000)),
    TOOL_CONCENTRATION(Level.INFO, ActionType.NOTIFY, params(
            "window_seconds", 86_400, "share_permille", 500, "min_spend_micros", 1_000_000, "min_payments", 10)),
    CAP_UTILIZATION(Level.WARNING, ActionType.NOTIFY, params(
            "utilization_permille", 800, "regular_days", 3, "lookback_days", 7)),
    RETRY_RATE(Level.WARNING, ActionType.NOTIFY, params(
            "window_seconds", 3600, "rate_permille", 150, "min_payments", 20)),
    OFF_HOURS_SPEND(Level.WARNING, ActionType.NOTIFY, params(
            "window_seconds", 3600, "min_spend_micros", 100_000, "min_payments", 1)),
    PAYMENT_LOOP(Level.CRITICAL, ActionType.SUSPEND, params(
            "window_seconds", 3600, "min_edge_micros", 1, "max_length", 16)),
    TOOL_SPEND_SPIKE(Level.CRITICAL, ActionType.SUSPEND, params(
            "window_seconds", 300, "baseline_window_seconds", 86_400, "multiplier_permille", 5000,
            "min_spend_micros", 1_000_000, "min_payments", 5, "min_baseline_payments", 3)),
    DECLINE_BURST(Level.WARNING, ActionType.NOTIFY, params(
            "window_seconds", 300, "min_declines", 5));

    private final Level defaultSeverity;
    private final ActionType defaultAction;
    private final Map<String, Long> defaults;
    // built once: every evaluation of every dirty agent starts from it (RuleSettings is immutable)
    private final RuleSettings defaultSettings;

    RuleType(Level defaultSeverity, ActionType defaultAction, Map<String, Long> defaults) {
        this.defaultSeverity = defaultSeverity;
        this.defaultAction = defaultAction;
        this.defaults = defaults;
        this.defaultSettings = new RuleSettings(this, true, defaultAction, defaultSeverity, defaults);
    }

    public Level defaultSeverity() {
        return defaultSeverity;
    }

    public ActionType defaultAction() {
        return defaultAction;
    }

    /** Every parameter of the rule with its default, in a stable order. */
    public Map<String, Long> defaults() {
        return defaults;
    }

    public RuleSettings defaultSettings() {
        return defaultSettings;
    }

    private static Map<String, Long> params(Object... kv) {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], ((Number) kv[i + 1]).longValue());
        }
        return java.util.Collections.unmodifiableMap(m);
    }
}
