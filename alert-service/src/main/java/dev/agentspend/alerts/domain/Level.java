package dev.agentspend.alerts.domain;

/** Alert severity, in increasing urgency. */
public enum Level {
    INFO, WARNING, CRITICAL
}
