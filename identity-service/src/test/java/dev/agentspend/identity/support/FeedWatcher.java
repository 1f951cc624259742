package dev.agentspend.identity.support;

import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.WatchPoliciesRequest;
import dev.agentspend.proto.identity.v1.WatchPoliciesResponse;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;

import java.util.Iterator;
import java.util.concurrent.TimeUnit;

/** A WatchPolicies client that can disconnect, as a ledger replica would when it restarts. */
public final class FeedWatcher implements AutoCloseable {
    private final Context.CancellableContext context = Context.current().withCancellation();
    private final Iterator<WatchPoliciesResponse> events;

    public FeedWatcher(String token, long afterVersion) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        IdentityServiceGrpc.IdentityServiceBlockingStub stub = IdentityServiceGrpc.newBlockingStub(Grpc.channel())
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .withDeadlineAfter(90, TimeUnit.SECONDS);
        Context previous = context.attach();
        try {
            events = stub.watchPolicies(WatchPoliciesRequest.newBuilder().setAfterVersion(afterVersion).build());
        } finally {
            context.detach(previous);
        }
    }

    public static FeedWatcher service(long afterVersion) {
        return new FeedWatcher(Grpc.SERVICE_TOKEN, afterVersion);
    }

    /** The next event; bounded by the call's deadline. */
    public WatchPoliciesResponse next() {
        return events.next();
    }

    /** The next event that is not a heartbeat. */
    public WatchPoliciesResponse nextChange() {
        while (true) {
            WatchPoliciesResponse event = events.next();
            if (!event.hasHeartbeat()) {
                return event;
            }
        }
    }

    @Override
    public void close() {
        context.cancel(null);
    }
}
