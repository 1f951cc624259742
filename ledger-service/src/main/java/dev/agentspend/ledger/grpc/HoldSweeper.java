package dev.agentspend.ledger.grpc;

import dev.agentspend.ledger.config.LedgerConfig;
import dev.agentspend.ledger.store.LedgerStore;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.mutiny.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Releases expired holds periodically, recording HOLD_EXPIRED entries, so that the feed reports
 * expiries even for agents that stop paying. (Authorizations also expire an agent's overdue holds
 * under its lock, so correctness never depends on this timer.) Safe with several replicas: each
 * agent is expired under its row lock.
 */
@ApplicationScoped
public class HoldSweeper {
    private static final Logger LOG = Logger.getLogger(HoldSweeper.class);

    @Inject
    LedgerStore store;

    @Inject
    LedgerConfig config;

    @Inject
    Vertx vertx;

    private final AtomicBoolean running = new AtomicBoolean();
    private volatile boolean enabled = true;
    private long timer = -1;

    void onStart(@Observes StartupEvent event) {
        timer = vertx.setPeriodic(config.ledger().holdSweepInterval().toMillis(), id -> sweep());
    }

    void onStop(@Observes ShutdownEvent event) {
        if (timer >= 0) {
            vertx.cancelTimer(timer);
        }
    }

    /**
     * Turns the periodic sweep on or off (an operator's switch, for example while investigating;
     * tests use it to prove that authorizations release overdue holds by themselves).
     */
    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    private void sweep() {
        if (!enabled || !running.compareAndSet(false, true)) {
            return;
        }
        store.sweepExpiredHolds().subscribe().with(
                n -> running.set(false),
                failure -> {
                    running.set(false);
                    LOG.warnf("hold sweep failed: %s", failure.getMessage());
                });
    }
}
