package dev.agentspend.identity.grpc;

import dev.agentspend.common.auth.BearerTokens;
import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.identity.config.AuthConfig;
import dev.agentspend.identity.domain.AccessRules;
import dev.agentspend.identity.domain.Credential;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.StatusRuntimeException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

/**
 * Reads the bearer credential of every call. Calls without a usable one are refused here with
 * UNAUTHENTICATED; the others reach the service with their {@link Credential} in the gRPC
 * context, and {@link IdentityApi} decides what that credential may do.
 */
@ApplicationScoped
public class AuthInterceptor implements ServerInterceptor {
    static final Context.Key<Credential> CREDENTIAL = Context.key("agentspend-credential");
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of(BearerTokens.METADATA_KEY, Metadata.ASCII_STRING_MARSHALLER);

    @Inject
    AuthConfig auth;

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        Credential credential = Credential.fromAuthorizationHeader(headers.get(AUTHORIZATION),
                auth.adminToken(), auth.serviceToken());
        if (credential instanceof Credential.Missing || credential instanceof Credential.Unknown) {
            StatusRuntimeException refusal = GrpcErrors.toStatus(AccessRules.unauthenticated(), IdentityGrpcService.DOMAIN);
            call.close(refusal.getStatus(), refusal.getTrailers() == null ? new Metadata() : refusal.getTrailers());
            return new ServerCall.Listener<>() {
            };
        }
        return Contexts.interceptCall(Context.current().withValue(CREDENTIAL, credential), call, headers, next);
    }

    /** The current call's credential; absent only if a call bypassed this interceptor. */
    static Credential current() {
        Credential credential = CREDENTIAL.get();
        return credential == null ? new Credential.Missing() : credential;
    }
}
