package dev.agentspend.alerts.store;

import jakarta.enterprise.context.ApplicationScoped;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Wakes this replica's WatchAlerts streams and outbox workers right after a commit that appended
 * events, so that delivery does not wait for the next poll. Other replicas' commits are found by
 * polling.
 */
@ApplicationScoped
public class FeedSignal {
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();

    public Runnable listen(Runnable listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    public void committed() {
        for (Runnable l : listeners) {
            l.run();
        }
    }
}
