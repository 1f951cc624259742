package dev.agentspend.alerts.domain;

/** What a rule does when it fires, besides notifying. */
public enum ActionType {
    NOTIFY, SUSPEND
}
