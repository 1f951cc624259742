package dev.agentspend.client;

import com.google.protobuf.Timestamp;
import dev.agentspend.proto.ledger.v1.CaptureRequest;
import dev.agentspend.proto.ledger.v1.CaptureResponse;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import dev.agentspend.proto.ledger.v1.GetBalanceResponse;
import dev.agentspend.proto.ledger.v1.Hold;
import dev.agentspend.proto.ledger.v1.HoldRequest;
import dev.agentspend.proto.ledger.v1.HoldResponse;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.PayAgentRequest;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.ReleaseRequest;
import dev.agentspend.proto.ledger.v1.TaskOutcome;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * What an agent embeds to pay through the AgentSpend ledger.
 *
 * <pre>{@code
 * try (AgentSpendClient ledger = AgentSpendClient.builder()
 *         .target("localhost:8082").plaintext()
 *         .apiKey(System.getenv("AGENTSPEND_API_KEY"))
 *         .build()) {
 *     Entry paid = ledger.pay(Payment.of(4_000, "USD", "openai/chat.completions")
 *             .task("summarize-42").call("call-7", 1));
 * } catch (PaymentDeclinedException declined) {
 *     // caps, balance or suspension: do not call the tool
 * }
 * }</pre>
 *
 * <p>Each method call is one logical operation: the client generates its {@code request_id} once
 * and sends it unchanged on every retry, so a retry after a lost response is never charged twice.
 * A call whose outcome stays unknown ({@link LedgerErrorException#transientFailure()}) leaves its
 * key on the {@link Payment}: calling again with the same Payment object retries that payment.
 * Retries happen only on transient failures ({@link RetryPolicy#isTransient}), with bounded
 * exponential backoff. The client is thread-safe and blocking; share one per agent.
 */
public final class AgentSpendClient implements AutoCloseable {
    private final ManagedChannel ownedChannel;
    private final LedgerServiceGrpc.LedgerServiceBlockingStub stub;
    private final RetryPolicy retryPolicy;

    private AgentSpendClient(ManagedChannel ownedChannel, LedgerServiceGrpc.LedgerServiceBlockingStub stub,
                             RetryPolicy retryPolicy) {
        this.ownedChannel = ownedChannel;
        this.stub = stub;
        this.retryPolicy = retryPolicy;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Pays for a tool call; returns the approved entry or throws {@link PaymentDeclinedException}. */
    public Entry pay(Payment payment) {
        return withKeyOf(payment, requestId -> payWith(payment, requestId));
    }

    private Entry payWith(Payment payment, String requestId) {
        PayRequest.Builder request = PayRequest.newBuilder()
                .setRequestId(requestId)
                .setAmountMicros(payment.amountMicros)
                .setCurrencyCode(payment.currencyCode)
                .setTool(payment.tool)
                .setTaskId(payment.taskId)
                .setCallId(payment.callId)
                .setAttempt(payment.attempt)
                .putAllLabels(payment.labels);
        if (payment.occurredTime != null) {
            request.setOccurredTime(timestamp(payment.occurredTime));
        }
        PayRequest built = request.build();
        return approved(call("Pay", built.getRequestId(), s -> s.pay(built)).getEntry());
    }

    /**
     * Reserves an estimate for a call whose cost is known only afterwards (model tokens). Capture
     * or release the returned hold; if neither happens within {@code ttl} the ledger releases it.
     */
    public Hold hold(Payment estimate, Duration ttl) {
        Objects.requireNonNull(ttl, "ttl");
        return withKeyOf(estimate, requestId -> holdWith(estimate, ttl, requestId));
    }

    private Hold holdWith(Payment estimate, Duration ttl, String requestId) {
        HoldRequest.Builder request = HoldRequest.newBuilder()
                .setRequestId(requestId)
                .setAmountMicros(estimate.amountMicros)
                .setCurrencyCode(estimate.currencyCode)
                .setTool(estimate.tool)
                .setTaskId(estimate.taskId)
                .setCallId(estimate.callId)
                .setAttempt(estimate.attempt)
                .putAllLabels(estimate.labels)
                .setTtl(com.google.protobuf.Duration.newBuilder()
                        .setSeconds(ttl.getSeconds()).setNanos(ttl.getNano()));
        if (estimate.occurredTime != null) {
            request.setOccurredTime(timestamp(estimate.occurredTime));
        }
        HoldRequest built = request.build();
        HoldResponse response = call("Hold", built.getRequestId(), s -> s.hold(built));
        approved(response.getEntry());
        return response.getHold();
    }

    /**
     * Charges the final amount of a hold (above the estimate only within caps and balance). Declined,
     * the hold stays open: capture less or release it.
     */
    public Entry capture(String holdId, long finalAmountMicros) {
        return capture(holdId, finalAmountMicros, newRequestId());
    }

    /** The same with the caller's request_id: after an unknown outcome, retry with {@link LedgerErrorException#requestId()}. */
    public Entry capture(String holdId, long finalAmountMicros, String requestId) {
        CaptureRequest request = CaptureRequest.newBuilder()
                .setRequestId(Objects.requireNonNull(requestId, "requestId"))
                .setHoldId(Objects.requireNonNull(holdId, "holdId"))
                .setAmountMicros(finalAmountMicros)
                .build();
        CaptureResponse response = call("Capture", request.getRequestId(), s -> s.capture(request));
        return approved(response.getEntry());
    }

    /** Gives a hold back without charging it. */
    public Entry release(String holdId) {
        return release(holdId, newRequestId());
    }

    /** The same with the caller's request_id: after an unknown outcome, retry with {@link LedgerErrorException#requestId()}. */
    public Entry release(String holdId, String requestId) {
        ReleaseRequest request = ReleaseRequest.newBuilder()
                .setRequestId(Objects.requireNonNull(requestId, "requestId"))
                .setHoldId(Objects.requireNonNull(holdId, "holdId"))
                .build();
        return call("Release", request.getRequestId(), s -> s.release(request)).getEntry();
    }

    /** Pays another agent; the payer's caps and balance apply. */
    public Entry payAgent(String payeeAgentId, Payment payment) {
        Objects.requireNonNull(payeeAgentId, "payeeAgentId");
        return withKeyOf(payment, requestId -> payAgentWith(payeeAgentId, payment, requestId));
    }

    private Entry payAgentWith(String payeeAgentId, Payment payment, String requestId) {
        PayAgentRequest.Builder request = PayAgentRequest.newBuilder()
                .setRequestId(requestId)
                .setPayeeAgentId(Objects.requireNonNull(payeeAgentId, "payeeAgentId"))
                .setAmountMicros(payment.amountMicros)
                .setCurrencyCode(payment.currencyCode)
                .setTool(payment.tool)
                .setTaskId(payment.taskId)
                .setCallId(payment.callId)
                .setAttempt(payment.attempt)
                .putAllLabels(payment.labels);
        if (payment.occurredTime != null) {
            request.setOccurredTime(timestamp(payment.occurredTime));
        }
        PayAgentRequest built = request.build();
        return approved(call("PayAgent", built.getRequestId(), s -> s.payAgent(built)).getEntry());
    }

    /** Closes a task so that its cost counts in cost-per-task. */
    public Entry completeTask(String taskId, TaskOutcome outcome) {
        return completeTask(taskId, outcome, newRequestId());
    }

    /** The same with the caller's request_id: after an unknown outcome, retry with {@link LedgerErrorException#requestId()}. */
    public Entry completeTask(String taskId, TaskOutcome outcome, String requestId) {
        CompleteTaskRequest request = CompleteTaskRequest.newBuilder()
                .setRequestId(Objects.requireNonNull(requestId, "requestId"))
                .setTaskId(Objects.requireNonNull(taskId, "taskId"))
                .setOutcome(Objects.requireNonNull(outcome, "outcome"))
                .build();
        return call("CompleteTask", request.getRequestId(), s -> s.completeTask(request)).getEntry();
    }

    /** The agent's own balance, holds, and spend and headroom in every capped window. */
    public GetBalanceResponse balance() {
        GetBalanceRequest request = GetBalanceRequest.getDefaultInstance();
        return call("GetBalance", "", s -> s.getBalance(request));
    }

    /**
     * Sends a payment with its key: the caller's, or the one a call with this Payment left with its
     * outcome unknown, or a new one; remembers the key while the outcome stays unknown.
     */
    private static <T> T withKeyOf(Payment payment, Function<String, T> send) {
        String requestId = !payment.requestId.isEmpty() ? payment.requestId
                : !payment.unresolvedRequestId.isEmpty() ? payment.unresolvedRequestId : newRequestId();
        try {
            T answered = send.apply(requestId);
            payment.unresolvedRequestId = "";
            return answered;
        } catch (PaymentDeclinedException declined) {
            payment.unresolvedRequestId = "";
            throw declined;
        } catch (LedgerErrorException failed) {
            payment.unresolvedRequestId = failed.transientFailure() ? requestId : "";
            throw failed;
        }
    }

    private <T> T call(String method, String requestId, Function<LedgerServiceGrpc.LedgerServiceBlockingStub, T> rpc) {
        for (int attempt = 1; ; attempt++) {
            try {
                return rpc.apply(stub.withDeadlineAfter(retryPolicy.attemptTimeout().toMillis(), TimeUnit.MILLISECONDS));
            } catch (StatusRuntimeException e) {
                Status.Code code = e.getStatus().getCode();
                // the ledger answers a repeated request_id from its record before it checks anything,
                // so a refusal says no attempt was applied; anything else leaves the outcome unknown
                boolean outcomeUnknown = !RetryPolicy.isDefiniteRefusal(code);
                if (!RetryPolicy.isTransient(code) || attempt >= retryPolicy.maxAttempts()) {
                    throw new LedgerErrorException(method, e, attempt, outcomeUnknown, requestId);
                }
                try {
                    pause(retryPolicy.backoffMillis(attempt));
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw new LedgerErrorException(method, e, attempt, requestId, interrupted);
                }
            }
        }
    }

    private static Entry approved(Entry entry) {
        if (entry.getDecision() == Decision.DECISION_DECLINED) {
            throw new PaymentDeclinedException(entry);
        }
        return entry;
    }

    private static String newRequestId() {
        return UUID.randomUUID().toString();
    }

    private static Timestamp timestamp(Instant t) {
        return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }

    // The client is blocking by design (an agent waits for the authorization before calling the
    // tool), so the backoff pause blocks the calling thread and nothing else.
    private static void pause(long millis) throws InterruptedException {
        // a pause drawn as 0 ms would not look at the flag
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        TimeUnit.MILLISECONDS.sleep(millis);
    }

    @Override
    public void close() {
        if (ownedChannel != null) {
            ownedChannel.shutdown();
            try {
                if (!ownedChannel.awaitTermination(5, TimeUnit.SECONDS)) {
                    ownedChannel.shutdownNow();
                }
            } catch (InterruptedException e) {
                ownedChannel.shutdownNow();
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Configures a client: where the ledger is, the agent's key, TLS, retries. */
    public static final class Builder {
        private String target;
        private boolean plaintext;
        private ManagedChannel channel;
        private String apiKey;
        private RetryPolicy retryPolicy = RetryPolicy.DEFAULT;
        private final List<ClientInterceptor> interceptors = new ArrayList<>();

        private Builder() {
        }

        /** The ledger's address, for example {@code ledger.agentspend.svc:8082}. TLS unless {@link #plaintext()}. */
        public Builder target(String target) {
            this.target = Objects.requireNonNull(target, "target");
            return this;
        }

        /** Without TLS: only on loopback or inside a mesh that encrypts. */
        public Builder plaintext() {
            this.plaintext = true;
            return this;
        }

        /** Uses a channel the caller owns (and closes) instead of {@link #target}. */
        public Builder channel(ManagedChannel channel) {
            this.channel = Objects.requireNonNull(channel, "channel");
            return this;
        }

        /** The agent's API key, {@code as_<key_id>_<secret>}. */
        public Builder apiKey(String apiKey) {
            this.apiKey = Objects.requireNonNull(apiKey, "apiKey");
            return this;
        }

        public Builder retryPolicy(RetryPolicy retryPolicy) {
            this.retryPolicy = Objects.requireNonNull(retryPolicy, "retryPolicy");
            return this;
        }

        /** Extra interceptors, for tracing or tests; they run after the key is attached. */
        public Builder interceptor(ClientInterceptor interceptor) {
            interceptors.add(Objects.requireNonNull(interceptor, "interceptor"));
            return this;
        }

        public AgentSpendClient build() {
            if (apiKey == null || apiKey.isEmpty()) {
                throw new IllegalStateException("an API key is required (apiKey)");
            }
            if ((target == null) == (channel == null)) {
                throw new IllegalStateException("set exactly one of target or channel");
            }
            ManagedChannel owned = null;
            ManagedChannel used = channel;
            if (used == null) {
                ManagedChannelBuilder<?> b = ManagedChannelBuilder.forTarget(target);
                if (plaintext) {
                    b.usePlaintext();
                } else {
                    b.useTransportSecurity();
                }
                owned = b.build();
                used = owned;
            }
            Metadata headers = new Metadata();
            headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + apiKey);
            LedgerServiceGrpc.LedgerServiceBlockingStub stub = LedgerServiceGrpc.newBlockingStub(used)
                    .withInterceptors(interceptors.toArray(new ClientInterceptor[0]))
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
            return new AgentSpendClient(owned, stub, retryPolicy);
        }
    }
}
