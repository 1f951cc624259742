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

    private CompletableFuture<Void> waiting(long seen, Duration timeout) {
        return notifier.awaitAfter(seen, timeout).subscribe().asCompletionStage().toCompletableFuture();
    }
}
