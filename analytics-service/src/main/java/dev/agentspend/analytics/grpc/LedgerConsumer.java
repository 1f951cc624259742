package dev.agentspend.analytics.grpc;

import dev.agentspend.analytics.config.AnalyticsConfig;
import dev.agentspend.analytics.config.AuthConfig;
import dev.agentspend.analytics.domain.BatchDelta;
import dev.agentspend.analytics.domain.DayRollup;
import dev.agentspend.analytics.domain.EntryFacts;
import dev.agentspend.analytics.store.IngestionStore;
import dev.agentspend.common.auth.BearerTokens;
import dev.agentspend.proto.ledger.v1.MutinyLedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.StreamEntriesRequest;
import dev.agentspend.proto.ledger.v1.StreamEntriesResponse;
import io.grpc.Metadata;
import io.quarkus.grpc.GrpcClient;
import io.quarkus.grpc.GrpcClientUtils;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.sqlclient.SqlConnection;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Applies the ledger's entry feed to the aggregates, exactly once.
 *
 * <p>One consumer per database: it takes a connection of its own and a PostgreSQL session
 * advisory lock on it ({@code pg_try_advisory_lock}); a replica that does not get the lock stays a
 * standby and retries every {@code lock-retry}. The lock lives exactly as long as the connection,
 * so a crashed consumer's lock is released by the server when its connection drops.
 *
 * <p>It reads the stored position, asks the ledger for the entries after it, and applies them in
 * batches (up to {@code batch-size} entries or {@code batch-wait}) each in ONE transaction with the
 * new position (see {@link IngestionStore}), and rolls the minutes that have settled into the day
 * rows in the same transaction ({@link DayRollup}). A lost feed, a refused batch or a database error ends
 * the round: the connection is closed (rolling back anything uncommitted and releasing the lock)
 * and a new round starts from the stored position after a bounded exponential backoff.
 */
@ApplicationScoped
public class LedgerConsumer {
    private static final Logger LOG = Logger.getLogger(LedgerConsumer.class);

    @Inject
    @GrpcClient("ledger")
    MutinyLedgerServiceGrpc.MutinyLedgerServiceStub ledger;

    @Inject
    IngestionStore store;

    @Inject
    AnalyticsConfig config;

    @Inject
    AuthConfig auth;

    @Inject
    Vertx vertx;

    @Inject
    Clock clock;

    private final AtomicLong applied = new AtomicLong();
    private volatile boolean running;
    private volatile boolean active;
    private volatile int generation;
    private volatile long backoffMillis;
    private FeedBatcher<Entry> batcher;
    private SqlConnection connection;

    void onStart(@Observes StartupEvent event) {
        if (config.ingest().enabled()) {
            start();
        }
    }

    void onStop(@Observes ShutdownEvent event) {
        stop().await().atMost(java.time.Duration.ofSeconds(10));
    }

    /** Starts consuming (idempotent). */
    public synchronized void start() {
        if (running) {
            return;
        }
        running = true;
        backoffMillis = config.ingest().minBackoff().toMillis();
        round(++generation);
    }

    /**
     * Stops consuming at once, wherever the feed is: the batch in flight is rolled back with the
     * connection, the lock released. Completes when the connection is closed.
     */
    public Uni<Void> stop() {
        SqlConnection conn;
        FeedBatcher<Entry> b;
        synchronized (this) {
            running = false;
            generation++;
            active = false;
            b = batcher;
            batcher = null;
            if (b != null) {
                b.cancel();
            }
            conn = connection;
            connection = null;
        }
        // never close under a write in flight: statements issued after the rollback a close forces
        // would run outside the batch's transaction
        Uni<Void> idle = b == null ? Uni.createFrom().voidItem()
                : Uni.createFrom().completionStage(b.idle()).replaceWithVoid()
                        .ifNoItem().after(java.time.Duration.ofSeconds(30)).recoverWithItem((Void) null);
        return idle.chain(() -> conn == null ? Uni.createFrom().voidItem() : conn.close().onFailure().recoverWithNull());
    }

    /** True when this replica holds the consumer lock and applies the feed. */
    public boolean active() {
        return active;
    }

    /** The last position this replica committed (0 before its first batch). */
    public long appliedPosition() {
        return applied.get();
    }

    private void round(int gen) {
        store.connect().subscribe().with(conn -> onConnected(gen, conn), failure -> retry(gen, failure, null));
    }

    private void onConnected(int gen, SqlConnection conn) {
        synchronized (this) {
            if (gen != generation) {
                conn.closeAndForget();
                return;
            }
            connection = conn;
        }
        store.tryLock(conn).subscribe().with(locked -> {
            if (!locked) {
                LOG.debugf("another replica consumes the ledger feed; standing by");
                release(gen, conn);
                vertx.setTimer(config.ingest().lockRetry().toMillis(), id -> {
                    if (gen == generation && running) {
                        round(gen);
                    }
                });
                return;
            }
            store.resume(conn).subscribe().with(resume -> consume(gen, conn, resume),
                    failure -> retry(gen, failure, conn));
        }, failure -> retry(gen, failure, conn));
    }

    private void consume(int gen, SqlConnection conn, IngestionStore.Resume resume) {
        long from = resume.position();
        if (gen != generation) {
            return;
        }
        active = true;
        applied.set(from);
        LOG.infof("consuming the ledger feed after position %d", from);
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of(BearerTokens.METADATA_KEY, Metadata.ASCII_STRING_MARSHALLER),
                "Bearer " + auth.serviceToken());
        MutinyLedgerServiceGrpc.MutinyLedgerServiceStub stub = GrpcClientUtils.attachHeaders(ledger, headers);
        AtomicLong position = new AtomicLong(from);
        AtomicReference<Instant> daysRolledThrough = new AtomicReference<>(resume.daysRolledThrough());
        FeedBatcher<Entry> feed = new FeedBatcher<>(config.ingest().batchSize(),
                config.ingest().batchWait().toMillis(), vertx,
                batch -> {
                    Instant rolled = daysRolledThrough.get();
                    Instant rollTo = DayRollup.next(rolled, clock.instant());
                    BatchDelta delta = delta(batch, position.get(), rolled);
                    return store.apply(conn, position.get(), delta, rolled, rollTo).invoke(last -> {
                        position.set(last);
                        daysRolledThrough.set(rollTo);
                        applied.set(last);
                        backoffMillis = config.ingest().minBackoff().toMillis();
                    }).replaceWithVoid();
                },
                failure -> retry(gen, failure, conn));
        synchronized (this) {
            if (gen != generation) {
                return;
            }
            batcher = feed;
        }
        // many entries per response: one frame, flush and wake-up per page instead of per entry (at
        // least 2: 0 or 1 asks for the one-entry form, which these consumers do not read);
        // flattened here so that the batcher's demand stays counted in entries
        stub.streamEntries(StreamEntriesRequest.newBuilder().setAfterPosition(from)
                        .setMaxEntriesPerResponse(Math.max(2, config.ingest().batchSize())).build())
                .onItem().transformToIterable(StreamEntriesResponse::getEntriesList)
                .subscribe().withSubscriber(feed);
    }

    /** Sums a batch; refuses one that does not continue exactly where the stored position is. */
    static BatchDelta delta(List<Entry> batch, long after, Instant daysRolledThrough) {
        List<EntryFacts> facts = new ArrayList<>(batch.size());
        long expected = after + 1;
        for (Entry e : batch) {
            if (e.getPosition() != expected) {
                throw new IllegalStateException("the ledger feed skipped from position " + (expected - 1) + " to "
                        + e.getPosition());
            }
            facts.add(EntryMapping.facts(e));
            expected++;
        }
        return BatchDelta.of(facts, daysRolledThrough);
    }

    private void retry(int gen, Throwable failure, SqlConnection conn) {
        synchronized (this) {
            if (gen != generation || !running) {
                return;
            }
            generation++;
            active = false;
            if (batcher != null) {
                batcher.cancel();
                batcher = null;
            }
        }
        int next = generation;
        long delay = backoffMillis;
        backoffMillis = Math.min(config.ingest().maxBackoff().toMillis(), Math.max(1, backoffMillis * 2));
        if (failure != null) {
            LOG.warnf("ledger feed round ended (%s); resuming from the stored position in %d ms",
                    failure.getMessage(), delay);
        } else {
            LOG.infof("ledger feed ended; resuming from the stored position in %d ms", delay);
        }
        release(next, conn);
        vertx.setTimer(Math.max(1, delay), id -> {
            if (next == generation && running) {
                round(next);
            }
        });
    }

    private void release(int gen, SqlConnection conn) {
        synchronized (this) {
            if (connection == conn) {
                connection = null;
            }
        }
        if (conn != null) {
            conn.closeAndForget();
        }
    }
}
