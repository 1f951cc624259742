package dev.agentspend.ledger.store;

import com.google.protobuf.Message;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.ledger.config.LedgerConfig;
import dev.agentspend.ledger.domain.PayQueue;
import dev.agentspend.ledger.domain.PolicyView;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.CompleteTaskResponse;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.UniEmitter;
import jakarta.annotation.PostConstruct;
import io.vertx.mutiny.sqlclient.Pool;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Group commit for Pay (and CompleteTask, see {@link PaymentBatch}). A commit costs a durable WAL
 * flush and the feed position row is held until it is done, so one payment per transaction caps
 * the ledger at one payment per flush.
 * Payments that arrive while a batch is in flight wait here and go together in the next one: one
 * transaction, a handful of set-based statements, one flush. Under light load a batch holds one
 * payment and nothing waits; under heavy load batches grow until they absorb the arrival rate.
 *
 * <p>Every caller is answered only after its batch has committed. A batch that fails as a whole
 * (a lost connection, say) is retried one payment per transaction, so each caller gets its own
 * outcome; a payment the failed batch did commit is found by its request_id and replayed.
 */
@ApplicationScoped
public class PaymentBatcher {
    private static final Logger LOG = Logger.getLogger(PaymentBatcher.class);

    @Inject
    Pool pool;

    @Inject
    InstantSource clock;

    @Inject
    FeedNotifier notifier;

    @Inject
    LedgerStore store;

    @Inject
    ToolCounters toolCounters;

    @Inject
    LedgerConfig config;

    @Inject
    MeterRegistry registry;

    private final PayQueue<PaymentBatch.Job> queue = new PayQueue<>(PaymentBatch.Job::agentId);
    private DistributionSummary batchSizes;
    private Counter batchesRetried;
    private Timer queueWait;
    private Timer batchPreparing;
    private Timer batchCommitting;

    @PostConstruct
    void metrics() {
        batchSizes = DistributionSummary.builder("agentspend.ledger.pay.batch.size")
                .description("Pay and CompleteTask calls committed per transaction (group commit)")
                .publishPercentiles(0.5, 0.99)
                .register(registry);
        batchesRetried = Counter.builder("agentspend.ledger.pay.batches.retried")
                .description("Batches of several payments that failed as a whole and were committed one payment per transaction")
                .register(registry);
        // where a payment's time in the ledger goes: waiting for a batch, then its batch preparing
        // (locks, reads, decisions, writes) and committing (entries, COMMIT, the WAL flush, answers)
        queueWait = latency(Timer.builder("agentspend.ledger.pay.queue.wait")
                .description("Time a Pay or CompleteTask call waited in the queue before its batch started"));
        batchPreparing = latency(Timer.builder("agentspend.ledger.pay.batch.preparing")
                .description("Time from a batch's start to its entries and COMMIT being sent (locks, reads, decisions, state writes)"));
        batchCommitting = latency(Timer.builder("agentspend.ledger.pay.batch.committing")
                .description("Time from a batch's entries and COMMIT being sent to its callers being answered (includes the WAL flush)"));
        Gauge.builder("agentspend.ledger.pay.queue.size", this, PaymentBatcher::waiting)
                .description("Pay and CompleteTask calls waiting for a batch")
                .register(registry);
    }

    private Timer latency(Timer.Builder timer) {
        // buckets for a Prometheus histogram_quantile, from a fraction of a flush to a stalled database
        return timer.publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofSeconds(10))
                .register(registry);
    }

    private synchronized int waiting() {
        return queue.size();
    }

    /** Decides and records one payment, in the next batch. */
    public Uni<LedgerStore.Result<PayResponse>> pay(String caller, LedgerStore.Policy policy, PayRequest req,
                                                    byte[] fingerprint) {
        return toolCounters.whenCounted(() -> enqueue(out -> new PaymentBatch.Job(caller, policy, req, fingerprint, out)))
                .map(r -> new LedgerStore.Result<>((PayResponse) r.response(), r.replayed()));
    }

    /** Records the completion of a task, in the next batch (after the agent's payments queued before it). */
    public Uni<LedgerStore.Result<CompleteTaskResponse>> completeTask(String caller, PolicyView agent,
                                                                      CompleteTaskRequest req, byte[] fingerprint) {
        // a completion decides nothing against the policy: whether it is fresh does not matter
        LedgerStore.Policy policy = new LedgerStore.Policy(agent, true);
        return enqueue(out -> new PaymentBatch.Job(caller, policy, req, fingerprint, out))
                .map(r -> new LedgerStore.Result<>((CompleteTaskResponse) r.response(), r.replayed()));
    }

    private Uni<LedgerStore.Result<Message>> enqueue(
            Function<UniEmitter<? super LedgerStore.Result<Message>>, PaymentBatch.Job> newJob) {
        return Uni.createFrom().emitter(out -> {
            PaymentBatch.Job job = newJob.apply(out);
            synchronized (this) {
                if (queue.size() >= config.ledger().payQueueMax()) {
                    out.fail(ApiException.of(ErrorCode.RESOURCE_EXHAUSTED, "LEDGER_BUSY",
                            "the ledger has " + queue.size() + " calls waiting to be committed; retry with the same "
                                    + "request_id after a short backoff"));
                    return;
                }
                queue.add(job);
            }
            drain();
        });
    }

    /** Starts batches while there is work and room for another (see PayQueue for when). */
    private void drain() {
        while (true) {
            PayQueue.Batch<PaymentBatch.Job> batch;
            synchronized (this) {
                batch = queue.next(config.ledger().payBatchesInFlight(), config.ledger().payBatchMax(),
                        config.ledger().payBatchMinBesideAnother());
            }
            if (batch == null) {
                return;
            }
            BatchTiming timing = new BatchTiming(System.nanoTime());
            for (PaymentBatch.Job job : batch.payments()) {
                queueWait.record(timing.startNanos - job.queuedNanos(), TimeUnit.NANOSECONDS);
            }
            commit(batch.payments(), timing, () -> committing(batch))
                    .subscribe().with(v -> finished(batch), t -> finished(batch));
        }
    }

    /**
     * A batch's two stages, timed from its start (connection included): until its entries and COMMIT
     * are sent (preparing), then until its callers are answered (committing). A batch that fails is
     * not timed past the failure and its one-by-one retries not at all (pay.batches.retried counts
     * them): their times would be the failure's and the retries', not a stage of a batch.
     */
    private final class BatchTiming {
        final long startNanos;
        // written on the event loop that sends the COMMIT, read on the one that answers
        private volatile boolean sent;
        private volatile long sentNanos;

        BatchTiming(long startNanos) {
            this.startNanos = startNanos;
        }

        void sent() {
            long now = System.nanoTime();
            sentNanos = now;
            sent = true;
            batchPreparing.record(now - startNanos, TimeUnit.NANOSECONDS);
        }

        void answered() {
            if (sent) {
                batchCommitting.record(System.nanoTime() - sentNanos, TimeUnit.NANOSECONDS);
            }
        }
    }

    private void committing(PayQueue.Batch<PaymentBatch.Job> batch) {
        synchronized (this) {
            queue.committing(batch);
        }
        drain();
    }

    private void finished(PayQueue.Batch<PaymentBatch.Job> batch) {
        synchronized (this) {
            queue.finished(batch);
        }
        drain();
    }

    /** {@code timing}: null for a retry, which is not timed (see {@link BatchTiming}). */
    private Uni<Void> commit(List<PaymentBatch.Job> jobs, BatchTiming timing, Runnable committing) {
        PaymentBatch batch = new PaymentBatch(jobs);
        batchSizes.record(jobs.size());
        // the batch begins and commits its transaction itself, pipelined with its statements
        // deferred: a throw while the batch builds its statements fails the Uni, so withConnection
        // still hands the connection back
        return pool.withConnection(conn -> Uni.createFrom().deferred(() -> {
                    Tx tx = new Tx(conn, clock.instant());
                    Runnable sent = timing == null ? committing : () -> {
                        timing.sent();
                        committing.run();
                    };
                    return batch.run(store, tx, sent).invoke(v -> notifier.committed(tx.committedEntries()));
                }))
                .invoke(v -> {
                    batch.answer();
                    if (timing != null) {
                        timing.answered();
                    }
                })
                .onFailure().recoverWithUni(t -> {
                    if (jobs.size() == 1) {
                        PaymentBatch.Job job = jobs.get(0);
                        if (LedgerStore.isUniqueViolation(t, "idempotency")) {
                            // the same caller and request_id committed meanwhile in another batch (an
                            // admin's CompleteTask for another agent): answered from its stored response
                            return replayStored(job);
                        }
                        job.fail(t);
                        return Uni.createFrom().voidItem();
                    }
                    batchesRetried.increment();
                    // batches of other agents may go beside the retries; this batch's agents stay held
                    committing.run();
                    LOG.warnf("a batch of %d payments failed (%s); committing them one by one", jobs.size(), t.toString());
                    return oneByOne(jobs, 0);
                });
    }

    private Uni<Void> replayStored(PaymentBatch.Job job) {
        return store.replayStored(job.caller(), job.requestId(), job.method(), job.fingerprint(), job.parser())
                .map(r -> new LedgerStore.Result<Message>(r.response(), r.replayed()))
                .onItemOrFailure().<Void>transform((r, failure) -> {
                    if (failure != null) {
                        job.fail(failure);
                    } else {
                        job.out().complete(r);
                    }
                    return null;
                });
    }

    private Uni<Void> oneByOne(List<PaymentBatch.Job> jobs, int from) {
        if (from >= jobs.size()) {
            return Uni.createFrom().voidItem();
        }
        // the failed batch is still in flight (its agents held) until every retry is done
        return commit(List.of(jobs.get(from)), null, () -> { }).chain(() -> oneByOne(jobs, from + 1));
    }
}
