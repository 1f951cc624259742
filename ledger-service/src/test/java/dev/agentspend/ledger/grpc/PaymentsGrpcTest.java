package dev.agentspend.ledger.grpc;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.ledger.support.TestClock;
import com.google.protobuf.util.Timestamps;
import dev.agentspend.ledger.store.LedgerQueries;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.ReinstateAgentRequest;
import dev.agentspend.proto.identity.v1.RevokeAgentRequest;
import dev.agentspend.proto.identity.v1.SuspendAgentRequest;
import dev.agentspend.proto.identity.v1.TemporaryRaise;
import dev.agentspend.proto.ledger.v1.CapStatus;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import dev.agentspend.proto.ledger.v1.ListEntriesResponse;
import dev.agentspend.proto.ledger.v1.PayAgentRequest;
import dev.agentspend.proto.ledger.v1.ReverseRequest;
import dev.agentspend.proto.ledger.v1.TaskOutcome;
import io.grpc.StatusRuntimeException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class PaymentsGrpcTest {
    @Inject
    TestClock clock;

    @Inject
    LedgerQueries queries;

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
        assertEquals(0, Fixture.queryLong("SELECT COALESCE(SUM(amount_micros), 0) FROM ledger.every_posting WHERE entry_id = ?", e.getEntryId()));
        assertEquals(2_500_000, Fixture.queryLong(
                "SELECT amount_micros FROM ledger.every_posting WHERE entry_id = ? AND account_id = 'vendor:USD'", e.getEntryId()));
        assertEquals(-2_500_000, Fixture.queryLong(
                "SELECT amount_micros FROM ledger.every_posting WHERE entry_id = ? AND account_id = 'agent:" + a.id() + "'", e.getEntryId()));
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
    @Test
    void softCapIsRecordedButNotEnforced() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 1_000_000, false)).build(), 10_000_000);
        Entry e = a.ledger().pay(pay(1_500_000).build()).getEntry();
        assertEquals(Decision.DECISION_APPROVED, e.getDecision());
        assertEquals(1, e.getSoftBreachesCount());
        assertEquals(CapEnforcement.CAP_ENFORCEMENT_SOFT, e.getSoftBreaches(0).getEnforcement());
        assertEquals(1_000_000, e.getSoftBreaches(0).getHeadroomMicros());
    }

    @Test
    void teamCapBindsEveryAgentOfTheTeam() {
        String team = Fixture.newTeam(cap(CapWindow.CAP_WINDOW_DAY, 3_000_000, true));
        TestAgent a = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 10_000_000);
        TestAgent b = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 10_000_000);
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(2_000_000).build()).getEntry().getDecision());
        Entry e = b.ledger().pay(pay(1_500_000).build()).getEntry();
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, e.getDeclineReason());
        assertEquals(CapScope.CAP_SCOPE_TEAM, e.getExceededCap().getScope());
        assertEquals(1_000_000, e.getExceededCap().getHeadroomMicros());
        assertEquals(team, e.getTeamId());
        assertEquals(Decision.DECISION_APPROVED, b.ledger().pay(pay(1_000_000).build()).getEntry().getDecision());
    }

    @Test
    void perToolPerTaskAndPerPaymentCaps() {
        Cap toolCap = cap(CapWindow.CAP_WINDOW_DAY, 1_000_000, true).toBuilder().setTool("vendor/expensive").build();
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder().addCaps(toolCap)
                .addCaps(cap(CapWindow.CAP_WINDOW_TASK, 3_000_000, true))
                .addCaps(cap(CapWindow.CAP_WINDOW_PAYMENT, 2_000_000, true)).build(), 100_000_000);
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED,
                a.ledger().pay(pay(1_100_000).setTool("vendor/expensive").build()).getEntry().getDeclineReason());
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1_100_000).setTool("vendor/cheap").build()).getEntry().getDecision());
        Entry big = a.ledger().pay(pay(2_000_001).build()).getEntry();
        assertEquals(CapWindow.CAP_WINDOW_PAYMENT, big.getExceededCap().getWindow());
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(2_000_000).setTaskId("t1").build()).getEntry().getDecision());
        Entry task = a.ledger().pay(pay(1_500_000).setTaskId("t1").build()).getEntry();
        assertEquals(CapWindow.CAP_WINDOW_TASK, task.getExceededCap().getWindow());
        assertEquals(1_000_000, task.getExceededCap().getHeadroomMicros());
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1_500_000).setTaskId("t2").build()).getEntry().getDecision());
    }

    @Test
    void temporaryRaiseAppliesUntilItExpires() {
        Cap raised = cap(CapWindow.CAP_WINDOW_DAY, 1_000_000, true).toBuilder().setTemporaryRaise(TemporaryRaise.newBuilder()
                .setLimitMicros(5_000_000).setExpireTime(Timestamps.parseUnchecked("2031-05-01T11:00:00Z"))).build();
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder().addCaps(raised).build(), 100_000_000);
        clock.set(Instant.parse("2031-05-01T10:00:00Z"));
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(3_000_000).build()).getEntry().getDecision());
        clock.set(Instant.parse("2031-05-01T11:30:00Z"));
        Entry e = a.ledger().pay(pay(1).build()).getEntry();
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, e.getDeclineReason());
        assertEquals(1_000_000, e.getExceededCap().getLimitMicros());
        assertEquals(0, e.getExceededCap().getHeadroomMicros());
    }

    @Test
    void insufficientBalanceDeclines() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000);
        Entry e = a.ledger().pay(pay(1_000_001).build()).getEntry();
        assertEquals(DeclineReason.DECLINE_REASON_INSUFFICIENT_BALANCE, e.getDeclineReason());
        assertEquals(1_000_000, e.getBalanceMicros());
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1_000_000).build()).getEntry().getDecision());
        assertEquals(0, Fixture.balance(a).getBalanceMicros());
    }

    @Test
    void suspendedAgentIsDeclinedAndRevokedAgentCannotAuthenticate() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        Fixture.identity().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId("s-" + a.id()).setAgentId(a.id())
                .setReason("test").build());
        Fixture.await(Duration.ofSeconds(5), "the suspension to reach the ledger",
                () -> a.ledger().pay(pay(1).build()).getEntry().getDeclineReason() == DeclineReason.DECLINE_REASON_AGENT_SUSPENDED);
        Fixture.identity().reinstateAgent(ReinstateAgentRequest.newBuilder().setRequestId("r-" + a.id()).setAgentId(a.id()).build());
        Fixture.await(Duration.ofSeconds(5), "the reinstatement to reach the ledger",
                () -> a.ledger().pay(pay(1).build()).getEntry().getDecision() == Decision.DECISION_APPROVED);
        Fixture.identity().revokeAgent(RevokeAgentRequest.newBuilder().setRequestId("v-" + a.id()).setAgentId(a.id()).build());
        Fixture.await(Duration.ofSeconds(5), "the revocation to reach the ledger", () -> {
            try {
                a.ledger().pay(pay(1).build());
                return false;
            } catch (StatusRuntimeException e) {
                return e.getStatus().getCode() == Status.Code.UNAUTHENTICATED;
            }
        });
    }

    @Test
    void overflowingAmountsAreRefused() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), Long.MAX_VALUE - 10);
        StatusRuntimeException e = Fixture.expectError(Status.Code.FAILED_PRECONDITION, () -> Fixture.admin().credit(
                CreditRequest.newBuilder().setRequestId("ovf-" + a.id()).setAgentId(a.id()).setAmountMicros(11)
                        .setCurrencyCode("USD").build()));
        assertTrue(e.getStatus().getDescription().contains("overflow"), e.getStatus().getDescription());
        assertEquals(Long.MAX_VALUE - 10, Fixture.balance(a).getBalanceMicros());
    }

    @Test
    void payAgentMovesMoneyBetweenAgentsUnderThePayersCaps() {
        TestAgent payer = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 2_000_000, true)).build(), 10_000_000);
        TestAgent payee = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 0);
        Entry e = payer.ledger().payAgent(PayAgentRequest.newBuilder().setRequestId("pa-1").setPayeeAgentId(payee.id())
                .setAmountMicros(1_500_000).setCurrencyCode("USD").setTool("agent/research").build()).getEntry();
        assertEquals(EventType.EVENT_TYPE_AGENT_PAYMENT_APPROVED, e.getEventType());
        assertEquals(payee.id(), e.getCounterpartyAgentId());
        assertEquals(1_500_000, Fixture.balance(payee).getBalanceMicros());
        assertEquals(8_500_000, Fixture.balance(payer).getBalanceMicros());
        Entry declined = payer.ledger().payAgent(PayAgentRequest.newBuilder().setRequestId("pa-2").setPayeeAgentId(payee.id())
                .setAmountMicros(600_000).setCurrencyCode("USD").build()).getEntry();
        assertEquals(EventType.EVENT_TYPE_AGENT_PAYMENT_DECLINED, declined.getEventType());
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, declined.getDeclineReason());
        Fixture.expectError(Status.Code.INVALID_ARGUMENT, () -> payer.ledger().payAgent(PayAgentRequest.newBuilder()
                .setRequestId("pa-3").setPayeeAgentId(payer.id()).setAmountMicros(1).setCurrencyCode("USD").build()));
        Fixture.expectError(Status.Code.NOT_FOUND, () -> payer.ledger().payAgent(PayAgentRequest.newBuilder()
                .setRequestId("pa-4").setPayeeAgentId("agt_doesnotexist").setAmountMicros(1).setCurrencyCode("USD").build()));
    }

    @Test
    void completeTaskClosesTheTaskOnce() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        a.ledger().pay(pay(100).setTaskId("job-7").build());
        Entry e = a.ledger().completeTask(CompleteTaskRequest.newBuilder().setRequestId("ct-1").setTaskId("job-7")
                .setOutcome(TaskOutcome.TASK_OUTCOME_SUCCEEDED).build()).getEntry();
        assertEquals(EventType.EVENT_TYPE_TASK_COMPLETED, e.getEventType());
        assertEquals(TaskOutcome.TASK_OUTCOME_SUCCEEDED, e.getTaskOutcome());
        assertEquals("job-7", e.getTaskId());
        Fixture.expectError(Status.Code.FAILED_PRECONDITION, () -> a.ledger().completeTask(CompleteTaskRequest.newBuilder()
                .setRequestId("ct-2").setTaskId("job-7").setOutcome(TaskOutcome.TASK_OUTCOME_FAILED).build()));
        Fixture.expectError(Status.Code.INVALID_ARGUMENT, () -> a.ledger().completeTask(CompleteTaskRequest.newBuilder()
                .setRequestId("ct-3").setTaskId("job-8").build()));
        Entry byAdmin = Fixture.admin().completeTask(CompleteTaskRequest.newBuilder().setRequestId("ct-4").setAgentId(a.id())
                .setTaskId("job-9").setOutcome(TaskOutcome.TASK_OUTCOME_ABANDONED).build()).getEntry();
        assertEquals(a.id(), byAdmin.getAgentId());
    }

    @Test
    void creditAndReversalsAreLinkedNewEntries() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 0);
        Entry credit = Fixture.admin().credit(CreditRequest.newBuilder().setRequestId("cr-" + a.id()).setAgentId(a.id())
                .setAmountMicros(5_000_000).setCurrencyCode("USD").setNote("top-up").build()).getEntry();
        assertEquals(EventType.EVENT_TYPE_CREDIT, credit.getEventType());
        Entry paid = a.ledger().pay(pay(2_000_000).build()).getEntry();
        Entry refund = Fixture.admin().reverse(ReverseRequest.newBuilder().setRequestId("rv-1-" + a.id())
                .setEntryId(paid.getEntryId()).setAmountMicros(500_000).setNote("vendor refund").build()).getEntry();
        assertEquals(EventType.EVENT_TYPE_REVERSAL, refund.getEventType());
        assertEquals(paid.getEntryId(), refund.getReversedEntryId());
        assertEquals(-500_000, refund.getSpendMicros());
        assertEquals(3_500_000, Fixture.balance(a).getBalanceMicros());
        Entry rest = Fixture.admin().reverse(ReverseRequest.newBuilder().setRequestId("rv-2-" + a.id())
                .setEntryId(paid.getEntryId()).build()).getEntry();
        assertEquals(1_500_000, rest.getAmountMicros());
        Fixture.expectError(Status.Code.FAILED_PRECONDITION, () -> Fixture.admin().reverse(ReverseRequest.newBuilder()
                .setRequestId("rv-3-" + a.id()).setEntryId(paid.getEntryId()).build()));
        Fixture.expectError(Status.Code.FAILED_PRECONDITION, () -> Fixture.admin().reverse(ReverseRequest.newBuilder()
                .setRequestId("rv-4-" + a.id()).setEntryId(refund.getEntryId()).build()));
        Fixture.expectError(Status.Code.NOT_FOUND, () -> Fixture.admin().reverse(ReverseRequest.newBuilder()
                .setRequestId("rv-5-" + a.id()).setEntryId("ent_nothere").build()));
        // the original entry is untouched: corrections are new entries
        assertEquals(2, Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE reversed_entry_id = ?", paid.getEntryId()));
        assertEquals(5_000_000, Fixture.balance(a).getBalanceMicros());
    }

    @Test
    void entriesAndPostingsAreAppendOnlyInTheDatabase() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000);
        a.ledger().pay(pay(1).build());
        try (Connection c = Fixture.sql(); Statement st = c.createStatement()) {
            SQLException upd = org.junit.jupiter.api.Assertions.assertThrows(SQLException.class,
                    () -> st.executeUpdate("UPDATE ledger.entries SET amount_micros = 0 WHERE agent_id = '" + a.id() + "'"));
            assertTrue(upd.getMessage().contains("append-only"), upd.getMessage());
            // the payment's transfer is part of its entry row
            SQLException moved = org.junit.jupiter.api.Assertions.assertThrows(SQLException.class,
                    () -> st.executeUpdate("UPDATE ledger.entries SET transfer_micros = 2 WHERE agent_id = '" + a.id() + "'"));
            assertTrue(moved.getMessage().contains("append-only"), moved.getMessage());
            // the postings of earlier releases
            SQLException legacy = org.junit.jupiter.api.Assertions.assertThrows(SQLException.class,
                    () -> st.executeUpdate("TRUNCATE ledger.postings"));
            assertTrue(legacy.getMessage().contains("append-only"), legacy.getMessage());
            org.junit.jupiter.api.Assertions.assertThrows(SQLException.class, () -> st.executeUpdate("TRUNCATE ledger.entries"));
        }
    }

    @Test
    void ledgerConnectionsCommitSynchronously() throws Exception {
        // the embedded test server defaults to synchronous_commit=off; the ledger's pool sets it on
        long sync = Fixture.queryLong("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'ledger-service'");
        assertTrue(sync > 0, "the ledger has connections open");
        assertEquals("on", queries.synchronousCommit().await().atMost(Duration.ofSeconds(10)));
    }

    @Test
    void getBalanceReportsHeadroomInEveryCappedWindow() {
        String team = Fixture.newTeam(cap(CapWindow.CAP_WINDOW_MONTH, 50_000_000, true));
        TestAgent a = Fixture.newAgent(team, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 5_000_000, true))
                .addCaps(cap(CapWindow.CAP_WINDOW_WEEK, 20_000_000, false)).build(), 10_000_000);
        a.ledger().pay(pay(1_000_000).build());
        GetBalanceResponse own = a.ledger().getBalance(GetBalanceRequest.getDefaultInstance());
        assertEquals(9_000_000, own.getBalanceMicros());
        assertEquals(9_000_000, own.getAvailableMicros());
        assertTrue(own.getPolicyFresh());
        assertEquals(3, own.getCapsCount());
        CapStatus day = own.getCapsList().stream().filter(c -> c.getWindow() == CapWindow.CAP_WINDOW_DAY).findFirst().orElseThrow();
        assertEquals(1_000_000, day.getSpentMicros());
        assertEquals(4_000_000, day.getHeadroomMicros());
        assertTrue(day.hasWindowEndTime());
        CapStatus month = own.getCapsList().stream().filter(c -> c.getScope() == CapScope.CAP_SCOPE_TEAM).findFirst().orElseThrow();
        assertEquals(49_000_000, month.getHeadroomMicros());
    }

    @Test
    void listEntriesFiltersAndPages() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        for (int i = 0; i < 5; i++) {
            a.ledger().pay(pay(100 + i).setTool(i % 2 == 0 ? "tool/even" : "tool/odd").setTaskId("task-l").build());
        }
        ListEntriesResponse page1 = Fixture.admin().listEntries(ListEntriesRequest.newBuilder().setAgentId(a.id())
                .setTool("tool/even").setPageSize(2).build());
        assertEquals(2, page1.getEntriesCount());
        assertFalse(page1.getNextPageToken().isEmpty());
        ListEntriesResponse page2 = Fixture.admin().listEntries(ListEntriesRequest.newBuilder().setAgentId(a.id())
                .setTool("tool/even").setPageSize(2).setPageToken(page1.getNextPageToken()).build());
        assertEquals(1, page2.getEntriesCount());
        assertTrue(page2.getNextPageToken().isEmpty());
        assertTrue(page1.getEntries(1).getPosition() < page2.getEntries(0).getPosition());
        assertEquals(5, a.ledger().listEntries(ListEntriesRequest.newBuilder().setTaskId("task-l")
                .setDecision(Decision.DECISION_APPROVED).build()).getEntriesCount());
        assertEquals(0, Fixture.admin().listEntries(ListEntriesRequest.newBuilder().setAgentId(a.id())
                .setDecision(Decision.DECISION_DECLINED).build()).getEntriesCount());
        Fixture.expectError(Status.Code.INVALID_ARGUMENT, () -> Fixture.admin().listEntries(ListEntriesRequest.newBuilder()
                .setPageToken("garbage").build()));
    }
}
