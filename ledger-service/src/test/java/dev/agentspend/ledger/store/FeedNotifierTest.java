package dev.agentspend.ledger.store;

import io.vertx.mutiny.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A feed reader notes the notifier's signals before it reads and waits with that count: a commit
 * signalled while the read ran must not leave the reader waiting for the next commit or the poll.
 */
class FeedNotifierTest {
    private static final Duration LONG = Duration.ofMinutes(5);
    private final FeedNotifier notifier = new FeedNotifier();

    FeedNotifierTest() {
        notifier.vertx = Vertx.vertx();
    }

    @AfterEach
    void close() {
        notifier.vertx.closeAndAwait();
    }

    @Test
    void aSignalDuringTheReadEndsTheWaitAtOnce() {
        long seen = notifier.signals();
        commit(); // a commit while the reader was reading
        assertTrue(waiting(seen, LONG).isDone(), "a commit came after the reader's count");
    }

    @Test
    void withoutASignalTheReaderWaitsForTheNext() throws Exception {
        long seen = notifier.signals();
        CompletableFuture<Void> wait = waiting(seen, LONG);
        assertFalse(wait.isDone());
        commit();
        wait.get(10, TimeUnit.SECONDS);
    }

    @Test
    void withoutAnySignalTheWaitEndsAfterItsTimeout() throws Exception {
        waiting(notifier.signals(), Duration.ofMillis(20)).get(10, TimeUnit.SECONDS);
    }

    private long position;

    private void commit() {
        notifier.committed(java.util.List.of(new FeedEntry(++position, com.google.protobuf.ByteString.EMPTY)));
    }

    @Test
    void aCommitWithoutEntriesWakesNobody() {
        long seen = notifier.signals();
        notifier.committed(java.util.List.of());
        assertFalse(waiting(seen, LONG).isDone());
    }

    @Test
    void aCommitAsTheWaitSetsItsTimerCancelsOnlyThatTimer() throws Exception {
        io.vertx.core.Vertx real = notifier.vertx.getDelegate();
        java.util.Set<Long> timersSet = java.util.concurrent.ConcurrentHashMap.newKeySet();
        java.util.List<Long> cancelledUnknown = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.atomic.AtomicBoolean interleave = new java.util.concurrent.atomic.AtomicBoolean(true);
        io.vertx.core.Vertx watched = (io.vertx.core.Vertx) java.lang.reflect.Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[]{io.vertx.core.Vertx.class}, (proxy, method, args) -> {
                    if (method.getName().equals("setTimer") && interleave.getAndSet(false)) {
                        // a commit on another event loop as the wait sets its timer; if the wait
                        // holds its lock meanwhile the commit waits for it: 300 ms are enough to see
                        Thread other = new Thread(this::commit);
                        other.start();
                        other.join(300);
                    }
                    if (method.getName().equals("cancelTimer") && !timersSet.contains((Long) args[0])) {
                        cancelledUnknown.add((Long) args[0]);
                    }
                    try {
                        Object result = method.invoke(real, args);
                        if (method.getName().equals("setTimer")) {
                            timersSet.add((Long) result);
                        }
                        return result;
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        notifier.vertx = new Vertx(watched);
        try {
            waiting(notifier.signals(), LONG).get(10, TimeUnit.SECONDS);
            assertTrue(cancelledUnknown.isEmpty(), "cancelled timers it never set: " + cancelledUnknown);
        } finally {
            notifier.vertx = new Vertx(real);
        }
    }

    private CompletableFuture<Void> waiting(long seen, Duration timeout) {
        return notifier.awaitAfter(seen, timeout).subscribe().asCompletionStage().toCompletableFuture();
    }
}
