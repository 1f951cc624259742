package dev.agentspend.alerts.grpc;

import dev.agentspend.alerts.config.AuthConfig;
import dev.agentspend.alerts.domain.Access;
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
 * Reads the bearer credential of every call into the gRPC context; {@link AlertApi} decides what
 * it may do (so that gRPC and REST apply the same rules).
 */
@ApplicationScoped

public class AuthInterceptor implements ServerInterceptor {
    static final Context.Key<Access.Credential> CREDENTIAL = Context.key("agentspend-alerts-credential");
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of(BearerTokens.METADATA_KEY, Metadata.ASCII_STRING_MARSHALLER);

    @Inject
    AuthConfig auth;

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        Access.Credential credential = Access.identify(headers.get(AUTHORIZATION), auth.adminToken(), auth.serviceToken());
        return Contexts.interceptCall(Context.current().withValue(CREDENTIAL, credential), call, headers, next);
    }

    static Access.Credential current() {
        Access.Credential c = CREDENTIAL.get();
        return c == null ? Access.Credential.NONE : c;
    }
}
