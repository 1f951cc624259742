package dev.agentspend.common.grpc;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.helpers.test.AssertSubscriber;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StreamDrainTest {
    private final StreamDrain drain = new StreamDrain();

    @Test
    void aStreamPassesThroughUnchangedAndIsForgottenWhenItEnds() {
        AssertSubscriber<Integer> s = drain.drainable(Multi.createFrom().items(1, 2, 3))
                .subscribe().withSubscriber(AssertSubscriber.create(10));
        s.assertCompleted().assertItems(1, 2, 3);
        assertEquals(0, drain.openStreams());
    }

    @Test
    void theStreamsDemandIsKept() {
        AtomicLong requested = new AtomicLong();
        Multi<Long> endless = Multi.createFrom().ticks().every(java.time.Duration.ofMillis(1))
                .onRequest().invoke(requested::addAndGet);
        AssertSubscriber<Long> s = drain.drainable(endless).subscribe().withSubscriber(AssertSubscriber.create(0));
        s.request(2);
        s.awaitItems(2);
        assertTrue(requested.get() <= 3, "the stream is asked for what the subscriber asked, and one more at most: " + requested.get());
        s.cancel();
        assertEquals(0, drain.openStreams());
    }

    @Test
    void aFailureOfTheStreamPassesThrough() {
        AssertSubscriber<Object> s = drain.drainable(Multi.createFrom().failure(new IllegalStateException("boom")))
                .subscribe().withSubscriber(AssertSubscriber.create(1));
        s.assertFailedWith(IllegalStateException.class, "boom");
        assertEquals(0, drain.openStreams());
    }

    @Test
    void stoppingEndsOpenStreamsWithUnavailableCancelsThemAndRefusesNewOnes() {
        AtomicBoolean cancelled = new AtomicBoolean();
        Multi<Integer> never = Multi.createFrom().<Integer>nothing().onCancellation().invoke(() -> cancelled.set(true));
        AssertSubscriber<Integer> open = drain.drainable(never).subscribe().withSubscriber(AssertSubscriber.create(5));
        AssertSubscriber<Integer> other = drain.drainable(Multi.createFrom().<Integer>nothing())
                .subscribe().withSubscriber(AssertSubscriber.create(5));
        assertEquals(2, drain.openStreams());

        drain.drain();

        for (AssertSubscriber<Integer> s : List.of(open, other)) {
            s.assertFailedWith(StatusRuntimeException.class, "shutting down");
            assertEquals(Status.Code.UNAVAILABLE, ((StatusRuntimeException) s.getFailure()).getStatus().getCode(),
                    "UNAVAILABLE: clients retry it");
        }
        assertTrue(cancelled.get(), "the stream behind is cancelled, not left running");
        assertEquals(0, drain.openStreams());
        AssertSubscriber<Integer> late = drain.drainable(Multi.createFrom().items(1))
                .subscribe().withSubscriber(AssertSubscriber.create(5));
        assertInstanceOf(StatusRuntimeException.class, late.getFailure(), "a stream asked for while stopping is refused");
        drain.drain();
    }
}
