package dev.agentspend.bench;

import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
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
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.ToIntFunction;

/**
 * One closed-loop load phase: {@code clients} concurrent clients, each with one Pay call outstanding
 * at a time (the next is sent when the previous answer arrives), over async gRPC stubs spread over
 * a few channels, for a warm-up (discarded) and then the measured duration. Each call pays from an
 * agent the picker chooses, with the agent's own API key. A small share of calls are deliberate
 * retries: the client's previous request sent again unchanged (same request_id), which the ledger
 * must answer with the first entry and record nothing.
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

    /**
     * @param agents   the agents payments may come from (index = position in the list)
     * @param channels the ledger channels; agent i's stub uses channel i mod channels
     * @param picker   which agent (index into {@code agents}) the next call pays from
     */
    LoadPhase(String name, List<BenchAgent> agents, List<ManagedChannel> channels, ToIntFunction<SplittableRandom> picker,
              int clients, Duration warmup, Duration duration) {
        this.name = name;
        this.picker = picker;
        this.clients = clients;
        this.warmup = warmup;
        this.duration = duration;
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
        long start = System.nanoTime();
        long measureStart = start + warmup.toNanos();
        long measureEnd = measureStart + duration.toNanos();
        CountDownLatch done = new CountDownLatch(clients);
        List<Client> all = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            all.add(new Client(i, measureStart, measureEnd, done));
        }
        all.forEach(Client::next);
        sleepUntil(measureStart);
        window.measureStarted();
        sleepUntil(measureEnd);
        window.measureEnded();
        boolean drained = done.await(DEADLINE_SECONDS + 5, TimeUnit.SECONDS);

        PhaseResult r = new PhaseResult(name, duration.toNanos() / 1e9);
        for (Client c : all) {
            synchronized (c) {
                r.latencyMicros.add(c.histogram);
                r.completed += c.completed;
                r.approved += c.approved;
                c.declines.forEach((k, v) -> r.declines.merge(k, v, Long::sum));
                c.errors.forEach((k, v) -> r.errors.merge(k, v, Long::sum));
                r.retries += c.retries;
                r.retriesWithOtherEntry += c.retriesWithOtherEntry;
                r.approvedAcknowledgedTotal += c.approvedTotal;
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

    static void sleepUntil(long nanoTime) throws InterruptedException {
        long left;
        while ((left = nanoTime - System.nanoTime()) > 0) {
            TimeUnit.NANOSECONDS.sleep(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
        }
    }

    /**
     * One client: a chain of calls, each sent from the previous one's completion callback. gRPC calls
     * a call's callbacks one at a time and the next call is started from them, so the fields are
     * only touched by one thread at a time; the monitor makes that visible to the final merge.
     */
    private final class Client implements StreamObserver<PayResponse> {
        private final int id;
        private final long measureStart;
        private final long measureEnd;
        private final CountDownLatch done;
        private final SplittableRandom random;
        final Histogram histogram = newHistogram();
        final Map<String, Long> declines = new HashMap<>();
        final Map<String, Long> errors = new HashMap<>();
        long completed;
        long approved;
        long approvedTotal;
        long retries;
        long retriesWithOtherEntry;
        boolean finished;
        private long sequence;
        private PayRequest last;
        private int lastAgent;
        private String lastEntryId;
        private PayRequest current;
        private int currentAgent;
        private boolean currentIsRetry;
        private long sentAt;
        private Entry answer;

        Client(int id, long measureStart, long measureEnd, CountDownLatch done) {
            this.id = id;
            this.measureStart = measureStart;
            this.measureEnd = measureEnd;
            this.done = done;
            this.random = new SplittableRandom(0x5eedL * 31 + id * 7919L + name.hashCode());
        }

        synchronized void next() {
            long now = System.nanoTime();
            if (now >= measureEnd) {
                finished = true;
                done.countDown();
                return;
            }
            if (last != null && random.nextDouble() < RETRY_SHARE) {
                current = last;
                currentAgent = lastAgent;
                currentIsRetry = true;
            } else {
                currentAgent = picker.applyAsInt(random);
                long amount = FleetSetup.MIN_AMOUNT * (1 + random.nextInt((int) (FleetSetup.MAX_AMOUNT / FleetSetup.MIN_AMOUNT)));
                String requestId = name + "-" + id + "-" + (++sequence);
                current = PayRequest.newBuilder().setRequestId(requestId).setAmountMicros(amount)
                        .setCurrencyCode(FleetSetup.USD).setTool(TOOLS[random.nextInt(TOOLS.length)])
                        .setCallId(requestId).setAttempt(1).build();
                currentIsRetry = false;
            }
            answer = null;
            sentAt = System.nanoTime();
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
            synchronized (this) {
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
            next();
        }

        private boolean measured(long end) {
            return sentAt >= measureStart && end <= measureEnd;
        }

        private void record(long end) {
            completed++;
            histogram.recordValue(Math.max(1, Math.min((end - sentAt) / 1000, histogram.getHighestTrackableValue())));
        }
    }
}
