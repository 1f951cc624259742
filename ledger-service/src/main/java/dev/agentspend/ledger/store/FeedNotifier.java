package dev.agentspend.ledger.store;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Wakes idle StreamEntries subscribers as soon as this replica commits entries; subscribers also
 * poll (entries committed by other replicas), so a missed wake-up costs at most one poll interval.
 */
@ApplicationScoped
public class FeedNotifier {
    private final List<Runnable> waiting = new ArrayList<>();

    @Inject
    Vertx vertx;

    /** Called after a commit that wrote entries. */
    public void signal() {
        List<Runnable> wake;
        synchronized (waiting) {
            if (waiting.isEmpty()) {
                return;
            }
            wake = new ArrayList<>(waiting);
            waiting.clear();
        }
        wake.forEach(Runnable::run);
    }

    /** Completes on the next signal or after {@code timeout}, whichever comes first. */
    public Uni<Void> await(Duration timeout) {
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
                waiting.add(wake);
            }
            timer[0] = vertx.setTimer(Math.max(1, timeout.toMillis()), id -> {
                synchronized (waiting) {
                    waiting.remove(wake);
                }
                if (done.compareAndSet(false, true)) {
                    emitter.complete(null);
                }
            });
            emitter.onTermination(() -> {
                synchronized (waiting) {
                    waiting.remove(wake);
                }
                vertx.cancelTimer(timer[0]);
            });
        });
    }
}
