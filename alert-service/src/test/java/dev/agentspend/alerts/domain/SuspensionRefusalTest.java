package dev.agentspend.alerts.domain;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SuspensionRefusalTest {
    @Test
    void anAgentAlreadySuspendedIsWhatTheAlertWanted() {
        assertEquals(SuspensionRefusal.ALREADY_SUSPENDED, SuspensionRefusal.of("FAILED_PRECONDITION", "AGENT_NOT_ACTIVE"));
    }

    @Test
    void refusalsARetryCannotChangeEndTheSuspension() {
        assertEquals(SuspensionRefusal.FINAL, SuspensionRefusal.of("FAILED_PRECONDITION", "AGENT_REVOKED"));
        assertEquals(SuspensionRefusal.FINAL, SuspensionRefusal.of("NOT_FOUND", "NOT_FOUND"));
        assertEquals(SuspensionRefusal.FINAL, SuspensionRefusal.of("INVALID_ARGUMENT", ""));
    }

    @Test
    void anOutageIsRetried() {
        assertEquals(SuspensionRefusal.TRANSIENT, SuspensionRefusal.of("UNAVAILABLE", "DATABASE_UNAVAILABLE"));
        assertEquals(SuspensionRefusal.TRANSIENT, SuspensionRefusal.of("DEADLINE_EXCEEDED", ""));
        assertEquals(SuspensionRefusal.TRANSIENT, SuspensionRefusal.of("UNKNOWN", ""));
        assertEquals(SuspensionRefusal.TRANSIENT, SuspensionRefusal.of("ABORTED", "TRANSACTION_CONFLICT"));
        assertEquals(SuspensionRefusal.TRANSIENT, SuspensionRefusal.of("PERMISSION_DENIED", ""), "a service token an operator fixes");
    }
}
