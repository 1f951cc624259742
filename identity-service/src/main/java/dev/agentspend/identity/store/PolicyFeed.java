package dev.agentspend.identity.store;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.identity.config.FeedConfig;
import dev.agentspend.proto.identity.v1.Heartbeat;
import dev.agentspend.proto.identity.v1.SnapshotComplete;
import dev.agentspend.proto.identity.v1.WatchPoliciesResponse;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.BackPressureStrategy;
import io.smallrye.mutiny.subscription.MultiEmitter;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Serves WatchPolicies: a snapshot (the latest payload of every subject as of the head version,
 * then SnapshotComplete), or a resumption after a given version, then the tail of
 * {@code identity.policy_changes} in version order. Versions equal commit order (see
 * {@link WriteTransactions}), so reading {@code version > cursor} never skips a late commit.
 *
 * <p>Nothing blocks: reads are reactive queries, waits are Vert.x timers, and a local commit wakes
 * the watcher at once. At most one read per watcher is in flight, and the watcher reads only
 * while its client has demand, so a slow client holds no more than one batch of changes (the
 * snapshot is sent at once; compaction bounds it by about one row per agent and team).
 */
@ApplicationScoped
public class PolicyFeed {
    private static final Logger LOG = Logger.getLogger(PolicyFeed.class);

    @Inject
    Pool pool;
    @Inject
    Vertx vertx;
    @Inject
    FeedSignal feedSignal;
    @Inject
    FeedConfig config;
    @Inject
    MeterRegistry meters;

    private final AtomicInteger activeWatchers = new AtomicInteger();

    @PostConstruct
    void registerGauge() {
        meters.gauge("identity.policy.watchers", activeWatchers);
    }

    public Multi<WatchPoliciesResponse> watch(long afterVersion) {
        return Multi.createFrom().emitter(emitter -> {
            if (activeWatchers.incrementAndGet() > config.maxWatchers()) {
                activeWatchers.decrementAndGet();
                emitter.fail(ApiException.of(ErrorCode.RESOURCE_EXHAUSTED, "TOO_MANY_WATCHERS",
                        "this replica serves " + config.maxWatchers() + " watchers already; retry later or elsewhere"));
                return;
            }
            new Watcher(emitter, afterVersion).start();
        }, BackPressureStrategy.BUFFER);
    }

    private final class Watcher {
        private final MultiEmitter<? super WatchPoliciesResponse> emitter;
        private final long afterVersion;
        private final AtomicBoolean reading = new AtomicBoolean();
        private final AtomicBoolean wokenWhileReading = new AtomicBoolean();
        private final AtomicBoolean stopped = new AtomicBoolean();
        private final Runnable onCommit = this::wake;
        private volatile long cursor;
        private volatile long lastEventNanos;
        private volatile long timerId = -1;

        Watcher(MultiEmitter<? super WatchPoliciesResponse> emitter, long afterVersion) {
            this.emitter = emitter;
            this.afterVersion = afterVersion;
        }

        void start() {
            LOG.debugf("watcher started after version %d", afterVersion);
            emitter.onTermination(this::stop);
            feedSignal.subscribe(onCommit);
            reading.set(true);
            PolicyChanges.bounds(pool)
                    .chain(bounds -> {
                        // beyond the head: the version comes from another database; below the horizon:
                        // changes after it may be compacted away. Either way only a snapshot is exact.
                        if (afterVersion > 0 && afterVersion <= bounds.head() && afterVersion >= bounds.horizon()) {
                            cursor = afterVersion;
                            return Uni.createFrom().voidItem();
                        }
                        return sendSnapshot(bounds.head());
                    })
                    .subscribe().with(done -> {
                        lastEventNanos = System.nanoTime();
                        reading.set(false);
                        schedule(0);
                    }, this::fail);
        }

        private Uni<Void> sendSnapshot(long head) {
            return PolicyChanges.snapshot(pool, head).invoke(events -> {
                int agents = 0;
                int teams = 0;
                for (WatchPoliciesResponse event : events) {
                    if (event.hasAgentPolicy()) {
                        agents++;
                    } else {
                        teams++;
                    }
                    emitter.emit(event);
                }
                emitter.emit(WatchPoliciesResponse.newBuilder().setVersion(head)
                        .setSnapshotComplete(SnapshotComplete.newBuilder().setAgentCount(agents).setTeamCount(teams))
                        .build());
                cursor = head;
            }).replaceWithVoid();
        }

        private void wake() {
            if (stopped.get()) {
                return;
            }
            long pending = timerId;
            if (pending >= 0) {
                vertx.cancelTimer(pending);
            }
            read();
        }

        private void read() {
            if (stopped.get()) {
                return;
            }
            if (!reading.compareAndSet(false, true)) {
                wokenWhileReading.set(true);
                return;
            }
            wokenWhileReading.set(false);
            if (emitter.requested() <= 0) {
                reading.set(false);
                schedule(config.pollIntervalMs());
                return;
            }
            int limit = (int) Math.min(config.batchSize(), emitter.requested());
            PolicyChanges.after(pool, cursor, limit).subscribe().with(batch -> {
                if (batch.horizon() > cursor) {
                    fail(ApiException.of(ErrorCode.ABORTED, "FEED_COMPACTED", "this watcher fell behind the feed's"
                            + " retention; reconnect (with after_version=" + cursor + ") to receive a fresh snapshot"));
                    return;
                }
                List<WatchPoliciesResponse> events = batch.events();
                deliver(events);
                reading.set(false);
                boolean more = events.size() == limit || wokenWhileReading.get();
                schedule(more ? 0 : config.pollIntervalMs());
            }, this::fail);
        }

        private void deliver(List<WatchPoliciesResponse> events) {
            long now = System.nanoTime();
            for (WatchPoliciesResponse event : events) {
                if (stopped.get()) {
                    return;
                }
                emitter.emit(event);
                cursor = event.getVersion();
            }
            if (!events.isEmpty()) {
                lastEventNanos = now;
            } else if (now - lastEventNanos >= TimeUnit.MILLISECONDS.toNanos(config.heartbeatIntervalMs())) {
                emitter.emit(WatchPoliciesResponse.newBuilder().setVersion(cursor)
                        .setHeartbeat(Heartbeat.newBuilder().setServerTime(Times.toProto(Instant.now()))).build());
                lastEventNanos = now;
            }
        }

        private void schedule(long delayMs) {
            if (stopped.get()) {
                return;
            }
            if (delayMs <= 0) {
                vertx.runOnContext(this::read);
            } else {
                timerId = vertx.setTimer(delayMs, id -> {
                    timerId = -1;
                    read();
                });
            }
        }

        private void fail(Throwable t) {
            reading.set(false);
            Throwable refusal = StoreErrors.translate(t);
            if (!(refusal instanceof ApiException)) {
                LOG.warnf(t, "policy feed read failed at version %d; the watcher must reconnect", cursor);
                refusal = ApiException.of(ErrorCode.UNAVAILABLE, "FEED_UNAVAILABLE",
                        "the policy feed could not be read; reconnect with after_version=" + cursor);
            }
            emitter.fail(refusal);
        }

        private void stop() {
            if (stopped.compareAndSet(false, true)) {
                feedSignal.unsubscribe(onCommit);
                long pending = timerId;
                if (pending >= 0) {
                    vertx.cancelTimer(pending);
                }
                activeWatchers.decrementAndGet();
                LOG.debugf("watcher stopped at version %d", cursor);
            }
        }
    }
}
