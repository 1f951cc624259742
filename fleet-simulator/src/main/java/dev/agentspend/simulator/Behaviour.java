package dev.agentspend.simulator;

import dev.agentspend.proto.alerts.v1.Rule;

/** What a simulated agent does, and the alert rule that should name it (none for well-behaved agents). */
public enum Behaviour {
    /** Steady work: tasks of two calls spread over three tools, same cost per task every week. */
    WELL_BEHAVED(Rule.RULE_UNSPECIFIED, "steady tasks, same cost every week"),
    /** A research agent whose model was swapped: cost per task ten times last week's. */
    MODEL_SWAP(Rule.RULE_COST_PER_TASK_INCREASE, "model swapped: cost per task x10 week over week"),
    /** Re-pays the same failing call again and again. */
    RETRY_LOOP(Rule.RULE_RETRY_RATE, "stuck retrying the same failing calls"),
    /** Prompt-injected: calls one expensive tool over and over. */
    HIJACKED(Rule.RULE_TOOL_SPEND_SPIKE, "prompt injection: one expensive tool over and over"),
    /** Spends at 3 a.m. local time, outside its working hours. */
    NIGHT_OWL(Rule.RULE_OFF_HOURS_SPEND, "spending at 3 a.m., outside its working hours"),
    /** One of three agents paying each other in a circle. */
    PAYMENT_LOOP(Rule.RULE_PAYMENT_LOOP, "pays the next agent of a three-agent circle"),
    /** Spends up to 90% of its daily cap and waits there. */
    CAP_HUGGER(Rule.RULE_CAP_UTILIZATION, "keeps its daily cap over 80% used");

    private final Rule expectedRule;
    private final String description;

    Behaviour(Rule expectedRule, String description) {
        this.expectedRule = expectedRule;
        this.description = description;
    }

    /** The rule that should alert on this agent; {@link Rule#RULE_UNSPECIFIED} means no alert at all. */
    public Rule expectedRule() {
        return expectedRule;
    }

    public String description() {
        return description;
    }

    public boolean misbehaves() {
        return this != WELL_BEHAVED;
    }
}
