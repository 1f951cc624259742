package dev.agentspend.identity.store;

import dev.agentspend.identity.config.IdempotencyConfig;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Duration;

/**
 * Keeps {@code identity.idempotency_records} bounded: records older than the retention are
 * deleted periodically. Every replica may run it; the delete is the same on each.
 */
@ApplicationScoped
public class IdempotencyRetention {
    private static final Logger LOG = Logger.getLogger(IdempotencyRetention.class);

    @Inject
    Pool pool;
    @Inject
    Vertx vertx;
    @Inject
    IdempotencyConfig config;

    private volatile long timerId = -1;

    void onStart(@Observes StartupEvent event) {
        timerId = vertx.setPeriodic(config.purgeIntervalMs(), id -> purge().subscribe().with(
                purged -> LOG.debugf("purged %d idempotency records", purged),
                failure -> LOG.warnf("idempotency purge failed (retried next period): %s", failure.getMessage())));
    }

    void onStop(@Observes ShutdownEvent event) {
        long id = timerId;
        if (id >= 0) {
            vertx.cancelTimer(id);
        }
    }

    /** Deletes the records older than the retention; returns how many. */
    public Uni<Integer> purge() {
        return pool.preparedQuery("DELETE FROM identity.idempotency_records WHERE create_time < $1")
                .execute(Tuple.of(Times.toDb(Times.now().minus(Duration.ofHours(config.retentionHours())))))
                .map(rows -> rows.rowCount());
    }
}
