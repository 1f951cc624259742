package dev.agentspend.identity.domain;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import org.junit.jupiter.api.Test;

import static dev.agentspend.proto.identity.v1.AgentStatus.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AgentStatusTransitionsTest {
    @Test
    void activeAndSuspendedGoBackAndForth() {
        assertEquals(AGENT_STATUS_SUSPENDED, AgentStatusTransitions.suspend(AGENT_STATUS_ACTIVE));
        assertEquals(AGENT_STATUS_ACTIVE, AgentStatusTransitions.reinstate(AGENT_STATUS_SUSPENDED));
        assertEquals(AGENT_STATUS_REVOKED, AgentStatusTransitions.revoke(AGENT_STATUS_ACTIVE));
        assertEquals(AGENT_STATUS_REVOKED, AgentStatusTransitions.revoke(AGENT_STATUS_SUSPENDED));
    }

    @Test
    void transitionsThatDoNotApplyAreFailedPreconditions() {
        assertEquals("AGENT_NOT_ACTIVE", refused(() -> AgentStatusTransitions.suspend(AGENT_STATUS_SUSPENDED)));
        assertEquals("AGENT_NOT_SUSPENDED", refused(() -> AgentStatusTransitions.reinstate(AGENT_STATUS_ACTIVE)));
    }

    @Test
    void revokedIsFinal() {
        assertEquals("AGENT_REVOKED", refused(() -> AgentStatusTransitions.reinstate(AGENT_STATUS_REVOKED)));
        assertEquals("AGENT_REVOKED", refused(() -> AgentStatusTransitions.suspend(AGENT_STATUS_REVOKED)));
        assertEquals("AGENT_REVOKED", refused(() -> AgentStatusTransitions.revoke(AGENT_STATUS_REVOKED)));
    }

    private static String refused(Runnable transition) {
        ApiException e = assertThrows(ApiException.class, transition::run);
        assertEquals(ErrorCode.FAILED_PRECONDITION, e.code());
        return e.reason();
    }
}
