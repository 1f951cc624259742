package dev.agentspend.analytics.grpc;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Flow;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Micro-batches a feed with back-pressure: at most {@code batchSize} items are requested ahead;
 * a batch is written when it is full, or {@code waitMillis} after its first item when the feed is
 * quiet; while a batch is being written nothing else is written, and new demand is only signalled
 * once the write has finished. So a slow database slows the feed down (gRPC flow control) instead of
 * buffering without bound, and a quiet feed is still applied within {@code waitMillis}.
 *
 * <p>The round ends (once, through {@code onEnd}) when the feed ends or fails, or a write fails;
 * items buffered but not written then are simply read again from the stored position. {@code onEnd}
 * is only called once no write is in flight, and {@link #idle()} tells when the write in flight (if
 * any) has finished: the caller must not close or reuse the connection before, since statements
 * issued after a rollback the close forced would run outside the batch's transaction.
 */
final class FeedBatcher<T> implements Flow.Subscriber<T> {
    private final int batchSize;
    private final long waitMillis;
    private final Function<List<T>, Uni<Void>> writer;
    private final Consumer<Throwable> onEnd;
    private final Vertx vertx;
    private Flow.Subscription subscription;
    private List<T> buffer = new ArrayList<>();
    private boolean writing;
    private boolean ended;
    private boolean cancelled;
    private long timer = -1;
    private boolean endPending;
    private Throwable endFailure;
    private java.util.concurrent.CompletableFuture<Void> idle = java.util.concurrent.CompletableFuture.completedFuture(null);

    FeedBatcher(int batchSize, long waitMillis, Vertx vertx, Function<List<T>, Uni<Void>> writer, Consumer<Throwable> onEnd) {
        this.batchSize = batchSize;
        this.waitMillis = waitMillis;
        this.vertx = vertx;
        this.writer = writer;
        this.onEnd = onEnd;
    }

    @Override
    public synchronized void onSubscribe(Flow.Subscription s) {
        subscription = s;
        if (cancelled) {
            s.cancel();
        } else {
            s.request(batchSize);
        }
    }

    @Override
    public synchronized void onNext(T item) {
        if (ended || cancelled) {
            return;
        }
        buffer.add(item);
        if (buffer.size() >= batchSize) {
            flush();
        } else if (timer < 0 && !writing) {
            timer = vertx.setTimer(waitMillis, id -> timerFired());
        }
    }

    @Override
    public void onError(Throwable failure) {
        end(failure);
    }

    @Override
    public void onComplete() {
        end(null);
    }

    /** Stops the round without calling {@code onEnd}: cancels the feed; a write in flight finishes (see {@link #idle()}). */
    synchronized void cancel() {
        cancelled = true;
        ended = true;
        endPending = false;
        cancelTimer();
        if (subscription != null) {
            subscription.cancel();
        }
    }

    /** Completes when no write is in flight. */
    synchronized java.util.concurrent.CompletionStage<Void> idle() {
        return idle;
    }

    private synchronized void timerFired() {
        timer = -1;
        flush();
    }

    private void flush() {
        cancelTimer();
        if (writing || buffer.isEmpty() || ended) {
            return;
        }
        writing = true;
        idle = new java.util.concurrent.CompletableFuture<>();
        List<T> batch = buffer;
        buffer = new ArrayList<>();
        Uni.createFrom().deferred(() -> writer.apply(batch)).subscribe().with(ok -> written(batch.size()), this::writeFailed);
    }

    private void writeFailed(Throwable failure) {
        java.util.concurrent.CompletableFuture<Void> done;
        boolean report;
        synchronized (this) {
            writing = false;
            done = idle;
            if (ended) {
                // the feed ended while this write ran (report now), or the round was cancelled (never report)
                report = endPending;
                endPending = false;
            } else {
                ended = true;
                cancelTimer();
                if (subscription != null) {
                    subscription.cancel();
                }
                report = true;
            }
        }
        if (report) {
            onEnd.accept(failure);
        }
        done.complete(null);
    }

    private void written(int count) {
        java.util.concurrent.CompletableFuture<Void> done;
        Throwable report = null;
        boolean reportEnd = false;
        synchronized (this) {
            writing = false;
            done = idle;
            if (ended) {
                reportEnd = endPending;
                report = endFailure;
                endPending = false;
            } else {
                resume(count);
            }
        }
        if (reportEnd) {
            onEnd.accept(report);
        }
        done.complete(null);
    }

    private void resume(int count) {
        subscription.request(count);
        if (buffer.size() >= batchSize) {
            flush();
        } else if (!buffer.isEmpty() && timer < 0) {
            timer = vertx.setTimer(waitMillis, id -> timerFired());
        }
    }

    private void end(Throwable failure) {
        synchronized (this) {
            if (ended) {
                return;
            }
            ended = true;
            cancelTimer();
            if (subscription != null) {
                subscription.cancel();
            }
            if (writing) {
                // reported when the write in flight has finished
                endPending = true;
                endFailure = failure;
                return;
            }
        }
        onEnd.accept(failure);
    }

    private void cancelTimer() {
        if (timer >= 0) {
            vertx.cancelTimer(timer);
            timer = -1;
        }
    }
}
