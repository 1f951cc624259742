package dev.agentspend.analytics.domain;

import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.common.auth.BearerTokens;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;

import java.util.Optional;

/**
 * Who may call what: the admin token every operation, the service token the read operations
 * (the alert service reads metrics), agent keys nothing (PERMISSION_DENIED: they are known
 * credentials of the platform, just not for this service). No credential or an unknown one:
 * UNAUTHENTICATED.
 */
public final class Access {
    /** The kind of credential presented. */
    public enum Role {
        ADMIN, SERVICE, AGENT_KEY, NONE
    }

    private Access() {
    }

    public static Role of(String authorizationHeader, String adminToken, String serviceToken) {
        if (authorizationHeader == null || authorizationHeader.isEmpty()) {
            return Role.NONE;
        }
        Optional<String> token = BearerTokens.parse(authorizationHeader);
        if (token.isEmpty()) {
            return Role.NONE;
        }
        if (BearerTokens.matches(token.get(), adminToken)) {
            return Role.ADMIN;
        }
        if (BearerTokens.matches(token.get(), serviceToken)) {
            return Role.SERVICE;
        }
        return ApiKeys.parse(token.get()).isPresent() ? Role.AGENT_KEY : Role.NONE;
    }

    /** Allows a read operation, or throws the refusal. */
    public static void requireRead(Role role) {
        requireAuthenticated(role);
        if (role != Role.ADMIN && role != Role.SERVICE) {
            throw denied();
        }
    }

    /** Allows an admin operation, or throws the refusal. */
    public static void requireAdmin(Role role) {
        requireAuthenticated(role);
        if (role != Role.ADMIN) {
            throw denied();
        }
    }

    public static ApiException unauthenticated() {
        return ApiException.of(ErrorCode.UNAUTHENTICATED, "UNAUTHENTICATED",
                "a valid credential is required: send `authorization: Bearer <token>`");
    }

    private static void requireAuthenticated(Role role) {
        if (role == Role.NONE) {
            throw unauthenticated();
        }
    }

    private static ApiException denied() {
        return ApiException.of(ErrorCode.PERMISSION_DENIED, "PERMISSION_DENIED",
                "this credential may not call this operation of the analytics service");
    }
}
