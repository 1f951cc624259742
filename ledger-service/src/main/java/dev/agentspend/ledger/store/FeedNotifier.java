package dev.agentspend.ledger.store;

import dev.agentspend.ledger.config.LedgerConfig;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Keeps the entries this replica commits in its {@link FeedTail} and wakes idle StreamEntries
 * subscribers as soon as it does; subscribers also poll (entries committed by other replicas), so
 * a missed wake-up costs at most one poll interval.
 */
@ApplicationScoped
public class FeedNotifier {
    private final List<Runnable> waiting = new ArrayList<>();
    /** Signals so far (guarded by {@code waiting}): a reader notes it before it reads. */
    private long signals;
    /** Keeps nothing until sized from the configuration (a test without CDI reads the database). */
    private FeedTail tail = new FeedTail(0);

    @Inject
    Vertx vertx;

    @Inject
    LedgerConfig config;

    @PostConstruct
    void sizeTail() {
        tail = new FeedTail(config.ledger().feedTailEntries());
    }

    /** Called after a transaction committed: its entries join the tail, then waiting readers wake. */
    public void committed(List<FeedEntry> entries) {
        if (entries.isEmpty()) {
            return;
        }
        tail.add(entries);
        signal();
    }

    /** The committed entries after {@code afterPosition} from memory, or empty: read the database (see {@link FeedTail#after}). */
    List<FeedEntry> fromTail(long afterPosition, int max) {
        return tail.after(afterPosition, max);
    }

    private void signal() {
        List<Runnable> wake;
        synchronized (waiting) {
            signals++;
            if (waiting.isEmpty()) {
                return;
            }
            wake = new ArrayList<>(waiting);
            waiting.clear();
        }
        wake.forEach(Runnable::run);
    }

    /** The signals so far: note it before a read, and pass it to {@link #awaitAfter} once caught up. */
    public long signals() {
        synchronized (waiting) {
            return signals;
        }
    }

    /**
     * Completes at once if a signal came after {@code seen} (a commit the reader's read may have
     * missed), else on the next signal or after {@code timeout}, whichever comes first.
     */
    public Uni<Void> awaitAfter(long seen, Duration timeout) {
        return Uni.createFrom().emitter(emitter -> {
            AtomicBoolean done = new AtomicBoolean();
            long[] timer = new long[1];
            Runnable wake = () -> {
                if (done.compareAndSet(false, true)) {
                    vertx.cancelTimer(timer[0]);
                    emitter.complete(null);
                }
            };
            synchronized (waiting) {
                if (signals != seen) {
                    emitter.complete(null);
                    return;
                }
                waiting.add(wake);
                // Set while the lock is held, so no signal can run wake before timer[0] is this
                // timer's id: Vert.x numbers timers from 0, and cancelling the unset id would stop
                // whichever timer got 0, a periodic one for good.
                timer[0] = vertx.setTimer(Math.max(1, timeout.toMillis()), id -> {
                    synchronized (waiting) {
                        waiting.remove(wake);
                    }
                    if (done.compareAndSet(false, true)) {
                        emitter.complete(null);
                    }
                });
            }
            emitter.onTermination(() -> {
                synchronized (waiting) {
                    waiting.remove(wake);
                }
                vertx.cancelTimer(timer[0]);
            });
        });
    }
}
