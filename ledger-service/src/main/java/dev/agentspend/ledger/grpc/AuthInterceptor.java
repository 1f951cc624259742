package dev.agentspend.ledger.grpc;

import dev.agentspend.common.auth.BearerTokens;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;

/** Carries the call's {@code authorization} header to the service method (never logged). */
@GlobalInterceptor
@ApplicationScoped
public class AuthInterceptor implements ServerInterceptor {
    static final Context.Key<String> AUTHORIZATION = Context.key("agentspend-authorization");
    private static final Metadata.Key<String> HEADER =
            Metadata.Key.of(BearerTokens.METADATA_KEY, Metadata.ASCII_STRING_MARSHALLER);

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
                                                                 ServerCallHandler<ReqT, RespT> next) {
        Context ctx = Context.current().withValue(AUTHORIZATION, headers.get(HEADER));
        return Contexts.interceptCall(ctx, call, headers, next);
    }
}
