package dev.agentspend.identity.domain;

/** A caller whose access was granted; its name is what the audit log records as the actor. */
public enum Caller {
    ADMIN("admin"),
    SERVICE("service");

    private final String actor;

    Caller(String actor) {
        this.actor = actor;
    }

    public String actor() {
        return actor;
    }
}
