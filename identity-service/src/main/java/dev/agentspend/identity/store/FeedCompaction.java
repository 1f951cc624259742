package dev.agentspend.identity.store;

import dev.agentspend.identity.config.FeedConfig;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Duration;

/**
 * Keeps the policy feed bounded by roughly one row per agent and team plus the changes of the
 * retention period, which also bounds the cost of a snapshot. Runs under the write lock, so any
 * replica may run it at any time.
 */
@ApplicationScoped
public class FeedCompaction {
    private static final Logger LOG = Logger.getLogger(FeedCompaction.class);

    @Inject
    WriteTransactions writes;
    @Inject
    Vertx vertx;
    @Inject
    FeedConfig config;

    private volatile long timerId = -1;

    void onStart(@Observes StartupEvent event) {
        timerId = vertx.setPeriodic(config.compactionIntervalMs(), id -> compact().subscribe().with(
                deleted -> LOG.debugf("feed compaction deleted %d superseded changes", deleted),
                failure -> LOG.warnf("feed compaction failed (retried next period): %s", failure.getMessage())));
    }

    void onStop(@Observes ShutdownEvent event) {
        long id = timerId;
        if (id >= 0) {
            vertx.cancelTimer(id);
        }
    }

    /** Compacts changes older than the retention; returns how many were deleted. */
    public Uni<Integer> compact() {
        return writes.locked(tx -> PolicyChanges.compact(tx.db(), tx.now().minus(Duration.ofHours(config.retentionHours()))));
    }
}
