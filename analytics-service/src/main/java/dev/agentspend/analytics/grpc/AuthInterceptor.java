package dev.agentspend.analytics.grpc;

import dev.agentspend.analytics.config.AuthConfig;
import dev.agentspend.analytics.domain.Access;
import dev.agentspend.common.auth.BearerTokens;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

/**
 * Reads the bearer credential of every call into the gRPC context; {@link AnalyticsApi} decides what
 * it may do (so that gRPC and REST refuse alike).
 */
@ApplicationScoped
public class AuthInterceptor implements ServerInterceptor {
    static final Context.Key<Access.Role> ROLE = Context.key("agentspend-role");
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of(BearerTokens.METADATA_KEY, Metadata.ASCII_STRING_MARSHALLER);

    @Inject
    AuthConfig auth;

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        Access.Role role = Access.of(headers.get(AUTHORIZATION), auth.adminToken(), auth.serviceToken());
        return Contexts.interceptCall(Context.current().withValue(ROLE, role), call, headers, next);
    }

    static Access.Role current() {
        Access.Role role = ROLE.get();
        return role == null ? Access.Role.NONE : role;
    }
}
