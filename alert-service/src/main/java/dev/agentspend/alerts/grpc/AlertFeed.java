package dev.agentspend.alerts.grpc;

import dev.agentspend.alerts.config.AlertsConfig;
import dev.agentspend.alerts.store.AlertStore;
import dev.agentspend.alerts.store.FeedSignal;
import dev.agentspend.proto.alerts.v1.AlertEvent;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.subscription.MultiEmitter;
import io.vertx.mutiny.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * WatchAlerts: replays the stored events after the subscriber's last event id, then tails new
 * ones, woken by this replica's commits and polling for other replicas'. Event ids commit in
 * order (see AlertEvents), so reading by id never skips an event; a subscriber that reconnects
 * with the last id it saw misses nothing and sees nothing twice.
 */
@ApplicationScoped
public class AlertFeed {
    private static final Logger LOG = Logger.getLogger(AlertFeed.class);
    private static final int PAGE = 500;

    @Inject
    AlertStore store;
    @Inject
    FeedSignal signal;
    @Inject
    AlertsConfig config;
    @Inject
    Vertx vertx;

    public Multi<AlertEvent> watch(long afterEventId, AlertStore.Filter filter) {
        return Multi.createFrom().emitter(emitter -> new Watcher(emitter, afterEventId, filter).start());
    }

    private final class Watcher {
        private final MultiEmitter<? super AlertEvent> emitter;
        private final AlertStore.Filter filter;
        private final AtomicLong last;
        private final AtomicBoolean reading = new AtomicBoolean();
        private volatile boolean again;
        private long timer;
        private Runnable unlisten;

        Watcher(MultiEmitter<? super AlertEvent> emitter, long after, AlertStore.Filter filter) {
            this.emitter = emitter;
            this.filter = filter;
            this.last = new AtomicLong(after);
        }

        void start() {
            unlisten = signal.listen(this::read);
            timer = vertx.setPeriodic(config.watchPollInterval().toMillis(), id -> read());
            emitter.onTermination(() -> {
                vertx.cancelTimer(timer);
                unlisten.run();
            });
            read();
        }

        void read() {
            if (emitter.isCancelled()) {
                return;
            }
            if (!reading.compareAndSet(false, true)) {
                again = true;
                return;
            }
            again = false;
            // no more than the subscriber asked for: what it has not taken would pile up on the heap
            // (a slow client watching from event 0); the poll timer reads again once it asks
            long requested = emitter.requested();
            if (requested <= 0) {
                reading.set(false);
                return;
            }
            int limit = (int) Math.min(PAGE, requested);
            store.eventsAfter(last.get(), filter, limit).subscribe().with(page -> {
                List<AlertEvent> events = page.events();
                boolean cancelled = false;
                for (AlertEvent e : events) {
                    if (emitter.isCancelled()) {
                        cancelled = true;
                        break;
                    }
                    emitter.emit(e);
                    last.set(e.getEventId());
                }
                if (!cancelled && events.size() < limit && page.head() > last.get()) {
                    // every event up to the head was read: the ones that did not match need no second look
                    last.set(page.head());
                }
                reading.set(false);
                if (events.size() == limit || again) {
                    read();
                }
            }, failure -> {
                reading.set(false);
                LOG.warnf("WatchAlerts read failed (%s); ending the stream so the subscriber resumes", failure.getMessage());
                emitter.fail(failure);
            });
        }
    }
}
