package dev.agentspend.client;

import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import dev.agentspend.proto.ledger.v1.Hold;
import dev.agentspend.proto.ledger.v1.ListEntriesRequest;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.TaskOutcome;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The client against a real ledger and identity service over loopback gRPC. */
class AgentSpendClientTest {
    private static final RetryPolicy FAST_RETRIES =
            new RetryPolicy(4, Duration.ofMillis(20), Duration.ofMillis(200), Duration.ofSeconds(5));
    private static LedgerStack stack;

    @BeforeAll
    static void startPlatform() {
        stack = new LedgerStack();
    }

    @AfterAll
    static void stopPlatform() {
        if (stack != null) {
            stack.close();
        }
    }

    private static AgentSpendClient clientFor(String apiKey, ClientInterceptor... extra) {
        AgentSpendClient.Builder b = AgentSpendClient.builder()
                .target("localhost:" + stack.ledgerPort()).plaintext()
                .apiKey(apiKey).retryPolicy(FAST_RETRIES);
        for (ClientInterceptor i : extra) {
            b.interceptor(i);
        }
        return b.build();
    }

    /** The ledger learns new agents from identity's policy feed, a moment after creation. */
    private static void awaitKnownToLedger(AgentSpendClient client) {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (true) {
            try {
                client.balance();
                return;
            } catch (LedgerErrorException e) {
                // UNAVAILABLE: the ledger's first policy snapshot has not arrived yet
                boolean notYet = e.code() == Status.Code.UNAUTHENTICATED || e.code() == Status.Code.UNAVAILABLE;
                if (!notYet || System.nanoTime() > deadline) {
                    throw e;
                }
            }
        }
    }

    @Test
    void paysAndThrowsADistinctExceptionOnDecline() {
        CreateAgentResponse agent = stack.fundedAgent("client-pay", 1_000_000, 5_000_000);
        try (AgentSpendClient client = clientFor(agent.getApiKeySecret())) {
            awaitKnownToLedger(client);

            Entry paid = client.pay(Payment.of(4_000, "USD", "openai/chat.completions").task("t-1").call("c-1", 1));
            assertEquals(EventType.EVENT_TYPE_PAYMENT_APPROVED, paid.getEventType());
            assertEquals(agent.getAgent().getId(), paid.getAgentId());
            assertEquals(4_000, paid.getAmountMicros());

            PaymentDeclinedException declined = assertThrows(PaymentDeclinedException.class,
                    () -> client.pay(Payment.of(2_000_000, "USD", "openai/chat.completions")));
            assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, declined.reason());
            assertEquals(1_000_000, declined.exceededCap().getLimitMicros());
        }
    }

    @Test
    void refusedRequestsAreNotRetried() {
        CreateAgentResponse agent = stack.fundedAgent("client-bad", 1_000_000, 5_000_000);
        try (AgentSpendClient client = clientFor(agent.getApiKeySecret())) {
            awaitKnownToLedger(client);
            LedgerErrorException e = assertThrows(LedgerErrorException.class,
                    () -> client.pay(Payment.of(-5, "USD", "openai/chat.completions")));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
            assertEquals(1, e.attempts());
            assertFalse(e.transientFailure());
        }
        try (AgentSpendClient wrongKey = clientFor("as_key_aaaaaaaaaaaaaaaa_" + "A".repeat(43))) {
            LedgerErrorException e = assertThrows(LedgerErrorException.class,
                    () -> wrongKey.pay(Payment.of(5, "USD", "openai/chat.completions")));
            assertEquals(Status.Code.UNAUTHENTICATED, e.code());
            assertEquals(1, e.attempts());
        }
    }

    @Test
    void aLostResponseIsRetriedWithTheSameRequestIdAndChargedOnce() {
        CreateAgentResponse agent = stack.fundedAgent("client-retry", 1_000_000, 5_000_000);
        LoseFirstPayResponse loseFirst = new LoseFirstPayResponse();
        try (AgentSpendClient client = clientFor(agent.getApiKeySecret(), loseFirst)) {
            awaitKnownToLedger(client);

            Entry paid = client.pay(Payment.of(7_000, "USD", "search/web").task("t-retry").call("c-9", 1));

            assertEquals(2, loseFirst.requestIds.size(), "the first response was lost, so the client retried once");
            assertEquals(loseFirst.requestIds.get(0), loseFirst.requestIds.get(1), "a retry must reuse its request_id");
            List<Entry> entries = stack.ledgerAdmin().listEntries(ListEntriesRequest.newBuilder()
                    .setAgentId(agent.getAgent().getId()).setTaskId("t-retry").build()).getEntriesList();
            assertEquals(1, entries.size(), "the ledger applied the payment once");
            assertEquals(paid.getEntryId(), entries.get(0).getEntryId());
            assertEquals(5_000_000 - 7_000, client.balance().getBalanceMicros());
        }
    }

    @Test
    void holdCaptureReleaseAgentPaymentAndTaskCompletion() {
        CreateAgentResponse payer = stack.fundedAgent("client-hold", 1_000_000, 5_000_000);
        CreateAgentResponse payee = stack.fundedAgent("client-payee", 1_000_000, 0);
        try (AgentSpendClient client = clientFor(payer.getApiKeySecret())) {
            awaitKnownToLedger(client);

            Hold hold = client.hold(Payment.of(50_000, "USD", "anthropic/messages").task("t-h"), Duration.ofMinutes(5));
            assertEquals(50_000, client.balance().getHeldMicros());
            Entry captured = client.capture(hold.getHoldId(), 30_000);
            assertEquals(EventType.EVENT_TYPE_HOLD_CAPTURED, captured.getEventType());
            assertEquals(30_000, captured.getAmountMicros());

            Hold second = client.hold(Payment.of(10_000, "USD", "anthropic/messages"), Duration.ofMinutes(5));
            assertEquals(EventType.EVENT_TYPE_HOLD_RELEASED, client.release(second.getHoldId()).getEventType());
            assertEquals(0, client.balance().getHeldMicros());

            Entry toAgent = client.payAgent(payee.getAgent().getId(), Payment.of(20_000, "USD", "agent/summarize"));
            assertEquals(EventType.EVENT_TYPE_AGENT_PAYMENT_APPROVED, toAgent.getEventType());
            assertEquals(payee.getAgent().getId(), toAgent.getCounterpartyAgentId());

            Entry done = client.completeTask("t-h", TaskOutcome.TASK_OUTCOME_SUCCEEDED);
            assertEquals(EventType.EVENT_TYPE_TASK_COMPLETED, done.getEventType());
            assertEquals(5_000_000 - 30_000 - 20_000, client.balance().getBalanceMicros());
        }
    }

    @Test
    void anUnreachableLedgerIsRetriedBoundedlyThenReportedAsTransient() {
        int nothingListens = dev.agentspend.platform.ServiceProcess.freePort();
        try (AgentSpendClient client = AgentSpendClient.builder()
                .target("localhost:" + nothingListens).plaintext()
                .apiKey("as_key_aaaaaaaaaaaaaaaa_" + "A".repeat(43)).retryPolicy(FAST_RETRIES).build()) {
            LedgerErrorException e = assertThrows(LedgerErrorException.class,
                    () -> client.pay(Payment.of(5, "USD", "openai/chat.completions")));
            assertEquals(Status.Code.UNAVAILABLE, e.code());
            assertEquals(FAST_RETRIES.maxAttempts(), e.attempts());
            assertTrue(e.transientFailure());
            assertFalse(e.requestId().isEmpty());
        }
    }

    @Test
    void theSamePaymentPaidAgainAfterAnUnknownOutcomeIsChargedOnceAndAfterAnAnswerIsANewPayment() {
        CreateAgentResponse agent = stack.fundedAgent("client-again", 1_000_000, 5_000_000);
        // every attempt of the first call reaches the ledger (which commits it) and its answer is lost
        LoseFirstPayResponse loseAll = new LoseFirstPayResponse(FAST_RETRIES.maxAttempts(), Status.UNAVAILABLE);
        try (AgentSpendClient client = clientFor(agent.getApiKeySecret(), loseAll)) {
            awaitKnownToLedger(client);
            Payment p = Payment.of(3_000, "USD", "search/web").task("t-again");

            LedgerErrorException lost = assertThrows(LedgerErrorException.class, () -> client.pay(p));
            assertTrue(lost.transientFailure());
            Entry paid = client.pay(p); // the agent's own retry, with the same Payment
            assertEquals(FAST_RETRIES.maxAttempts() + 1, loseAll.requestIds.size());
            assertEquals(1, loseAll.requestIds.stream().distinct().count(), "one key for every attempt and the retry");
            assertEquals(lost.requestId(), loseAll.requestIds.get(0));
            assertEquals(1, entriesOfTask(agent, "t-again").size(), "charged once");

            // answered: the same object paid again is a new payment
            Entry second = client.pay(p);
            assertFalse(second.getEntryId().equals(paid.getEntryId()));
            assertEquals(2, entriesOfTask(agent, "t-again").size());
            assertEquals(5_000_000 - 6_000, client.balance().getBalanceMicros());
        }
    }

    @Test
    void anInternalErrorAfterTheLedgerMayHaveAppliedTheCallIsAnUnknownOutcome() {
        CreateAgentResponse agent = stack.fundedAgent("client-internal", 1_000_000, 5_000_000);
        LoseFirstPayResponse internal = new LoseFirstPayResponse(1, Status.INTERNAL);
        try (AgentSpendClient client = clientFor(agent.getApiKeySecret(), internal)) {
            awaitKnownToLedger(client);
            LedgerErrorException e = assertThrows(LedgerErrorException.class,
                    () -> client.pay(Payment.of(2_000, "USD", "search/web").task("t-internal")));
            assertEquals(Status.Code.INTERNAL, e.code());
            assertEquals(1, e.attempts(), "INTERNAL is not retried by the client");
            assertTrue(e.transientFailure(), "the ledger had committed it: the outcome is unknown, not refused");
            assertEquals(1, entriesOfTask(agent, "t-internal").size());
        }
    }

    @Test
    void anInterruptedCallEndsWithItsRequestIdAsAnUnknownOutcomeAndTheFlagKept() throws Exception {
        int nothingListens = dev.agentspend.platform.ServiceProcess.freePort();
        RetryPolicy slow = new RetryPolicy(4, Duration.ofSeconds(20), Duration.ofSeconds(20), Duration.ofSeconds(5));
        try (AgentSpendClient client = AgentSpendClient.builder()
                .target("localhost:" + nothingListens).plaintext()
                .apiKey("as_key_aaaaaaaaaaaaaaaa_" + "A".repeat(43)).retryPolicy(slow).build()) {
            java.util.concurrent.CompletableFuture<Object> outcome = new java.util.concurrent.CompletableFuture<>();
            Thread agent = new Thread(() -> {
                try {
                    outcome.complete(client.pay(Payment.of(5, "USD", "openai/chat.completions")));
                } catch (RuntimeException e) {
                    outcome.complete(List.of(e, Thread.currentThread().isInterrupted()));
                }
            });
            agent.start();
            // the first attempt is refused at once; the call then backs off (for up to 20 s, nearly
            // always more than this second), or is in its next attempt: interrupted either way
            Thread.sleep(1_000);
            agent.interrupt();
            List<?> ended = (List<?>) outcome.get(10, java.util.concurrent.TimeUnit.SECONDS);
            LedgerErrorException e = assertInstanceOf(LedgerErrorException.class, ended.get(0));
            assertEquals(Boolean.TRUE, ended.get(1), "the interrupt is kept for the caller");
            assertTrue(e.transientFailure(), "an attempt may have been applied");
            assertFalse(e.requestId().isEmpty());
        }
    }

    @Test
    void aRetryPolicyUnderAMillisecondIsRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> new RetryPolicy(3, Duration.ofNanos(500_000), Duration.ofSeconds(1), Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class,
                () -> new RetryPolicy(3, Duration.ofMillis(1), Duration.ofSeconds(1), Duration.ofNanos(999_999)));
    }

    private static List<Entry> entriesOfTask(CreateAgentResponse agent, String taskId) {
        return stack.ledgerAdmin().listEntries(ListEntriesRequest.newBuilder()
                .setAgentId(agent.getAgent().getId()).setTaskId(taskId).build()).getEntriesList();
    }

    /**
     * Lets the first Pays reach the real ledger (which commits them) and then loses their responses,
     * closing them with another status, as a dropped connection (UNAVAILABLE) or a failure after the
     * commit would; records the request_id of every Pay sent.
     */
    private static final class LoseFirstPayResponse implements ClientInterceptor {
        final List<String> requestIds = new CopyOnWriteArrayList<>();
        private final AtomicInteger toLose;
        private final Status closeWith;

        LoseFirstPayResponse() {
            this(1, Status.UNAVAILABLE);
        }

        LoseFirstPayResponse(int count, Status closeWith) {
            this.toLose = new AtomicInteger(count);
            this.closeWith = closeWith;
        }

        @Override
        public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
            ClientCall<Q, R> call = next.newCall(method, options);
            if (!method.getBareMethodName().equals("Pay")) {
                return call;
            }
            boolean lose = toLose.getAndDecrement() > 0;
            return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
                @Override
                public void sendMessage(Q message) {
                    requestIds.add(((PayRequest) message).getRequestId());
                    super.sendMessage(message);
                }

                @Override
                public void start(Listener<R> listener, Metadata headers) {
                    if (!lose) {
                        super.start(listener, headers);
                        return;
                    }
                    super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
                        @Override
                        public void onMessage(R message) {
                            // the ledger answered; the answer never arrives
                        }

                        @Override
                        public void onClose(Status status, Metadata trailers) {
                            super.onClose(closeWith.withDescription("response lost in transit (test)"), trailers);
                        }
                    }, headers);
                }
            };
        }
    }
}
