package dev.agentspend.alerts.domain;

import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.common.auth.BearerTokens;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;

/**
 * Who may call what: the admin token everything; the service token reads and WatchAlerts; agent
 * keys nothing (PERMISSION_DENIED: they are credentials of the platform, just not for this
 * service); no or an unknown credential UNAUTHENTICATED.
 */
public final class Access {
    private Access() {
    }

    public enum Operation { READ, ADMIN }

    public enum Credential { ADMIN, SERVICE, AGENT_KEY, NONE }

    public static Credential identify(String authorizationHeader, String adminToken, String serviceToken) {
        var token = BearerTokens.parse(authorizationHeader);
        if (token.isEmpty()) {
            return Credential.NONE;
        }
        if (BearerTokens.matches(token.get(), adminToken)) {
            return Credential.ADMIN;
        }
        if (BearerTokens.matches(token.get(), serviceToken)) {
            return Credential.SERVICE;
        }
        if (ApiKeys.parse(token.get()).isPresent()) {
            return Credential.AGENT_KEY;
        }
        return Credential.NONE;
    }

    /** Throws the refusal, or returns when the credential may perform the operation. */
    public static void check(Credential credential, Operation operation) {
        switch (credential) {
            case ADMIN -> {
            }
            case SERVICE -> {
                if (operation == Operation.ADMIN) {
                    throw ApiException.of(ErrorCode.PERMISSION_DENIED, "PERMISSION_DENIED",
                            "this operation needs the admin token");
                }
            }
            case AGENT_KEY -> throw ApiException.of(ErrorCode.PERMISSION_DENIED, "PERMISSION_DENIED",
                    "agent keys may not call the alert service; use the admin or service token");
            case NONE -> throw ApiException.of(ErrorCode.UNAUTHENTICATED, "UNAUTHENTICATED",
                    "send 'authorization: Bearer <token>' with the admin or service token");
        }
    }
}
