package dev.agentspend.bench;

import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.CompleteTaskResponse;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import dev.agentspend.proto.ledger.v1.TaskOutcome;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import org.HdrHistogram.Histogram;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.ToIntFunction;

/**
 * One load phase: {@code clients} concurrent clients, each with one Pay call outstanding at a time,
 * over async gRPC stubs spread over a few channels, for a warm-up (discarded) and then the measured
 * duration. In the closed loop the next call is sent when the previous answer arrives; with a
 * {@link Pacing} each call waits for its scheduled time as well (a scheduler thread sends it, so no
 * gRPC callback ever waits) and its latency counts from that time. Each call pays from an agent the
 * picker chooses, with the agent's own API key. A small share of calls are deliberate retries: the
 * client's previous request sent again unchanged (same request_id), which the ledger must answer
 * with the first entry and record nothing.
 */
final class LoadPhase {
    static final double RETRY_SHARE = 0.01;
    private static final long DEADLINE_SECONDS = 30;
    private static final String[] TOOLS = {"openai/chat.completions", "anthropic/messages", "serpapi/search",
            "browserbase/session"};

    /** Hooks for what runs beside the measured window (the lag probe, CPU snapshots). */
    interface Window {
        void measureStarted();

        void measureEnded();
    }

    private final String name;
    private final List<LedgerServiceGrpc.LedgerServiceStub> stubs;
    private final ToIntFunction<SplittableRandom> picker;
    private final int clients;
    private final Duration warmup;
    private final Duration duration;
    private final Optional<Pacing> pacing;
    /** Payments per task; 0: no task ids. */
    private final int taskCalls;
    /** Payments sent so far per agent (index), which number each agent's tasks across clients. */
    private final AtomicLongArray agentPayments;

    /**
     * @param agents   the agents payments may come from (index = position in the list)
     * @param channels the ledger channels; agent i's stub uses channel i mod channels
     * @param picker   which agent (index into {@code agents}) the next call pays from
     * @param pacing   the fixed-rate schedule over these clients; empty: the closed loop
     * @param taskCalls payments per task (an agent's n-th payment is in its task n / taskCalls; the
     *                  client that sends a task's last payment completes the task before its next
     *                  call); 0: payments carry no task id
     */
    LoadPhase(String name, List<BenchAgent> agents, List<ManagedChannel> channels, ToIntFunction<SplittableRandom> picker,
              int clients, Duration warmup, Duration duration, Optional<Pacing> pacing, int taskCalls) {
        this.name = name;
        this.picker = picker;
        this.clients = clients;
        this.warmup = warmup;
        this.duration = duration;
        this.pacing = pacing;
        this.taskCalls = taskCalls;
        this.agentPayments = new AtomicLongArray(agents.size());
        this.stubs = new ArrayList<>(agents.size());
        for (int i = 0; i < agents.size(); i++) {
            stubs.add(LedgerServiceGrpc.newStub(channels.get(i % channels.size())).withInterceptors(
                    MetadataUtils.newAttachHeadersInterceptor(BenchStack.bearer(agents.get(i).apiKey()))));
        }
    }

    static Histogram newHistogram() {
        return new Histogram(TimeUnit.SECONDS.toMicros(120), 3);
    }

    PhaseResult run(Window window) throws InterruptedException {
        ScheduledExecutorService scheduler = pacing.isEmpty() ? null : Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "bench-pacing-" + name);
            t.setDaemon(true);
            return t;
        });
        long start = System.nanoTime();
        long measureStart = start + warmup.toNanos();
        long measureEnd = measureStart + duration.toNanos();
        CountDownLatch done = new CountDownLatch(clients);
        List<Client> all = new ArrayList<>();
        boolean drained;
        try {
            for (int i = 0; i < clients; i++) {
                all.add(new Client(i, start, measureStart, measureEnd, done, scheduler));
            }
            all.forEach(Client::next);
            sleepUntil(measureStart);
            window.measureStarted();
            sleepUntil(measureEnd);
            window.measureEnded();
            drained = done.await(DEADLINE_SECONDS + 5, TimeUnit.SECONDS);
        } finally {
            if (scheduler != null) {
                scheduler.shutdownNow();
            }
        }

        PhaseResult r = new PhaseResult(name, duration.toNanos() / 1e9);
        r.offeredPerSecond = pacing.isEmpty() ? OptionalInt.empty() : OptionalInt.of(pacing.get().ratePerSecond());
        r.clients = clients;
        for (Client c : all) {
            synchronized (c) {
                r.latencyMicros.add(c.histogram);
                r.serviceMicros.add(c.serviceHistogram);
                r.completed += c.completed;
                r.approved += c.approved;
                c.declines.forEach((k, v) -> r.declines.merge(k, v, Long::sum));
                c.errors.forEach((k, v) -> r.errors.merge(k, v, Long::sum));
                r.retries += c.retries;
                r.retriesWithOtherEntry += c.retriesWithOtherEntry;
                r.approvedAcknowledgedTotal += c.approvedTotal;
                r.tasksCompleted += c.tasksCompleted;
                if (!c.finished) {
                    r.unfinished++;
                }
            }
        }
        if (!drained) {
            r.errors.merge("UNFINISHED (no answer " + (DEADLINE_SECONDS + 5) + " s after the end)", r.unfinished, Long::sum);
        }
        return r;
    }

    private static void recordMicros(Histogram h, long nanos) {
        h.recordValue(Math.max(1, Math.min(nanos / 1000, h.getHighestTrackableValue())));
    }

    static void sleepUntil(long nanoTime) throws InterruptedException {
        long left;
        while ((left = nanoTime - System.nanoTime()) > 0) {
            TimeUnit.NANOSECONDS.sleep(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
        }
    }

    /**
     * One client: a chain of calls, each started from the previous one's completion callback, or, when
     * paced and not yet due, by the scheduler at its due time. gRPC calls a call's callbacks one at a
     * time and the next call is started from them or after them, so the fields are only touched by
     * one thread at a time; the monitor makes that visible to the next thread and the final merge.
     */
    private final class Client implements StreamObserver<PayResponse> {
        private final int id;
        private final long phaseStart;
        private final long measureStart;
        private final long measureEnd;
        private final CountDownLatch done;
        private final ScheduledExecutorService scheduler;
        private final SplittableRandom random;
        /** Closed loop: from the send; paced: from the scheduled time (see {@link Pacing}). */
        final Histogram histogram = newHistogram();
        /** From the send to the answer. */
        final Histogram serviceHistogram = newHistogram();
        final Map<String, Long> declines = new HashMap<>();
        final Map<String, Long> errors = new HashMap<>();
        long completed;
        long approved;
        long approvedTotal;
        long retries;
        long retriesWithOtherEntry;
        long tasksCompleted;
        boolean finished;
        private long sequence;
        /** This client's calls scheduled so far (paced). */
        private long calls;
        private PayRequest last;
        private int lastAgent;
        private String lastEntryId;
        private PayRequest current;
        private int currentAgent;
        private boolean currentIsRetry;
        /** The task the current payment is the last of, completed after its answer; null: none. */
        private String completing;
        private long scheduledAt;
        private long sentAt;
        private Entry answer;

        Client(int id, long phaseStart, long measureStart, long measureEnd, CountDownLatch done,
               ScheduledExecutorService scheduler) {
            this.id = id;
            this.phaseStart = phaseStart;
            this.measureStart = measureStart;
            this.measureEnd = measureEnd;
            this.done = done;
            this.scheduler = scheduler;
            this.random = new SplittableRandom(0x5eedL * 31 + id * 7919L + name.hashCode());
        }

        /** Sends the next call now, or has the scheduler send it when it is due; or ends the client. */
        synchronized void next() {
            long now = System.nanoTime();
            long due = pacing.isEmpty() ? now : pacing.get().scheduledNanos(phaseStart, id, calls++);
            if (Pacing.sendNanos(due, now) >= measureEnd) {
                finish();
                return;
            }
            if (due <= now) {
                send(due);
                return;
            }
            try {
                scheduler.schedule(() -> send(due), due - now, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException e) {
                // the phase gave up waiting for this client's previous answer and stopped its scheduler
                finish();
            }
        }

        private void finish() {
            finished = true;
            done.countDown();
        }

        private synchronized void send(long due) {
            if (last != null && random.nextDouble() < RETRY_SHARE) {
                current = last;
                currentAgent = lastAgent;
                currentIsRetry = true;
                completing = null;
            } else {
                currentAgent = picker.applyAsInt(random);
                long amount = FleetSetup.MIN_AMOUNT * (1 + random.nextInt((int) (FleetSetup.MAX_AMOUNT / FleetSetup.MIN_AMOUNT)));
                String requestId = name + "-" + id + "-" + (++sequence);
                PayRequest.Builder pay = PayRequest.newBuilder().setRequestId(requestId).setAmountMicros(amount)
                        .setCurrencyCode(FleetSetup.USD).setTool(TOOLS[random.nextInt(TOOLS.length)])
                        .setCallId(requestId).setAttempt(1);
                completing = null;
                if (taskCalls > 0) {
                    long n = agentPayments.getAndIncrement(currentAgent);
                    String taskId = name + "-" + currentAgent + "-" + n / taskCalls;
                    pay.setTaskId(taskId);
                    if (n % taskCalls == taskCalls - 1) {
                        completing = taskId;
                    }
                }
                current = pay.build();
                currentIsRetry = false;
            }
            answer = null;
            sentAt = System.nanoTime();
            scheduledAt = pacing.isEmpty() ? sentAt : due;
            stubs.get(currentAgent).withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS).pay(current, this);
        }

        @Override
        public synchronized void onNext(PayResponse value) {
            answer = value.getEntry();
        }

        @Override
        public void onError(Throwable t) {
            synchronized (this) {
                long end = System.nanoTime();
                if (measured(end)) {
                    record(end);
                    errors.merge(Status.fromThrowable(t).getCode().name(), 1L, Long::sum);
                }
                if (!currentIsRetry) {
                    last = current;
                    lastAgent = currentAgent;
                    lastEntryId = null;
                }
            }
            next();
        }

        @Override
        public void onCompleted() {
            String task;
            int agent;
            synchronized (this) {
                task = completing;
                agent = currentAgent;
                long end = System.nanoTime();
                boolean measured = measured(end);
                Entry e = answer;
                if (currentIsRetry) {
                    if (measured) {
                        retries++;
                    }
                    if (lastEntryId != null && e != null && !lastEntryId.equals(e.getEntryId())) {
                        retriesWithOtherEntry++;
                    }
                } else {
                    last = current;
                    lastAgent = currentAgent;
                    lastEntryId = e == null ? null : e.getEntryId();
                    if (e != null && e.getDecision() == Decision.DECISION_APPROVED) {
                        approvedTotal++;
                    }
                }
                if (measured) {
                    record(end);
                    if (currentIsRetry) {
                        // a replay: counted as a completed call and a retry, not as a second decision
                    } else if (e != null && e.getDecision() == Decision.DECISION_APPROVED) {
                        approved++;
                    } else if (e != null) {
                        declines.merge(e.getDeclineReason().name().replace("DECLINE_REASON_", ""), 1L, Long::sum);
                    } else {
                        errors.merge("NO_ENTRY", 1L, Long::sum);
                    }
                }
            }
            if (task == null) {
                next();
            } else {
                completeTask(agent, task);
            }
        }

        /** The agent completes the task its answered payment was the last of; then the next call. */
        private void completeTask(int agent, String taskId) {
            CompleteTaskRequest req = CompleteTaskRequest.newBuilder().setRequestId("complete-" + taskId).setTaskId(taskId)
                    .setOutcome(TaskOutcome.TASK_OUTCOME_SUCCEEDED).build();
            stubs.get(agent).withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS).completeTask(req,
                    new StreamObserver<>() {
                        @Override
                        public void onNext(CompleteTaskResponse value) {
                        }

                        @Override
                        public void onError(Throwable t) {
                            synchronized (Client.this) {
                                if (measured(System.nanoTime())) {
                                    errors.merge("CompleteTask " + Status.fromThrowable(t).getCode().name(), 1L, Long::sum);
                                }
                            }
                            next();
                        }

                        @Override
                        public void onCompleted() {
                            synchronized (Client.this) {
                                if (measured(System.nanoTime())) {
                                    tasksCompleted++;
                                }
                            }
                            next();
                        }
                    });
        }

        /**
         * Closed loop: sent and answered in the window, as always. Paced: answered in the window, so the
         * achieved rate is the answers per second, not short by the calls in flight at the window's
         * edges (a share of latency / window: a few percent of a short window on a slow machine).
         */
        private boolean measured(long end) {
            return (pacing.isEmpty() ? sentAt : end) >= measureStart && end <= measureEnd;
        }

        private void record(long end) {
            completed++;
            recordMicros(histogram, Pacing.latencyNanos(scheduledAt, end));
            recordMicros(serviceHistogram, end - sentAt);
        }
    }
}
