package dev.agentspend.analytics.store;

import dev.agentspend.analytics.config.AnalyticsConfig;
import dev.agentspend.analytics.domain.Retention;
import dev.agentspend.common.db.BatchedPurge;
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

import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;

/**
 * Keeps the fine-grained aggregates bounded ({@link Retention}): tool and flow minute rows before
 * the minute horizon that are rolled up into their day rows, and tasks that completed (or were last
 * paid) before the task horizon. A minute row not rolled up yet is never deleted, whatever its age:
 * its sums are in no day row. The day rows are kept for good.
 *
 * <p>Each statement deletes at most a batch of the oldest rows in a transaction of its own, a table
 * at a time, going on while statements come back full up to a bound ({@link BatchedPurge}). Every
 * replica purges; SKIP LOCKED makes replicas that meet (or the consumer, adding a late entry to an
 * old minute) take different rows instead of waiting for each other.
 */
@ApplicationScoped
public class RetentionPurge {
    private static final Logger LOG = Logger.getLogger(RetentionPurge.class);

    /** One table's purge: its statement ($1 the horizon, $2 the rows at most) and its name in metrics. */
    record Target(String table, String sql, boolean byTaskHorizon) {
    }

    static final List<Target> TARGETS = List.of(
            minutes("agent_tool_minute"),
            minutes("agent_flow_minute"),
            // found through V5's index on the same expression
            new Target("task", """
                    DELETE FROM analytics.task WHERE ctid = ANY (ARRAY(
                      SELECT ctid FROM analytics.task
                      WHERE COALESCE(completed_time, last_payment_time) < $1
                      ORDER BY COALESCE(completed_time, last_payment_time) LIMIT $2
                      FOR UPDATE SKIP LOCKED))""", true));

    /** A minute table's rows before the horizon that are rolled up into their day rows, oldest first. */
    private static Target minutes(String table) {
        return new Target(table, """
                DELETE FROM analytics.%1$s WHERE ctid = ANY (ARRAY(
                  SELECT ctid FROM analytics.%1$s
                  WHERE minute < $1 AND rolled
                  ORDER BY minute LIMIT $2
                  FOR UPDATE SKIP LOCKED))""".formatted(table), false);
    }

    @Inject
    Pool pool;
    @Inject
    Vertx vertx;
    @Inject
    AnalyticsConfig config;
    @Inject
    Retention retention;
    @Inject
    Clock clock;
    @Inject
    MeterRegistry registry;

    private BatchedPurge.Limits limits;
    private Counter failed;
    private BatchedPurge.Schedule schedule;

    void onStart(@Observes StartupEvent event) {
        AnalyticsConfig.RetentionSettings s = config.retention();
        // out-of-range settings stop the start here, not the first purge an interval later
        limits = new BatchedPurge.Limits(s.purgeBatchRows(), s.purgeMaxBatches());
        for (Target t : TARGETS) {
            purged(t);
            stopped(t);
        }
        failed = Counter.builder("agentspend.analytics.retention.purge.failed")
                .description("Retention purges that failed (retried the next interval)")
                .register(registry);
        schedule = BatchedPurge.Schedule.every(vertx.getDelegate(), s.purgeInterval(), this::purge, this::failed);
    }

    void onStop(@Observes ShutdownEvent event) {
        if (schedule != null) {
            schedule.cancel();
        }
    }

    private void failed(Throwable failure) {
        failed.increment();
        LOG.warnf("retention purge failed (retried next interval): %s", failure.getMessage());
    }

    /** Deletes the rows past the retention, table by table, a batch per statement; returns how many. */
    public Uni<Long> purge() {
        Instant now = clock.instant();
        Uni<Long> total = Uni.createFrom().item(0L);
        for (Target t : TARGETS) {
            Instant horizon = t.byTaskHorizon() ? retention.taskHorizon(now) : retention.minuteHorizon(now);
            OffsetDateTime before = OffsetDateTime.ofInstant(horizon, ZoneOffset.UTC);
            Counter purged = purged(t);
            total = total.chain(sum -> BatchedPurge.run(
                            rows -> pool.preparedQuery(t.sql()).execute(Tuple.of(before, rows)).map(SqlResult::rowCount),
                            limits, purged::increment, o -> stoppedAtBound(t, o))
                    .map(o -> sum + o.rows()));
        }
        return total;
    }

    private void stoppedAtBound(Target t, BatchedPurge.Outcome o) {
        stopped(t).increment();
        LOG.warn(o.stoppedMessage(t.table() + " rows"));
    }

    private Counter purged(Target t) {
        return Counter.builder("agentspend.analytics.retention.purged")
                .description("Rows deleted because they were older than the retention, per table")
                .baseUnit("rows").tag("table", t.table()).register(registry);
    }

    private Counter stopped(Target t) {
        return Counter.builder("agentspend.analytics.retention.purge.stopped")
                .description("Purges of a table that stopped at retention.purge-max-batches with old rows possibly left")
                .tag("table", t.table()).register(registry);
    }
}
