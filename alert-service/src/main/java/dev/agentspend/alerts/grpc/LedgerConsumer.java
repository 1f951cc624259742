package dev.agentspend.alerts.grpc;

import dev.agentspend.alerts.config.AlertsConfig;
import dev.agentspend.alerts.config.AuthConfig;
import dev.agentspend.alerts.domain.AgentChanges;
import dev.agentspend.alerts.domain.AlertChange;
import dev.agentspend.alerts.domain.BatchLinger;
import dev.agentspend.alerts.domain.ConsumerTurn;
import dev.agentspend.alerts.domain.Evaluator;
import dev.agentspend.alerts.domain.GraphChanges;
import dev.agentspend.alerts.domain.LedgerEvent;
import dev.agentspend.alerts.domain.RuleConfigSet;
import dev.agentspend.alerts.store.ConsumerStore;
import dev.agentspend.alerts.store.FeedSignal;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.MutinyLedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.StreamEntriesRequest;
import dev.agentspend.proto.ledger.v1.StreamEntriesResponse;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.grpc.GrpcClient;
import io.quarkus.grpc.GrpcClientUtils;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.MultiSubscriber;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.pgclient.PgConnection;
import io.vertx.pgclient.PgConnectOptions;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import io.vertx.mutiny.sqlclient.SqlConnection;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Evaluates the rules over the ledger's entry feed as it is written.
 *
 * <p>Under load a batch starts at most every {@code batch-linger} (see {@link BatchLinger}), so that
 * each agent's state is written once for all its entries of that time rather than once per ledger
 * commit; after a quiet spell the first entry is evaluated at once.
 *
 * <p>Exactly once: the consumer holds a PostgreSQL session advisory lock on one dedicated
 * connection and runs every batch transaction on that same connection. A batch (up to
 * {@code batch-size} entries that have arrived) is evaluated in memory and committed together with
 * the new feed position (compare-and-set on the old one), the changed rule state, the alerts, their
 * events and the outboxes. A restart reloads the committed state and asks the ledger for the entries
 * after the committed position: an entry is either fully applied or not at all, so no alert is
 * duplicated and none is missed. Any failure (ledger feed lost, database error, lost lock) makes
 * the consumer step down, drop its in-memory state, and start again from the database.
 *
 * <p>Replicas: only the replica holding the lock evaluates; the others retry every
 * {@code leader-retry} and take over when the holder's connection ends (crash, stop). Every replica
 * serves reads, WatchAlerts and webhook and suspension deliveries.
 */
@ApplicationScoped
public class LedgerConsumer {
    private static final Logger LOG = Logger.getLogger(LedgerConsumer.class);

    @Inject
    @GrpcClient("ledger")
    MutinyLedgerServiceGrpc.MutinyLedgerServiceStub ledger;
    @Inject
    PolicyWatcher policies;
    @Inject
    AuthConfig auth;
    @Inject
    AlertsConfig config;
    @Inject
    Vertx vertx;
    @Inject
    FeedSignal signal;
    @Inject
    MeterRegistry meters;
    @ConfigProperty(name = "quarkus.datasource.reactive.url")
    String databaseUrl;
    @ConfigProperty(name = "quarkus.datasource.username")
    Optional<String> databaseUser;
    @ConfigProperty(name = "quarkus.datasource.password")
    Optional<String> databasePassword;

    private Evaluator evaluator;
    private final ConcurrentLinkedQueue<Entry> queue = new ConcurrentLinkedQueue<>();
    /** The queue's length: ConcurrentLinkedQueue.size() walks the queue. */
    private final AtomicInteger waiting = new AtomicInteger();
    private final AtomicBoolean lingerTimerSet = new AtomicBoolean();
    private static final long NO_BATCH_YET = Long.MIN_VALUE;
    private volatile long lastBatchStartNanos = NO_BATCH_YET;
    private BatchLinger linger;
    private final AtomicBoolean busy = new AtomicBoolean();
    private final AtomicBoolean starting = new AtomicBoolean();
    private final AtomicLong committedPosition = new AtomicLong();
    private volatile SqlConnection lockConnection;
    /** A connection given up while a batch was using it: closed once the batch has finished. */
    private SqlConnection retiring;
    private volatile Flow.Subscription feed;
    private volatile boolean leader;
    private volatile boolean stopped;
    private volatile boolean paused;
    private volatile boolean sweepDue;
    private volatile int generation;
    private long leaderTimer;
    private long sweepTimer;
    private Timer detectionLatency;

    void onStart(@Observes StartupEvent event) {
        evaluator = new Evaluator(config.bucketSeconds());
        linger = new BatchLinger(config.batchLinger().toMillis(), config.batchSize());
        detectionLatency = Timer.builder("agentspend.alerts.detection.latency")
                .description("From an entry's recorded time to the alert it fired being evaluated")
                // a histogram, not quantiles computed here: Prometheus can then give any quantile over
                // any window and over every replica, where client-side quantiles decay and cannot be summed
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(10))
                .register(meters);
        meters.gauge("agentspend.alerts.feed.position", committedPosition);
        leaderTimer = vertx.setPeriodic(config.leaderRetry().toMillis(), id -> tryLead());
        sweepTimer = vertx.setPeriodic(config.sweepInterval().toMillis(), id -> {
            sweepDue = true;
            drain();
        });
    }

    void onStop(@Observes ShutdownEvent event) {
        stopped = true;
        vertx.cancelTimer(leaderTimer);
        vertx.cancelTimer(sweepTimer);
        stepDown("shutting down", null);
    }

    /** Whether this replica is the one evaluating. */
    public boolean leader() {
        return leader;
    }

    /** The last feed position committed by this replica's consumer. */
    public long committedPosition() {
        return committedPosition.get();
    }

    /**
     * Stops evaluating and releases the lock as a crash would: in-memory state is dropped. Used by
     * operators (and tests) to hand over to another replica; {@link #resume} takes part again.
     */
    public synchronized void pause() {
        paused = true;
        stepDown("paused", null);
    }

    public synchronized void resume() {
        paused = false;
        tryLead();
    }

    private void tryLead() {
        if (stopped || paused || leader || !policies.ready() || !starting.compareAndSet(false, true)) {
            return;
        }
        // A dedicated connection, not one of the pool: the advisory lock lives exactly as long as
        // this session, and closing it on step-down really releases the lock.
        PgConnection.connect(vertx, connectOptions())
                .chain(db -> ConsumerStore.tryLock(db).chain(locked -> {
                    if (!locked) {
                        return db.close().replaceWith(false);
                    }
                    return ConsumerStore.load(db, config.stateFormat()).map(loaded -> {
                        begin(db, loaded);
                        return true;
                    }).onFailure().call(() -> db.close());
                }))
                .subscribe().with(ok -> starting.set(false), failure -> {
                    starting.set(false);
                    LOG.warnf("could not start evaluating: %s", failure.getMessage());
                });
    }

    private PgConnectOptions connectOptions() {
        String url = databaseUrl.startsWith("vertx-reactive:") ? databaseUrl.substring("vertx-reactive:".length()) : databaseUrl;
        return ConsumerStore.connectOptions(url, databaseUser, databasePassword.orElse(""));
    }

    private synchronized void begin(SqlConnection db, ConsumerStore.Loaded loaded) {
        if (stopped || paused) {
            db.closeAndForget();
            return;
        }
        int gen = ++generation;
        lockConnection = db;
        evaluator.restore(loaded.states(), loaded.graph(), loaded.openAlerts(), loaded.swept());
        committedPosition.set(loaded.position());
        clearQueue();
        leader = true;
        LOG.infof("evaluating the ledger feed after position %d (%d agents, %d open alerts)", loaded.position(),
                loaded.states().size(), loaded.openAlerts().size());
        var stub = GrpcClientUtils.attachHeaders(ledger, ServiceCredentials.headers(auth));
        // many entries per response: one frame, flush and wake-up per page instead of per entry (at
        // least 2: 0 or 1 asks for the one-entry form, which these consumers do not read);
        // flattened here so that demand (and so the queue) stays counted in entries
        stub.streamEntries(StreamEntriesRequest.newBuilder().setAfterPosition(loaded.position())
                        .setMaxEntriesPerResponse(Math.max(2, config.batchSize())).build())
                .onItem().transformToIterable(StreamEntriesResponse::getEntriesList)
                .subscribe().withSubscriber(new MultiSubscriber<Entry>() {
                    @Override
                    public void onSubscribe(Flow.Subscription s) {
                        if (gen != generation) {
                            s.cancel();
                            return;
                        }
                        feed = s;
                        s.request(2L * config.batchSize());
                    }

                    @Override
                    public void onItem(Entry item) {
                        if (gen == generation) {
                            queue.add(item);
                            waiting.incrementAndGet();
                            drain();
                        }
                    }

                    @Override
                    public void onFailure(Throwable failure) {
                        if (gen == generation) {
                            stepDown("ledger feed lost: " + failure.getMessage(), null);
                        }
                    }

                    @Override
                    public void onCompletion() {
                        if (gen == generation) {
                            stepDown("ledger feed ended", null);
                        }
                    }
                });
    }

    private synchronized void stepDown(String why, Throwable failure) {
        if (!leader && lockConnection == null) {
            return;
        }
        generation++;
        leader = false;
        Flow.Subscription s = feed;
        feed = null;
        if (s != null) {
            s.cancel();
        }
        clearQueue();
        SqlConnection db = lockConnection;
        lockConnection = null;
        if (db != null) {
            // Closing the session releases the advisory lock for another replica (or our retry).
            // Never under a batch in flight: it finishes (commits or rolls back) first, so no
            // statement of it can run outside its transaction.
            retiring = db;
        }
        closeIfIdle();
        if (failure != null) {
            LOG.warnf(failure, "stopped evaluating (%s); restarting from the committed position", why);
        } else {
            LOG.infof("stopped evaluating (%s)", why);
        }
    }

    private synchronized void closeIfIdle() {
        if (retiring != null && !busy.get()) {
            retiring.closeAndForget();
            retiring = null;
        }
    }

    private void release() {
        busy.set(false);
        closeIfIdle();
    }

    private void drain() {
        if (!leader || !busy.compareAndSet(false, true)) {
            return;
        }
        int gen = generation;
        SqlConnection db = lockConnection;
        long now = System.nanoTime();
        int queued = waiting.get();
        long waitMs = queued == 0 ? 0 : linger.waitMs(sinceLastBatchMs(now), queued);
        if (waitMs > 0) {
            release();
            // after release: a timer that fired while this call held the consumer found it busy
            drainIn(waitMs);
            return;
        }
        List<Entry> batch = new ArrayList<>();
        Entry e;
        while (batch.size() < config.batchSize() && (e = queue.poll()) != null) {
            waiting.decrementAndGet();
            batch.add(e);
        }
        if (!batch.isEmpty()) {
            lastBatchStartNanos = now;
        }
        ConsumerTurn turn = ConsumerTurn.of(batch.size(), sweepDue);
        boolean sweep = turn.sweeps();
        if (!turn.commits() || db == null) {
            release();
            if (!queue.isEmpty() && leader) {
                drain();
            }
            return;
        }
        if (sweep) {
            sweepDue = false;
        }
        transaction(db, gen, batch, sweep).subscribe().with(ok -> {
            release();
            Flow.Subscription s = feed;
            if (!batch.isEmpty() && s != null && gen == generation) {
                s.request(batch.size());
            }
            drain();
        }, failure -> {
            release();
            if (gen == generation) {
                stepDown("batch failed", failure);
            }
        });
    }

    private long sinceLastBatchMs(long nowNanos) {
        long last = lastBatchStartNanos;
        return last == NO_BATCH_YET ? Long.MAX_VALUE : (nowNanos - last) / 1_000_000;
    }

    private void drainIn(long delayMs) {
        if (lingerTimerSet.compareAndSet(false, true)) {
            vertx.setTimer(delayMs, id -> {
                lingerTimerSet.set(false);
                drain();
            });
        }
    }

    private void clearQueue() {
        queue.clear();
        waiting.set(0);
    }

    /** {@code sweep}: after the batch's entries, also resolve what time alone has ended (see Evaluator.sweep). */
    private Uni<Void> transaction(SqlConnection db, int gen, List<Entry> batch, boolean sweep) {
        long expected = committedPosition.get();
        // the watchers and outbox workers woken after the commit query the pool: only for new events
        AtomicBoolean appendedEvents = new AtomicBoolean();
        return db.begin().chain(tx -> ConsumerStore.configs(db)
                .chain(configs -> {
                    if (gen != generation) {
                        throw new IllegalStateException("consumer restarted during the batch");
                    }
                    Instant now = Instant.now();
                    List<AlertChange> changes = new ArrayList<>();
                    long position = expected;
                    for (Entry entry : batch) {
                        if (entry.getPosition() <= position) {
                            continue; // already applied (a replay after reconnecting)
                        }
                        changes.addAll(evaluator.onEvent(toEvent(entry), policies::policy, configs, now));
                        position = entry.getPosition();
                    }
                    if (sweep) {
                        changes.addAll(evaluator.sweep(now, policies::policy, configs));
                    }
                    List<AgentChanges> dirty = evaluator.takeDirtyAgents();
                    GraphChanges graph = evaluator.takeGraphChanges();
                    if (position == expected && changes.isEmpty() && dirty.isEmpty() && graph.isEmpty()) {
                        return Uni.createFrom().item(position);
                    }
                    long newPosition = position;
                    appendedEvents.set(ConsumerStore.appendsEvents(changes));
                    return ConsumerStore.commitBatch(db, expected, newPosition, dirty, graph, changes, now, config.stateFormat())
                            .replaceWith(newPosition)
                            .invoke(() -> record(changes));
                })
                .call(newPosition -> tx.commit())
                .onFailure().call(() -> tx.rollback().onFailure().recoverWithNull())
                .invoke(newPosition -> {
                    committedPosition.set(newPosition);
                    if (appendedEvents.get()) {
                        signal.committed();
                    }
                })
                .replaceWithVoid());
    }

    private void record(List<AlertChange> changes) {
        for (AlertChange c : changes) {
            if (c instanceof AlertChange.Fired f) {
                meters.counter("agentspend.alerts.fired", "rule", f.alert().rule().name()).increment();
                Instant trigger = f.alert().evidence().triggerRecordTime();
                if (trigger != null) {
                    Duration latency = Duration.between(trigger, f.alert().firstSeen());
                    detectionLatency.record(latency.isNegative() ? Duration.ZERO : latency);
                    LOG.infof("alert %s fired: %s for %s, %d ms after the triggering entry was recorded",
                            f.alert().alertId(), f.alert().rule(), f.alert().agentIds(), latency.toMillis());
                }
            } else if (c instanceof AlertChange.Resolved r) {
                LOG.infof("alert %s resolved: %s for %s", r.alert().alertId(), r.alert().rule(), r.alert().agentIds());
            }
        }
    }

    static LedgerEvent toEvent(Entry e) {
        LedgerEvent.Kind kind = switch (e.getEventType()) {
            case EVENT_TYPE_PAYMENT_APPROVED, EVENT_TYPE_HOLD_CAPTURED, EVENT_TYPE_AGENT_PAYMENT_APPROVED -> LedgerEvent.Kind.SPEND;
            case EVENT_TYPE_PAYMENT_DECLINED, EVENT_TYPE_HOLD_DECLINED, EVENT_TYPE_CAPTURE_DECLINED,
                 EVENT_TYPE_AGENT_PAYMENT_DECLINED -> LedgerEvent.Kind.DECLINE;
            case EVENT_TYPE_TASK_COMPLETED -> LedgerEvent.Kind.TASK_COMPLETED;
            case EVENT_TYPE_REVERSAL -> e.getSpendMicros() < 0 ? LedgerEvent.Kind.REVERSAL : LedgerEvent.Kind.OTHER;
            default -> LedgerEvent.Kind.OTHER;
        };
        String reason = e.getDeclineReason().name().startsWith("DECLINE_REASON_")
                ? e.getDeclineReason().name().substring("DECLINE_REASON_".length()) : e.getDeclineReason().name();
        return new LedgerEvent(e.getPosition(), e.getEntryId(), kind, e.getAgentId(), e.getTeamId(),
                kind == LedgerEvent.Kind.SPEND && e.getSpendMicros() == 0 ? e.getAmountMicros() : e.getSpendMicros(),
                e.getAmountMicros(), e.getCurrencyCode(), e.getTool(), e.getTaskId(), e.getAttempt(),
                e.getEventType() == dev.agentspend.proto.ledger.v1.EventType.EVENT_TYPE_AGENT_PAYMENT_APPROVED
                        ? e.getCounterpartyAgentId() : "",
                reason,
                e.hasOccurredTime() ? Instant.ofEpochSecond(e.getOccurredTime().getSeconds(), e.getOccurredTime().getNanos()) : null,
                Instant.ofEpochSecond(e.getRecordedTime().getSeconds(), e.getRecordedTime().getNanos()));
    }
}
