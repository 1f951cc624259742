package dev.agentspend.common.grpc;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.runtime.ShutdownDelayInitiatedEvent;
import io.quarkus.runtime.ShutdownEvent;
import io.smallrye.mutiny.Multi;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Ends a service's server streams (the policy feed, the entry feed, the alert feed) as soon as the
 * service begins to stop, with UNAVAILABLE, and refuses new ones the same way: their clients
 * reconnect, through the Service, to a replica that is not stopping.
 *
 * <p>Why: a stream is a request that never ends by itself. Left open, it kept the feed's consumer on
 * a replica that was going away until the process died, and a graceful shutdown (Quarkus waits up to
 * {@code quarkus.shutdown.timeout} for the requests in flight, so that Pay calls under way are
 * answered instead of cut) would have waited out its whole timeout for them on every stop. Quarkus
 * fires {@link ShutdownDelayInitiatedEvent} before the shutdown delay (and before that wait), on every
 * stop of a service built with {@code quarkus.shutdown.delay-enabled}; {@link ShutdownEvent} is a
 * second chance for a service built without it. A bean of common's, so every service has it.
 */
@Singleton
public class StreamDrain {
    private static final Logger LOG = Logger.getLogger(StreamDrain.class);

    /** Each open stream's way to end itself: completes its signal with true (drained). */
    private final Set<CompletableFuture<Boolean>> open = ConcurrentHashMap.newKeySet();
    private volatile boolean draining;

    void onShutdownDelay(@Observes ShutdownDelayInitiatedEvent event) {
        drain();
    }

    void onShutdown(@Observes ShutdownEvent event) {
        drain();
    }

    /** Ends every open stream and refuses new ones; idempotent. */
    public void drain() {
        draining = true;
        int ended = 0;
        for (CompletableFuture<Boolean> stop : open) {
            if (stop.complete(true)) {
                ended++;
            }
        }
        if (ended > 0) {
            LOG.infof("stopping: ended %d open stream(s) with UNAVAILABLE so that their clients reconnect elsewhere", ended);
        }
    }

    /** Streams open now. */
    public int openStreams() {
        return open.size();
    }

    /**
     * {@code stream} as it is, until the service begins to stop: then it fails with UNAVAILABLE (and
     * {@code stream} is cancelled). Subscribed while stopping, it fails at once. The stream's own
     * demand, items, completion and failure pass through unchanged.
     */
    public <T> Multi<T> drainable(Multi<T> stream) {
        return Multi.createFrom().deferred(() -> {
            if (draining) {
                return Multi.createFrom().failure(shuttingDown());
            }
            // true: the service is stopping; false: the stream ended by itself, and the signal with it
            CompletableFuture<Boolean> stop = new CompletableFuture<>();
            open.add(stop);
            if (draining) {
                // drain() ran between the check above and the add: it may have missed this one
                stop.complete(true);
            }
            Multi<T> signal = Multi.createFrom().completionStage(stop)
                    .onItem().transformToMultiAndConcatenate(drained -> drained
                            ? Multi.createFrom().<T>failure(shuttingDown())
                            : Multi.createFrom().<T>empty());
            Multi<T> own = stream.onTermination().invoke(() -> stop.complete(false));
            // one item asked of the stream at a time, as the subscriber asks: a merge's default (128 at
            // once) would buffer pages of the feed that the client has not asked for yet
            return Multi.createBy().merging().withRequests(1).streams(own, signal)
                    .onTermination().invoke(() -> open.remove(stop));
        });
    }

    static StatusRuntimeException shuttingDown() {
        return Status.UNAVAILABLE
                .withDescription("this replica is shutting down: reconnect, and another replica will answer")
                .asRuntimeException();
    }
}
