package dev.agentspend.common.error;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

/**
 * What Mutiny does with a failure that arrives after its subscriber cancelled ("had to drop").
 * The services cancel their long-lived gRPC streams (identity's policy feed, the ledger's entry feed)
 * when they stop, when a consumer's round ends and when they reconnect; the call's own end can
 * still arrive after that (UNAVAILABLE as the channel shuts down or the server loses its database,
 * CANCELLED), and Quarkus logged each at ERROR with a stack trace: on every pod's shutdown and every
 * database outage, for nothing anyone should act on. Those ends are logged at DEBUG; every other
 * dropped failure stays an ERROR, as Quarkus has it. A bean of common's, so every service has it.
 */
@Singleton
public class DroppedFailures {
    private static final Logger LOG = Logger.getLogger(DroppedFailures.class);

    void onStart(@Observes StartupEvent event) {
        Infrastructure.setDroppedExceptionHandler(DroppedFailures::handle);
    }

    /** True for the end of a gRPC call its subscriber no longer listens to. */
    public static boolean isCancelledCallEnd(Throwable t) {
        if (!(t instanceof StatusRuntimeException e)) {
            return false;
        }
        Status.Code code = e.getStatus().getCode();
        return code == Status.Code.UNAVAILABLE || code == Status.Code.CANCELLED;
    }

    static void handle(Throwable t) {
        if (isCancelledCallEnd(t)) {
            LOG.debugf("a gRPC call ended after its subscriber had cancelled it: %s", ((StatusRuntimeException) t).getStatus());
        } else {
            LOG.error("Mutiny had to drop the following exception", t);
        }
    }
}
