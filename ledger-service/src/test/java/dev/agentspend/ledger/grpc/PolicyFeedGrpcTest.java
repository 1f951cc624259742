package dev.agentspend.ledger.grpc;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.identity.v1.ReinstateAgentRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.SuspendAgentRequest;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static dev.agentspend.ledger.support.Fixture.pay;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Policy from identity's feed: suspensions take effect fast; a lost feed fails closed, then recovers. */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class PolicyFeedGrpcTest {
    @Inject
    PolicyWatcher watcher;

    @Test
    void aSuspensionStopsTheNextPaymentWithinASecond() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000_000);
        List<Long> latencies = new ArrayList<>();
        for (int round = 0; round < 5; round++) {
            assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1).build()).getEntry().getDecision());
            Fixture.identity().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId("sus-" + round + a.id())
                    .setAgentId(a.id()).setReason("latency test").build());
            long acknowledged = System.nanoTime();
            long deadline = acknowledged + Duration.ofSeconds(5).toNanos();
            Entry e;
            do {
                e = a.ledger().pay(pay(1).build()).getEntry();
            } while (e.getDecision() == Decision.DECISION_APPROVED && System.nanoTime() < deadline);
            long micros = (System.nanoTime() - acknowledged) / 1_000;
            assertEquals(DeclineReason.DECLINE_REASON_AGENT_SUSPENDED, e.getDeclineReason());
            latencies.add(micros);
            Fixture.identity().reinstateAgent(ReinstateAgentRequest.newBuilder().setRequestId("rei-" + round + a.id())
                    .setAgentId(a.id()).build());
            Fixture.await(Duration.ofSeconds(5), "reinstatement",
                    () -> a.ledger().pay(pay(1).build()).getEntry().getDecision() == Decision.DECISION_APPROVED);
        }
        Collections.sort(latencies);
        System.out.printf("[ledger-suspension] SuspendAgent acknowledged -> next payment declined: min %.1f ms, median %.1f ms, max %.1f ms (5 rounds)%n",
                latencies.get(0) / 1000.0, latencies.get(2) / 1000.0, latencies.get(4) / 1000.0);
        assertTrue(latencies.get(4) < 1_000_000, "max latency " + latencies.get(4) + " us");
    }

    @Test
    void aLostFeedFailsClosedAfterTheStalenessBoundAndRecoversByItself() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000_000);
        PayRequest declined;
        Entry declinedEntry;
        long versionBefore = watcher.appliedVersion();
        assertTrue(versionBefore > 0);
        ServiceProcess identity = LedgerTestResource.identity();
        identity.stop();
        long stopped = System.nanoTime();
        try {
            // within the bound the ledger keeps enforcing its local copy
            assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1).build()).getEntry().getDecision());
            Entry e;
            long deadline = stopped + LedgerTestResource.STALENESS.plusSeconds(10).toNanos();
            do {
                declined = pay(1).build();
                e = a.ledger().pay(declined).getEntry();
                if (e.getDecision() == Decision.DECISION_APPROVED) {
                    sleep(50);
                }
            } while (e.getDecision() == Decision.DECISION_APPROVED && System.nanoTime() < deadline);
            long failClosedMs = (System.nanoTime() - stopped) / 1_000_000;
            assertEquals(DeclineReason.DECLINE_REASON_POLICY_UNAVAILABLE, e.getDeclineReason());
            declinedEntry = e;
            assertTrue(failClosedMs >= LedgerTestResource.STALENESS.toMillis() - 2_500,
                    "failed closed after " + failClosedMs + " ms, before the bound");
            assertFalse(a.ledger().getBalance(GetBalanceRequest.getDefaultInstance()).getPolicyFresh());
            given().port(Fixture.LEDGER_PORT).get("/q/health/well").then().statusCode(503);
            System.out.printf("[ledger-staleness] identity stopped -> first POLICY_UNAVAILABLE after %d ms (bound %d ms)%n",
                    failClosedMs, LedgerTestResource.STALENESS.toMillis());
        } finally {
            identity.start().awaitReady(Duration.ofSeconds(60));
        }
        long restarted = System.nanoTime();
        Fixture.await(Duration.ofSeconds(30), "the ledger to recover when identity is back",
                () -> a.ledger().pay(pay(1).build()).getEntry().getDecision() == Decision.DECISION_APPROVED);
        System.out.printf("[ledger-staleness] identity ready -> payments approved again after %d ms%n",
                (System.nanoTime() - restarted) / 1_000_000);
        assertTrue(a.ledger().getBalance(GetBalanceRequest.getDefaultInstance()).getPolicyFresh());
        // the request declined for the outage was not answered for good: its retry is decided now, once
        Entry retried = a.ledger().pay(declined).getEntry();
        assertEquals(Decision.DECISION_APPROVED, retried.getDecision());
        assertNotEquals(declinedEntry.getEntryId(), retried.getEntryId());
        assertEquals(retried, a.ledger().pay(declined).getEntry(), "and that answer is the stored one");
        assertEquals(1, Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE entry_id = ?", declinedEntry.getEntryId()),
                "the decline stays recorded");
        // the feed resumed after the version applied before the outage and carries new changes
        TestAgent later = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000);
        assertEquals(Decision.DECISION_APPROVED, later.ledger().pay(pay(1).build()).getEntry().getDecision());
        assertTrue(watcher.appliedVersion() > versionBefore);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
