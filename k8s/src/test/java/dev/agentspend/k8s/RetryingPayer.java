package dev.agentspend.k8s;

import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.PayRequest;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Pays as an agent's client should through an outage: the same request_id on every attempt of one
 * payment, retrying what says "try again" (UNAVAILABLE) until an answer, and giving up at once on
 * anything else, which fails the test (INTERNAL or UNKNOWN is not how a service reports a database
 * outage). Counts every failure it saw by status code and ErrorInfo reason, and the payments it saw
 * acknowledged, which must all be approved.
 */
final class RetryingPayer {
    /** What a client may retry with the same request_id; everything else ends the payment. */
    static final Set<Status.Code> RETRYABLE = Set.of(Status.Code.UNAVAILABLE);

    private final DurablePlatform platform;
    private final Map<String, AtomicInteger> failures = new ConcurrentHashMap<>();
    private final AtomicInteger retried = new AtomicInteger();

    RetryingPayer(DurablePlatform platform) {
        this.platform = platform;
    }

    /** Pays {@code request} as {@code agent} until the ledger answers (at most {@code seconds}); the entry must be approved. */
    Entry pay(DurablePlatform.Agent agent, PayRequest request, int seconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        boolean failedBefore = false;
        while (true) {
            try {
                Entry entry = platform.ledger(agent.key()).pay(request).getEntry();
                assertEquals(Decision.DECISION_APPROVED, entry.getDecision(),
                        agent.name() + "'s payment " + request.getRequestId() + " after an outage must not be declined: " + entry);
                if (failedBefore) {
                    retried.incrementAndGet();
                }
                return entry;
            } catch (StatusRuntimeException e) {
                Status.Code code = e.getStatus().getCode();
                failures.computeIfAbsent(code + "/" + reason(e), k -> new AtomicInteger())
                        .incrementAndGet();
                if (!RETRYABLE.contains(code) || System.nanoTime() > deadline) {
                    throw new AssertionError(agent.name() + "'s payment " + request.getRequestId() + " failed with " + code
                            + " (" + e.getStatus().getDescription() + "); a database outage must answer UNAVAILABLE", e);
                }
                failedBefore = true;
            }
            try {
                Thread.sleep(50);   // client retry backoff, as the client library's
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                throw new AssertionError(ie);
            }
        }
    }

    /** The ErrorInfo reason of a gRPC error, or "" when it has none. */
    static String reason(StatusRuntimeException e) {
        com.google.rpc.Status status = StatusProto.fromThrowable(e);
        if (status != null) {
            for (Any detail : status.getDetailsList()) {
                if (detail.is(ErrorInfo.class)) {
                    try {
                        return detail.unpack(ErrorInfo.class).getReason();
                    } catch (InvalidProtocolBufferException ignored) {
                        return "";
                    }
                }
            }
        }
        return "";
    }

    /** Failures seen, per "CODE/REASON". */
    Map<String, Integer> failures() {
        Map<String, Integer> out = new TreeMap<>();
        failures.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    /** Payments that were acknowledged only after at least one failed attempt. */
    int answeredAfterRetry() {
        return retried.get();
    }
}
