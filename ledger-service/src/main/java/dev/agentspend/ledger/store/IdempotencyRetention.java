package dev.agentspend.ledger.store;

import dev.agentspend.common.db.BatchedPurge;
import dev.agentspend.ledger.config.LedgerConfig;
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


/**
 * Keeps {@code ledger.idempotency} bounded: rows older than the retention are deleted, so a request_id
 * is remembered for the retention and the table holds that much of them, not every request ever made
 * (about 300 bytes and a random-key index entry per payment, for good). Entries are the ledger's record
 * and are never deleted; a stored response refers to its entry, so forgetting a request_id loses
 * nothing but the replay.
 *
 * <p>Each statement deletes at most a batch of the oldest rows (found by create_time, V12) in a
 * transaction of its own, and a purge goes on while statements come back full, up to a bound
 * ({@link BatchedPurge}). Every replica purges; SKIP LOCKED makes replicas that meet take different
 * rows instead of waiting for each other.
 */
@ApplicationScoped
public class IdempotencyRetention {
    private static final Logger LOG = Logger.getLogger(IdempotencyRetention.class);

    /** Rows older than the retention (create_time is the inserting transaction's now()), oldest first. */
    static final String PURGE = """
            DELETE FROM ledger.idempotency WHERE ctid = ANY (ARRAY(
              SELECT ctid FROM ledger.idempotency
              WHERE create_time < now() - make_interval(secs => $1)
              ORDER BY create_time LIMIT $2
              FOR UPDATE SKIP LOCKED))""";

    @Inject
    Pool pool;
    @Inject
    Vertx vertx;
    @Inject
    LedgerConfig config;
    @Inject
    MeterRegistry registry;

    private Counter purged;
    private Counter stoppedAtBound;
    private Counter failed;
    private BatchedPurge.Limits limits;
    private BatchedPurge.Schedule schedule;

    void onStart(@Observes StartupEvent event) {
        LedgerConfig.Ledger c = config.ledger();
        // out-of-range settings stop the start here, not the first purge a minute later
        limits = new BatchedPurge.Limits(c.idempotencyPurgeBatchRows(), c.idempotencyPurgeMaxBatches());
        purged = Counter.builder("agentspend.ledger.idempotency.purged")
                .description("Idempotency rows deleted because they were older than the retention")
                .baseUnit("rows").register(registry);
        stoppedAtBound = Counter.builder("agentspend.ledger.idempotency.purge.stopped")
                .description("Idempotency purges that stopped at idempotency-purge-max-batches with old rows possibly left")
                .register(registry);
        failed = Counter.builder("agentspend.ledger.idempotency.purge.failed")
                .description("Idempotency purges that failed (retried the next interval)")
                .register(registry);
        schedule = BatchedPurge.Schedule.every(vertx.getDelegate(), c.idempotencyPurgeInterval(), this::purge, this::failed);
    }

    void onStop(@Observes ShutdownEvent event) {
        if (schedule != null) {
            schedule.cancel();
        }
    }

    private void failed(Throwable failure) {
        failed.increment();
        LOG.warnf("idempotency purge failed (retried next interval): %s", failure.getMessage());
    }

    /** Deletes the rows older than the retention, a batch per statement; returns how many. */
    public Uni<Long> purge() {
        double retentionSeconds = config.ledger().idempotencyRetention().toMillis() / 1000.0;
        return BatchedPurge.run(rows -> pool.preparedQuery(PURGE).execute(Tuple.of(retentionSeconds, rows))
                                .map(SqlResult::rowCount),
                        limits, purged::increment, this::stoppedAtBound)
                .map(BatchedPurge.Outcome::rows);
    }

    private void stoppedAtBound(BatchedPurge.Outcome o) {
        stoppedAtBound.increment();
        LOG.warn(o.stoppedMessage("idempotency rows"));
    }
}
