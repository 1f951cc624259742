package dev.agentspend.analytics.grpc;

import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.UniEmitter;
import io.vertx.mutiny.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/** The feed's micro-batching keeps back-pressure: bounded demand, one write at a time, quiet feeds flushed. */
class FeedBatcherTest {
    private final Vertx vertx = Vertx.vertx();

    @AfterEach
    void close() {
        vertx.closeAndAwait();
    }

    private static final class Source implements Flow.Subscription {
        final AtomicLong requested = new AtomicLong();
        volatile boolean cancelled;

        @Override
        public void request(long n) {
            requested.addAndGet(n);
        }

        @Override
        public void cancel() {
            cancelled = true;
        }
    }

    @Test
    void fullBatchesAreWrittenOneAtATimeAndDemandFollowsTheWrites() {
        List<List<Integer>> written = new CopyOnWriteArrayList<>();
        AtomicReference<UniEmitter<? super Void>> pending = new AtomicReference<>();
        java.util.function.Consumer<UniEmitter<? super Void>> keep = pending::set;
        FeedBatcher<Integer> batcher = new FeedBatcher<>(3, 60_000, vertx, batch -> {
            written.add(batch);
            return Uni.createFrom().<Void>emitter(keep);
        }, failure -> fail("the round must not end"));
        Source source = new Source();
        batcher.onSubscribe(source);
        assertEquals(3, source.requested.get(), "demand is bounded by the batch size");
        for (int i = 1; i <= 3; i++) {
            batcher.onNext(i);
        }
        assertEquals(List.of(List.of(1, 2, 3)), written);
        assertEquals(3, source.requested.get(), "no new demand while the batch is being written");
        pending.get().complete(null);
        assertEquals(6, source.requested.get());
        for (int i = 4; i <= 6; i++) {
            batcher.onNext(i);
        }
        assertEquals(2, written.size());
        assertEquals(List.of(4, 5, 6), written.get(1));
    }

    @Test
    void theRoundEndsOnlyAfterTheWriteInFlightAndCancelWaitsForIt() {
        AtomicReference<UniEmitter<? super Void>> pending = new AtomicReference<>();
        java.util.function.Consumer<UniEmitter<? super Void>> keep = pending::set;
        AtomicReference<Throwable> ended = new AtomicReference<>();
        java.util.concurrent.atomic.AtomicInteger ends = new java.util.concurrent.atomic.AtomicInteger();
        FeedBatcher<Integer> batcher = new FeedBatcher<>(2, 60_000, vertx, batch -> Uni.createFrom().<Void>emitter(keep),
                failure -> {
                    ends.incrementAndGet();
                    ended.set(failure);
                });
        Source source = new Source();
        batcher.onSubscribe(source);
        batcher.onNext(1);
        batcher.onNext(2);
        batcher.onError(new IllegalStateException("feed lost"));
        assertEquals(0, ends.get(), "not while the write is in flight");
        assertFalse(batcher.idle().toCompletableFuture().isDone());
        pending.get().complete(null);
        assertEquals(1, ends.get());
        assertEquals("feed lost", ended.get().getMessage());
        assertTrue(batcher.idle().toCompletableFuture().isDone());

        FeedBatcher<Integer> cancelled = new FeedBatcher<>(1, 60_000, vertx, batch -> Uni.createFrom().<Void>emitter(keep),
                failure -> ends.incrementAndGet());
        cancelled.onSubscribe(new Source());
        cancelled.onNext(1);
        cancelled.cancel();
        var idle = cancelled.idle().toCompletableFuture();
        assertFalse(idle.isDone(), "a cancelled round's write in flight still finishes before the connection may close");
        pending.get().complete(null);
        assertTrue(idle.isDone());
        assertEquals(1, ends.get(), "a cancelled round never reports an end");
    }

    @Test
    void aQuietFeedIsFlushedAfterTheWaitAndAFailedWriteEndsTheRound() throws Exception {
        List<List<Integer>> written = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> ended = new AtomicReference<>();
        FeedBatcher<Integer> batcher = new FeedBatcher<>(100, 50, vertx, batch -> {
            written.add(new ArrayList<>(batch));
            return Uni.createFrom().failure(new IllegalStateException("database down"));
        }, ended::set);
        Source source = new Source();
        batcher.onSubscribe(source);
        batcher.onNext(1);
        batcher.onNext(2);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (ended.get() == null && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(List.of(List.of(1, 2)), written);
        assertEquals("database down", ended.get().getMessage());
        assertTrue(source.cancelled, "the feed is cancelled when the round ends");
        batcher.onNext(3);
        assertEquals(1, written.size(), "nothing is written after the end");
    }
}
