package dev.agentspend.identity.store;

import dev.agentspend.common.db.BatchedPurge;
import dev.agentspend.identity.config.IdempotencyConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlResult;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.time.OffsetDateTime;

/**
 * Keeps {@code identity.idempotency_records} bounded: records older than the retention are deleted
 * periodically, oldest first through the index on create_time (V3), at most a batch per statement,
 * each statement a short transaction of its own ({@link BatchedPurge}), so a backlog (a purge that
 * could not run for a while) never becomes one long delete. Every replica purges; SKIP LOCKED makes
 * replicas that meet take different records instead of waiting for each other.
 */
@ApplicationScoped
public class IdempotencyRetention {
    private static final Logger LOG = Logger.getLogger(IdempotencyRetention.class);

    static final String PURGE = """
            DELETE FROM identity.idempotency_records WHERE ctid = ANY (ARRAY(
              SELECT ctid FROM identity.idempotency_records
              WHERE create_time < $1
              ORDER BY create_time LIMIT $2
              FOR UPDATE SKIP LOCKED))""";

    @Inject
    Pool pool;
    @Inject
    Vertx vertx;
    @Inject
    IdempotencyConfig config;
    @Inject
    MeterRegistry registry;

    private BatchedPurge.Limits limits;
    private Counter purged;
    private Counter stoppedAtBound;
    private Counter failed;
    private BatchedPurge.Schedule schedule;

    void onStart(@Observes StartupEvent event) {
        // out-of-range settings stop the start here, not the first purge an hour later
        limits = new BatchedPurge.Limits(config.purgeBatchRows(), config.purgeMaxBatches());
        purged = Counter.builder("agentspend.identity.idempotency.purged")
                .description("Idempotency records deleted because they were older than the retention")
                .baseUnit("rows").register(registry);
        stoppedAtBound = Counter.builder("agentspend.identity.idempotency.purge.stopped")
                .description("Idempotency purges that stopped at purge-max-batches with old records possibly left")
                .register(registry);
        failed = Counter.builder("agentspend.identity.idempotency.purge.failed")
                .description("Idempotency purges that failed (retried the next period)")
                .register(registry);
        schedule = BatchedPurge.Schedule.every(vertx.getDelegate(), Duration.ofMillis(config.purgeIntervalMs()),
                this::purge, this::failed);
    }

    void onStop(@Observes ShutdownEvent event) {
        if (schedule != null) {
            schedule.cancel();
        }
    }

    private void failed(Throwable failure) {
        failed.increment();
        LOG.warnf("idempotency purge failed (retried next period): %s", failure.getMessage());
    }

    /** Deletes the records older than the retention, a batch per statement; returns how many. */
    public Uni<Long> purge() {
        // one cutoff for the whole run: records that age meanwhile wait for the next one
        OffsetDateTime cutoff = Times.toDb(Times.now().minus(Duration.ofHours(config.retentionHours())));
        return BatchedPurge.run(rows -> pool.preparedQuery(PURGE).execute(Tuple.of(cutoff, rows)).map(SqlResult::rowCount),
                        limits, purged::increment, this::stoppedAtBound)
                .map(BatchedPurge.Outcome::rows);
    }

    private void stoppedAtBound(BatchedPurge.Outcome o) {
        stoppedAtBound.increment();
        LOG.warn(o.stoppedMessage("idempotency records"));
    }
}
