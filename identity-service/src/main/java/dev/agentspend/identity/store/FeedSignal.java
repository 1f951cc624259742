package dev.agentspend.identity.store;

import jakarta.enterprise.context.ApplicationScoped;

import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;

/**
 * Wakes this replica's watchers right after a local commit, so that they do not wait for their
 * next poll. Changes committed by other replicas are still found by polling.
 */
@ApplicationScoped
public class FeedSignal {
    private final Set<Runnable> listeners = new CopyOnWriteArraySet<>();

    public void subscribe(Runnable listener) {
        listeners.add(listener);
    }

    public void unsubscribe(Runnable listener) {
        listeners.remove(listener);
    }

    public void committed() {
        for (Runnable listener : listeners) {
            listener.run();
        }
    }
}
