package dev.agentspend.common.error;

import io.grpc.Status;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DroppedFailuresTest {

    @Test
    void onlyTheEndOfACallNobodyListensToIsQuiet() {
        assertTrue(DroppedFailures.isCancelledCallEnd(Status.UNAVAILABLE.withDescription("Channel shutdownNow invoked")
                .asRuntimeException()), "the channel shut down under a cancelled stream");
        assertTrue(DroppedFailures.isCancelledCallEnd(Status.CANCELLED.asRuntimeException()), "the cancellation itself");
        assertFalse(DroppedFailures.isCancelledCallEnd(Status.INTERNAL.asRuntimeException()), "a server's bug is still an error");
        assertFalse(DroppedFailures.isCancelledCallEnd(Status.UNAVAILABLE.asException()), "only the runtime form Mutiny's stubs raise");
        assertFalse(DroppedFailures.isCancelledCallEnd(new IllegalStateException("a bug of ours")));
    }
}
