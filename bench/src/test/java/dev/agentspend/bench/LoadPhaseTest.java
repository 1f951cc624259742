package dev.agentspend.bench;

import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.CompleteTaskResponse;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A load phase against a fake ledger on a local port (every Pay approved at once, the same entry for
 * the same request_id): the closed loop as before, the fixed rate sending no call before it is due,
 * and a stall showing in the fixed rate's latency but not in its service time. The rates asserted
 * are loose: the test machine's cores are shared.
 */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class LoadPhaseTest {
    private static final Duration WARMUP = Duration.ofMillis(500);
    private static final Duration WINDOW = Duration.ofSeconds(1);
    private static final LoadPhase.Window NO_HOOKS = new LoadPhase.Window() {
        @Override
        public void measureStarted() {
        }

        @Override
        public void measureEnded() {
        }
    };

    private final ScheduledExecutorService answers = Executors.newSingleThreadScheduledExecutor();
    private final AtomicLong received = new AtomicLong();
    /** Per task id seen in a Pay: the agent (API key) and its payments' request ids; CompleteTask calls by task id. */
    private final Map<String, String> taskAgent = new ConcurrentHashMap<>();
    private final Map<String, Set<String>> taskPayments = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> completions = new ConcurrentHashMap<>();
    /** When set, the first call received after it is answered this many milliseconds late, once. */
    private volatile long stallAfterNanos = Long.MAX_VALUE;
    private volatile long stallMillis;
    private final AtomicBoolean stalled = new AtomicBoolean();
    private Server server;
    private ManagedChannel channel;
    private List<BenchAgent> agents;

    @BeforeEach
    void start() throws Exception {
        server = ServerBuilder.forPort(0).addService(new LedgerServiceGrpc.LedgerServiceImplBase() {
            @Override
            public void pay(PayRequest request, StreamObserver<PayResponse> response) {
                received.incrementAndGet();
                if (!request.getTaskId().isEmpty()) {
                    String key = AGENT_KEY.get();
                    String before = taskAgent.putIfAbsent(request.getTaskId(), key);
                    if (before != null && !before.equals(key)) {
                        taskAgent.put(request.getTaskId(), "MIXED");
                    }
                    // a deliberate retry sends a request_id again: a set counts each payment once
                    taskPayments.computeIfAbsent(request.getTaskId(), k -> ConcurrentHashMap.newKeySet()).add(request.getRequestId());
                }
                PayResponse answer = PayResponse.newBuilder().setEntry(Entry.newBuilder()
                        .setEntryId("ent_" + request.getRequestId()).setDecision(Decision.DECISION_APPROVED)).build();
                long delayMillis = System.nanoTime() >= stallAfterNanos && stalled.compareAndSet(false, true) ? stallMillis : 0;
                answers.schedule(() -> {
                    response.onNext(answer);
                    response.onCompleted();
                }, delayMillis, TimeUnit.MILLISECONDS);
            }

            @Override
            public void completeTask(CompleteTaskRequest request, StreamObserver<CompleteTaskResponse> response) {
                completions.computeIfAbsent(request.getTaskId(), k -> new AtomicInteger()).incrementAndGet();
                response.onNext(CompleteTaskResponse.getDefaultInstance());
                response.onCompleted();
            }
        }).intercept(new ServerInterceptor() {
            @Override
            public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
                                                               ServerCallHandler<Q, A> next) {
                String auth = headers.get(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER));
                return Contexts.interceptCall(Context.current().withValue(AGENT_KEY, auth == null ? "" : auth), call, headers, next);
            }
        }).build().start();
        channel = ManagedChannelBuilder.forAddress("localhost", server.getPort()).usePlaintext().directExecutor().build();
        // connect and load the call path's classes first: in a fresh JVM that takes longer than the
        // warm-up, and the first calls would then be answered late inside the window
        LedgerServiceGrpc.newBlockingStub(channel).pay(PayRequest.newBuilder().setRequestId("connect").build());
        received.set(0);
        agents = List.of(new BenchAgent(0, "agt_0", "a0", "key0", BenchAgent.Kind.NORMAL, 0, 0),
                new BenchAgent(1, "agt_1", "a1", "key1", BenchAgent.Kind.NORMAL, 0, 0));
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        answers.shutdownNow();
    }

    private static final Context.Key<String> AGENT_KEY = Context.key("agent-key");

    private PhaseResult run(int clients, Optional<Pacing> pacing) throws InterruptedException {
        return run(clients, pacing, 0);
    }

    private PhaseResult run(int clients, Optional<Pacing> pacing, int taskCalls) throws InterruptedException {
        return new LoadPhase("t", agents, List.of(channel), r -> r.nextInt(agents.size()), clients, WARMUP, WINDOW, pacing,
                taskCalls).run(NO_HOOKS);
    }

    @Test
    void taskCallsGroupEachAgentsPaymentsIntoTasksThatTheClientsComplete() throws Exception {
        PhaseResult r = run(4, Optional.empty(), 3);
        assertEquals(0, r.errorCount(), "errors: " + r.errors);
        assertTrue(r.tasksCompleted > 0, "tasks completed in the window");
        assertTrue(r.tasksCompleted <= r.completed / 3 + 4, r.tasksCompleted + " tasks, " + r.completed + " payments");
        assertTrue(taskPayments.size() > 10, "tasks: " + taskPayments.size());
        taskPayments.forEach((task, ids) -> assertTrue(ids.size() <= 3, task + " had " + ids.size() + " payments"));
        taskAgent.forEach((task, key) -> assertTrue(!key.equals("MIXED") && !key.isEmpty(), task + ": one agent's task"));
        // the phase waits for every client's last call: each task that got its third payment has been
        // completed, once, by the client that sent it; no other task has
        Set<String> full = new HashSet<>();
        taskPayments.forEach((task, ids) -> {
            if (ids.size() == 3) {
                full.add(task);
            }
        });
        assertEquals(full, completions.keySet());
        completions.forEach((task, n) -> assertEquals(1, n.get(), task + " completed once"));
    }

    @Test
    void withoutTaskCallsPaymentsCarryNoTask() throws Exception {
        PhaseResult r = run(2, Optional.empty());
        assertTrue(r.completed > 0);
        assertTrue(taskPayments.isEmpty(), "task ids: " + taskPayments.keySet());
        assertEquals(0, r.tasksCompleted);
    }

    @Test
    void theClosedLoopSendsAsFastAsTheAnswersCome() throws Exception {
        PhaseResult r = run(2, Optional.empty());
        assertTrue(r.offeredPerSecond.isEmpty());
        assertFalse(r.fellBehind(), "a closed loop never falls behind an offer");
        assertTrue(r.completed > 0);
        assertEquals(r.completed, r.latencyMicros.getTotalCount());
        assertEquals(r.latencyMicros.getTotalCount(), r.serviceMicros.getTotalCount());
        assertEquals(r.percentileMillis(99), r.servicePercentileMillis(99), "closed loop: latency is the service time");
        assertEquals(0, r.errorCount(), "errors: " + r.errors);
        assertEquals(0, r.retriesWithOtherEntry);
        assertEquals(0, r.unfinished);
    }

    @Test
    void aFixedRateSendsNoCallBeforeItIsDue() throws Exception {
        PhaseResult r = run(4, Optional.of(new Pacing(200, 4)));
        assertEquals(200, r.offeredPerSecond.getAsInt());
        // no call is sent before it is due: at most the calls due in the warm-up and the window, where
        // the closed loop above sends thousands
        long due = 200 * (WARMUP.toMillis() + WINDOW.toMillis()) / 1000;
        assertTrue(received.get() <= due, "calls sent: " + received.get() + ", due: " + due);
        // about 200 answers in the 1 s window on a quiet machine; a loaded one delays a share of them
        // into the next window or, after a slow warm-up, catches up inside this one
        assertTrue(r.completed >= 100, "answers in the window: " + r.completed);
        assertEquals(0, r.errorCount(), "errors: " + r.errors);
        assertEquals(0, r.unfinished);
    }

    @Test
    void aStallCountsFromTheScheduledTimesOfTheCallsBehindIt() throws Exception {
        // one call, in the middle of the window, answered 300 ms late: its client's next 15 calls
        // (one every 20 ms) are due while it waits and go out late, back to back
        stallAfterNanos = System.nanoTime() + WARMUP.toNanos() + WINDOW.toNanos() / 4;
        stallMillis = 300;
        PhaseResult r = run(4, Optional.of(new Pacing(200, 4)));
        assertTrue(stalled.get());
        assertTrue(r.percentileMillis(99) >= 200, "latency p99 from the schedule: " + r.percentileMillis(99));
        // one slow call of about 200 is not the service time's p99; 15 late ones are the latency's
        assertTrue(r.servicePercentileMillis(99) < r.percentileMillis(99) / 2, "service time p99 "
                + r.servicePercentileMillis(99) + " ms, latency p99 " + r.percentileMillis(99) + " ms");
        assertTrue(r.serviceMicros.getMaxValue() >= 300_000, "the stalled call itself");
        assertEquals(0, r.unfinished);
    }

    @Test
    void anOverloadIsFlagged() {
        PhaseResult r = new PhaseResult("a", 10);
        r.offeredPerSecond = java.util.OptionalInt.of(100);
        r.clients = 4;
        r.completed = 970;
        assertFalse(r.fellBehind(), "97% of the offer is keeping up");
        r.completed = 969;
        assertTrue(r.fellBehind());
        assertFalse(r.caughtUpBacklog());
    }

    @Test
    void catchingUpABacklogIsFlagged() {
        PhaseResult r = new PhaseResult("a", 10);
        r.offeredPerSecond = java.util.OptionalInt.of(100);
        r.clients = 4;
        // 1000 due in the window, one more where it cuts the schedule, 4 in flight when it opened
        r.completed = 1005;
        assertFalse(r.caughtUpBacklog());
        r.completed = 1006;
        assertTrue(r.caughtUpBacklog());
        assertFalse(r.fellBehind());
    }
}
