package dev.agentspend.identity.domain;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;

/**
 * Who may call what: the admin token everything, the service token only Authenticate,
 * WatchPolicies and SuspendAgent (the alert service's revocation path), agent keys nothing; no or
 * an unknown credential is UNAUTHENTICATED.
 */
public final class AccessRules {
    private AccessRules() {
    }

    public static AccessDecision decide(Credential credential, Operation operation) {
        if (credential instanceof Credential.Admin) {
            return AccessDecision.ALLOW_ADMIN;
        }
        if (credential instanceof Credential.Service) {
            return operation == Operation.ADMIN ? AccessDecision.PERMISSION_DENIED : AccessDecision.ALLOW_SERVICE;
        }
        if (credential instanceof Credential.AgentKey) {
            return AccessDecision.DENY_AGENT_KEY;
        }
        return AccessDecision.UNAUTHENTICATED;
    }

    public static ApiException unauthenticated() {
        return ApiException.of(ErrorCode.UNAUTHENTICATED, "UNAUTHENTICATED",
                "send 'authorization: Bearer <token>' with the admin or service token");
    }

    public static ApiException permissionDenied(Operation operation) {
        String needed = operation == Operation.ADMIN ? "the admin token" : "the admin or service token";
        return ApiException.of(ErrorCode.PERMISSION_DENIED, "PERMISSION_DENIED",
                "this operation needs " + needed);
    }
}
