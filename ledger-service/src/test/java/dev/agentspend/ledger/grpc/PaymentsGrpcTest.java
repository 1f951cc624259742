package dev.agentspend.ledger.grpc;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.ledger.support.TestClock;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CapScope;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import dev.agentspend.proto.ledger.v1.GetBalanceResponse;
import dev.agentspend.proto.ledger.v1.ListEntriesRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import io.grpc.Status;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Instant;

import static dev.agentspend.ledger.support.Fixture.cap;
import static dev.agentspend.ledger.support.Fixture.pay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class PaymentsGrpcTest {
    @Inject
    TestClock clock;

    @AfterEach
    void resetClock() {
        clock.reset();
    }

    @Test
    void approvedPaymentMovesMoneyToTheVendorSide() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        PayResponse r = a.ledger().pay(pay(2_500_000).setTaskId("task-1").setCallId("call-1").setAttempt(1)
                .putLabels("env", "test").build());
        Entry e = r.getEntry();
        assertEquals(Decision.DECISION_APPROVED, e.getDecision());
        assertEquals(EventType.EVENT_TYPE_PAYMENT_APPROVED, e.getEventType());
        assertEquals(a.id(), e.getAgentId());
        assertEquals(2_500_000, e.getSpendMicros());
        assertEquals(7_500_000, e.getBalanceMicros());
        assertTrue(e.getPosition() > 0);
        assertEquals("call-1", e.getCallId());
        assertEquals("test", e.getLabelsOrThrow("env"));
        GetBalanceResponse b = Fixture.balance(a);
        assertEquals(7_500_000, b.getBalanceMicros());
        assertEquals(0, Fixture.queryLong("SELECT COALESCE(SUM(amount_micros), 0) FROM ledger.postings WHERE entry_id = ?", e.getEntryId()));
        assertEquals(2_500_000, Fixture.queryLong(
                "SELECT amount_micros FROM ledger.postings WHERE entry_id = ? AND account_id = 'vendor:USD'", e.getEntryId()));
    }

    @Test
    void hardDayCapDeclinesWithWindowAndHeadroom() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 5_000_000, true)).build(), 100_000_000);
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(4_000_000).build()).getEntry().getDecision());
        Entry declined = a.ledger().pay(pay(1_500_000).build()).getEntry();
        assertEquals(Decision.DECISION_DECLINED, declined.getDecision());
        assertEquals(EventType.EVENT_TYPE_PAYMENT_DECLINED, declined.getEventType());
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, declined.getDeclineReason());
        assertEquals(CapWindow.CAP_WINDOW_DAY, declined.getExceededCap().getWindow());
        assertEquals(CapScope.CAP_SCOPE_AGENT, declined.getExceededCap().getScope());
        assertEquals(1_000_000, declined.getExceededCap().getHeadroomMicros());
        assertEquals(0, declined.getSpendMicros());
        assertEquals(96_000_000, Fixture.balance(a).getBalanceMicros());
        // the decline is recorded too
        assertEquals(2, Fixture.admin().listEntries(ListEntriesRequest.newBuilder().setAgentId(a.id())
                .addEventTypes(EventType.EVENT_TYPE_PAYMENT_APPROVED).addEventTypes(EventType.EVENT_TYPE_PAYMENT_DECLINED).build())
                .getEntriesCount());
    }

    @Test
    void malformedPaymentIsRefusedAndRecordsNothing() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000);
        long before = Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE agent_id = ?", a.id());
        Fixture.expectError(Status.Code.INVALID_ARGUMENT, () -> a.ledger().pay(pay(-5).build()));
        Fixture.expectError(Status.Code.INVALID_ARGUMENT, () -> a.ledger().pay(pay(5).setCurrencyCode("EUR").build()));
        Fixture.expectError(Status.Code.INVALID_ARGUMENT, () -> a.ledger().pay(pay(5).setTool("").build()));
        Fixture.expectError(Status.Code.INVALID_ARGUMENT, () -> a.ledger().pay(pay(5).setRequestId("").build()));
        assertEquals(before, Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE agent_id = ?", a.id()));
    }

    @Test
    void windowsRollOverAtUtcBoundaries() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_HOUR, 1_000_000, true)).build(), 100_000_000);
        clock.set(Instant.parse("2031-03-09T23:59:59.000Z"));
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1_000_000).build()).getEntry().getDecision());
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, a.ledger().pay(pay(1).build()).getEntry().getDeclineReason());
        clock.set(Instant.parse("2031-03-10T00:00:00.000Z"));
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1_000_000).build()).getEntry().getDecision());
    }

    @Test
    void sandboxAgentsAreBoundByTheirCeiling() {
        TestAgent a = Fixture.newAgent(null, AgentMode.AGENT_MODE_SANDBOX,
                SpendingPolicy.newBuilder().setSandboxCeilingMicros(3_000_000).build(), 100_000_000);
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(2_000_000).build()).getEntry().getDecision());
        Entry e = a.ledger().pay(pay(1_500_000).build()).getEntry();
        assertEquals(DeclineReason.DECLINE_REASON_SANDBOX_CEILING, e.getDeclineReason());
        assertEquals(1_000_000, e.getExceededCap().getHeadroomMicros());
    }
}
