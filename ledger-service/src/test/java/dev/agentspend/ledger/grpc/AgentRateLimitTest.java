package dev.agentspend.ledger.grpc;

import com.google.rpc.RetryInfo;
import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.PayResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static dev.agentspend.ledger.support.Fixture.pay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One agent floods the ledger while another pays at a normal pace: the flood is cut to its rate
 * with RESOURCE_EXHAUSTED and a retry delay, the refused calls record nothing, and the other
 * agent is never refused.
 */
@QuarkusTest
@TestProfile(AgentRateLimitTest.Limits.class)
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class AgentRateLimitTest {
    static final long RATE = 20;
    static final long BURST = 10;

    public static class Limits implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("agentspend.ledger.agent-rate-per-second", Long.toString(RATE),
                    "agentspend.ledger.agent-rate-burst", Long.toString(BURST));
        }
    }

    @Test
    void aFloodingAgentIsCutToItsRateAndTheOtherIsNotDelayed() throws Exception {
        TestAgent flooder = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000_000);
        TestAgent steady = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000_000);
        long durationMs = 3_000;
        AtomicLong approved = new AtomicLong();
        AtomicLong refused = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        long start = System.nanoTime();
        long end = start + TimeUnit.MILLISECONDS.toNanos(durationMs);
        List<Future<?>> flood = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            flood.add(pool.submit(() -> {
                while (System.nanoTime() < end) {
                    try {
                        flooder.ledger().pay(pay(1_000).build());
                        approved.incrementAndGet();
                    } catch (StatusRuntimeException e) {
                        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.toString());
                        assertEquals("AGENT_RATE_LIMITED", GrpcErrors.reasonOf(e));
                        RetryInfo retry = StatusProto.fromThrowable(e).getDetailsList().stream()
                                .filter(d -> d.is(RetryInfo.class)).findFirst().orElseThrow().unpack(RetryInfo.class);
                        long delayNanos = retry.getRetryDelay().getSeconds() * 1_000_000_000L + retry.getRetryDelay().getNanos();
                        assertTrue(delayNanos > 0 && delayNanos <= 1_000_000_000L / RATE, "retry delay " + retry);
                        refused.incrementAndGet();
                    }
                }
                return null;
            }));
        }
        // the steady agent pays at 5 per second, well under the rate, while the flood runs
        int steadyPaid = 0;
        while (System.nanoTime() < end) {
            PayResponse r = steady.ledger().pay(pay(1_000).build());
            assertEquals(Decision.DECISION_APPROVED, r.getEntry().getDecision());
            steadyPaid++;
            Thread.sleep(200);   // the steady agent's own pace: 5 payments a second, far under its rate
        }
        for (Future<?> f : flood) {
            f.get(60, TimeUnit.SECONDS);
        }
        pool.shutdown();
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(steadyPaid >= 3, "steady agent paid " + steadyPaid + " (every one approved, none refused)");
        assertTrue(refused.get() > 0, "the flood must be refused at some point");
        assertTrue(approved.get() <= BURST + RATE * seconds + 1,
                "flooder got " + approved.get() + " through in " + seconds + " s");
        // a refused call recorded nothing: the flooder's payment entries are exactly its approvals (the credit aside)
        assertEquals(approved.get(), Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE agent_id = ? AND event_type = 1", flooder.id()));
        assertEquals(steadyPaid, Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE agent_id = ? AND event_type = 1", steady.id()));
    }
}
