package dev.agentspend.ledger.grpc;

import com.google.protobuf.util.Durations;
import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.ledger.support.TestClock;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CaptureRequest;
import dev.agentspend.proto.ledger.v1.CaptureResponse;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import dev.agentspend.proto.ledger.v1.HoldRequest;
import dev.agentspend.proto.ledger.v1.HoldResponse;
import dev.agentspend.proto.ledger.v1.HoldStatus;
import dev.agentspend.proto.ledger.v1.ListEntriesRequest;
import dev.agentspend.proto.ledger.v1.ReleaseRequest;
import dev.agentspend.proto.ledger.v1.ReverseRequest;
import dev.agentspend.common.api.Ids;
import io.grpc.Status;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.agentspend.ledger.support.Fixture.cap;
import static dev.agentspend.ledger.support.Fixture.pay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class HoldsGrpcTest {
    @Inject
    TestClock clock;

    @Inject
    HoldSweeper sweeper;

    @AfterEach
    void resetClock() {
        clock.reset();
    }

    static HoldRequest.Builder hold(long micros) {
        return HoldRequest.newBuilder().setRequestId("hold-" + Ids.randomBase32(16)).setAmountMicros(micros)
                .setCurrencyCode("USD").setTool("anthropic/messages");
    }

    static CaptureRequest capture(String holdId, long micros) {
        return CaptureRequest.newBuilder().setRequestId("cap-" + Ids.randomBase32(16)).setHoldId(holdId).setAmountMicros(micros).build();
    }

    static ReleaseRequest release(String holdId) {
        return ReleaseRequest.newBuilder().setRequestId("rel-" + Ids.randomBase32(16)).setHoldId(holdId).build();
    }

    @Test
    void aHoldCountsAgainstCapsAndBalanceUntilCapturedLower() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 5_000_000, true)).build(), 10_000_000);
        HoldResponse h = a.ledger().hold(hold(4_000_000).build());
        assertEquals(EventType.EVENT_TYPE_HOLD_PLACED, h.getEntry().getEventType());
        assertEquals(HoldStatus.HOLD_STATUS_OPEN, h.getHold().getStatus());
        assertTrue(h.getHold().hasExpireTime());
        assertEquals(4_000_000, Fixture.balance(a).getHeldMicros());
        assertEquals(6_000_000, Fixture.balance(a).getAvailableMicros());
        Entry declined = a.ledger().pay(pay(2_000_000).build()).getEntry();
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, declined.getDeclineReason());
        assertEquals(1_000_000, declined.getExceededCap().getHeadroomMicros());
        CaptureResponse c = a.ledger().capture(capture(h.getHold().getHoldId(), 3_000_000));
        assertEquals(EventType.EVENT_TYPE_HOLD_CAPTURED, c.getEntry().getEventType());
        assertEquals(3_000_000, c.getEntry().getSpendMicros());
        assertEquals(HoldStatus.HOLD_STATUS_CAPTURED, c.getHold().getStatus());
        assertEquals(7_000_000, c.getEntry().getBalanceMicros());
        assertEquals(0, Fixture.balance(a).getHeldMicros());
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(2_000_000).build()).getEntry().getDecision());
        Fixture.expectError(Status.Code.FAILED_PRECONDITION, () -> a.ledger().capture(capture(h.getHold().getHoldId(), 1)));
    }

    @Test
    void captureAboveTheHoldOnlyWithinCapsAndBalance() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 5_000_000, true)).build(), 100_000_000);
        String holdId = a.ledger().hold(hold(2_000_000).build()).getHold().getHoldId();
        CaptureResponse over = a.ledger().capture(capture(holdId, 6_000_000));
        assertEquals(EventType.EVENT_TYPE_CAPTURE_DECLINED, over.getEntry().getEventType());
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, over.getEntry().getDeclineReason());
        assertEquals(HoldStatus.HOLD_STATUS_OPEN, over.getHold().getStatus());
        assertEquals(2_000_000, Fixture.balance(a).getHeldMicros());
        CaptureResponse ok = a.ledger().capture(capture(holdId, 5_000_000));
        assertEquals(EventType.EVENT_TYPE_HOLD_CAPTURED, ok.getEntry().getEventType());
        assertEquals(95_000_000, Fixture.balance(a).getBalanceMicros());

        TestAgent poor = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 3_000_000);
        String h2 = poor.ledger().hold(hold(2_000_000).build()).getHold().getHoldId();
        assertEquals(DeclineReason.DECLINE_REASON_INSUFFICIENT_BALANCE,
                poor.ledger().capture(capture(h2, 3_000_001)).getEntry().getDeclineReason());
        assertEquals(Decision.DECISION_APPROVED, poor.ledger().capture(capture(h2, 3_000_000)).getEntry().getDecision());
        assertEquals(0, Fixture.balance(poor).getBalanceMicros());
    }

    @Test
    void releaseFreesTheHeadroom() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 5_000_000, true)).build(), 10_000_000);
        String holdId = a.ledger().hold(hold(5_000_000).build()).getHold().getHoldId();
        assertEquals(Decision.DECISION_DECLINED, a.ledger().pay(pay(1).build()).getEntry().getDecision());
        Entry released = a.ledger().release(release(holdId)).getEntry();
        assertEquals(EventType.EVENT_TYPE_HOLD_RELEASED, released.getEventType());
        assertEquals(5_000_000, released.getAmountMicros());
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(5_000_000).build()).getEntry().getDecision());
        Fixture.expectError(Status.Code.FAILED_PRECONDITION, () -> a.ledger().release(release(holdId)));
        Fixture.expectError(Status.Code.NOT_FOUND, () -> a.ledger().release(release("hold_doesnotexist")));
    }

    @Test
    void maxConcurrentHoldsIsEnforced() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder().setMaxConcurrentHolds(2).build(), 10_000_000);
        String first = a.ledger().hold(hold(1).build()).getHold().getHoldId();
        a.ledger().hold(hold(1).build());
        HoldResponse third = a.ledger().hold(hold(1).build());
        assertEquals(EventType.EVENT_TYPE_HOLD_DECLINED, third.getEntry().getEventType());
        assertEquals(DeclineReason.DECLINE_REASON_HOLD_LIMIT_REACHED, third.getEntry().getDeclineReason());
        a.ledger().release(release(first));
        assertEquals(EventType.EVENT_TYPE_HOLD_PLACED, a.ledger().hold(hold(1).build()).getEntry().getEventType());
    }

    @Test
    void anExpiredHoldNeverLeaksHeadroom() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_MONTH, 5_000_000, true)).build(), 5_000_000);
        HoldResponse h = a.ledger().hold(hold(5_000_000).setTtl(Durations.fromSeconds(60)).build());
        assertEquals(Decision.DECISION_DECLINED, a.ledger().pay(pay(1).build()).getEntry().getDecision());
        sweeper.setEnabled(false);
        try {
            clock.advance(Duration.ofSeconds(61));
            // with no sweeper, the payment itself releases the overdue hold inside its locked transaction
            Entry paid = a.ledger().pay(pay(5_000_000).build()).getEntry();
            assertEquals(Decision.DECISION_APPROVED, paid.getDecision());
            List<Entry> expired = Fixture.admin().listEntries(ListEntriesRequest.newBuilder().setAgentId(a.id())
                    .addEventTypes(EventType.EVENT_TYPE_HOLD_EXPIRED).build()).getEntriesList();
            assertEquals(1, expired.size());
            assertEquals(h.getHold().getHoldId(), expired.get(0).getHoldId());
            assertEquals(paid.getPosition() - 1, expired.get(0).getPosition());
            assertEquals(paid.getRecordedTime(), expired.get(0).getRecordedTime(), "recorded by the same transaction");
        } finally {
            sweeper.setEnabled(true);
        }
        Fixture.expectError(Status.Code.FAILED_PRECONDITION, () -> a.ledger().capture(capture(h.getHold().getHoldId(), 1)));
    }

    @Test
    void anExpiredHoldNeverBlocksAReversal() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 5_000_000);
        Entry credit = Fixture.admin().listEntries(ListEntriesRequest.newBuilder().setAgentId(a.id())
                .addEventTypes(EventType.EVENT_TYPE_CREDIT).build()).getEntries(0);
        String holdId = a.ledger().hold(hold(5_000_000).setTtl(Durations.fromSeconds(60)).build()).getHold().getHoldId();
        sweeper.setEnabled(false);
        try {
            clock.advance(Duration.ofSeconds(61));
            // nothing swept: the reversal itself releases the overdue hold before it checks what is available
            Entry reversal = Fixture.admin().reverse(ReverseRequest.newBuilder()
                    .setRequestId("rev-" + Ids.randomBase32(16)).setEntryId(credit.getEntryId()).setNote("refund").build())
                    .getEntry();
            assertEquals(EventType.EVENT_TYPE_REVERSAL, reversal.getEventType());
            assertEquals(0, reversal.getBalanceMicros());
            List<Entry> expired = Fixture.admin().listEntries(ListEntriesRequest.newBuilder().setAgentId(a.id())
                    .addEventTypes(EventType.EVENT_TYPE_HOLD_EXPIRED).build()).getEntriesList();
            assertEquals(1, expired.size());
            assertEquals(holdId, expired.get(0).getHoldId());
            assertEquals(reversal.getPosition() - 1, expired.get(0).getPosition(), "released by the same transaction");
        } finally {
            sweeper.setEnabled(true);
        }
    }

    @Test
    void aCaptureAboveAHoldPlacedInAnotherTeamIsHeldToThatTeamsCaps() {
        String placedIn = Fixture.newTeam(cap(CapWindow.CAP_WINDOW_DAY, 1_000_000, true));
        String movedTo = Fixture.newTeam();
        TestAgent x = Fixture.newAgent(placedIn, SpendingPolicy.getDefaultInstance(), 10_000_000);
        String holdId = x.ledger().hold(hold(500_000).setTtl(Durations.fromSeconds(600)).build()).getHold().getHoldId();
        Fixture.identity().updateAgent(dev.agentspend.proto.identity.v1.UpdateAgentRequest.newBuilder()
                .setRequestId("move-" + Ids.randomBase32(12)).setAgentId(x.id()).addUpdateMask("team_id")
                .setTeamId(movedTo).build());
        Fixture.await(Duration.ofSeconds(10), "the ledger to see the agent in its new team",
                () -> x.ledger().pay(pay(1).build()).getEntry().getTeamId().equals(movedTo));

        // counted in the hold's placement, so the team it was placed in must have room for all of it
        Entry refused = x.ledger().capture(capture(holdId, 1_200_000)).getEntry();
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, refused.getDeclineReason());
        assertEquals(placedIn, refused.getTeamId());
        Entry captured = x.ledger().capture(capture(holdId, 900_000)).getEntry();
        assertEquals(EventType.EVENT_TYPE_HOLD_CAPTURED, captured.getEventType());
        assertLedgerConsistent();
    }

    @Test
    void aTeammatesOverdueHoldHoldsTheTeamsHeadroomUntilItIsReleased() {
        String team = Fixture.newTeam(cap(CapWindow.CAP_WINDOW_MONTH, 5_000_000, true));
        TestAgent x = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 10_000_000);
        TestAgent y = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 10_000_000);
        String holdId = x.ledger().hold(hold(5_000_000).setTtl(Durations.fromSeconds(60)).build()).getHold().getHoldId();
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, y.ledger().pay(pay(1).build()).getEntry().getDeclineReason());
        sweeper.setEnabled(false);
        try {
            clock.advance(Duration.ofSeconds(61));
            // x is idle and nothing swept: only a transaction holding x's lock may decide its hold is
            // gone (a capture of it that began before the expiry may still be deciding)
            assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, y.ledger().pay(pay(1).build()).getEntry().getDeclineReason());
            assertEquals(1, Fixture.queryLong("SELECT COUNT(*) FROM ledger.holds WHERE hold_id = ? AND status = 1", holdId));
        } finally {
            sweeper.setEnabled(true);
        }
        Fixture.await(Duration.ofSeconds(10), "the sweeper to expire the hold", () ->
                Fixture.queryLong("SELECT COUNT(*) FROM ledger.holds WHERE hold_id = ? AND status = 4", holdId) == 1);
        assertEquals(Decision.DECISION_APPROVED, y.ledger().pay(pay(5_000_000).build()).getEntry().getDecision());
        assertEquals(Decision.DECISION_DECLINED, y.ledger().pay(pay(1).build()).getEntry().getDecision());
        assertLedgerConsistent();
    }

    @Test
    void aCaptureBegunBeforeItsHoldExpiredAndATeammatesLaterPaymentNeverOverrunTheTeamsHardCap() throws Exception {
        String team = Fixture.newTeam(cap(CapWindow.CAP_WINDOW_MONTH, 5_000_000, true));
        TestAgent x = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 10_000_000);
        TestAgent y = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 10_000_000);
        String holdId = x.ledger().hold(hold(5_000_000).setTtl(Durations.fromSeconds(60)).build()).getHold().getHoldId();
        ExecutorService calls = Executors.newSingleThreadExecutor();
        sweeper.setEnabled(false);
        try (Connection lock = Fixture.sql(); Statement st = lock.createStatement()) {
            // the capture takes its time before the expiry, then waits for x's row
            lock.setAutoCommit(false);
            st.executeQuery("SELECT 1 FROM ledger.agent_state WHERE agent_id = '" + x.id() + "' FOR UPDATE").close();
            Future<CaptureResponse> capture = calls.submit(() -> x.ledger().capture(capture(holdId, 5_000_000)));
            Fixture.await(Duration.ofSeconds(10), "the capture waiting for x's row",
                    () -> Fixture.ledgerConnectionsWaitingForALock() > 0);
            clock.advance(Duration.ofSeconds(61));
            // judged after the expiry, while the capture of the hold is still undecided
            Entry paid = y.ledger().pay(pay(5_000_000).build()).getEntry();
            lock.rollback();
            Entry captured = capture.get(30, TimeUnit.SECONDS).getEntry();
            assertEquals(EventType.EVENT_TYPE_HOLD_CAPTURED, captured.getEventType(), "judged at its own time, before the expiry");
            assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, paid.getDeclineReason(),
                    "the hold still counted when the payment was decided");
        } finally {
            sweeper.setEnabled(true);
            calls.shutdownNow();
        }
        assertEquals(5_000_000, Fixture.queryLong("SELECT COALESCE(SUM(amount_micros), 0) FROM ledger.entries "
                + "WHERE team_id = ? AND event_type IN (1, 5)", team), "spent by the team");
        assertLedgerConsistent();
    }

    @Test
    void aCaptureAboveItsHoldJudgesTheTeamByCountersReadUnderTheTeamsLock() throws Exception {
        String team = Fixture.newTeam(cap(CapWindow.CAP_WINDOW_DAY, 100, true));
        TestAgent a = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 10_000);
        TestAgent b = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 10_000);
        a.ledger().hold(hold(10).setTtl(Durations.fromSeconds(1)).build());
        String h2 = a.ledger().hold(hold(50).setTtl(Durations.fromSeconds(60)).build()).getHold().getHoldId();
        assertEquals(Decision.DECISION_APPROVED, b.ledger().pay(pay(30).build()).getEntry().getDecision());
        // the team: 30 spent, 60 held, one hold of 10 overdue that nothing has released yet
        List<Entry> answers = whileTheTeamIsLocked(team, List.of(
                () -> b.ledger().pay(pay(10).build()).getEntry(),
                () -> a.ledger().capture(capture(h2, 70)).getEntry()));
        // b first (it waited first): 30 + 60 + 10; then the capture: 40 spent, and 70 in place of its 50
        assertEquals(Decision.DECISION_APPROVED, answers.get(0).getDecision());
        assertEquals(EventType.EVENT_TYPE_CAPTURE_DECLINED, answers.get(1).getEventType(), answers.get(1).toString());
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, answers.get(1).getDeclineReason());
        assertTeamWithinItsCap(team, 100);
    }

    @Test
    void anAgentPaymentJudgesTheTeamByCountersReadUnderTheTeamsLock() throws Exception {
        String team = Fixture.newTeam(cap(CapWindow.CAP_WINDOW_DAY, 100, true));
        TestAgent a = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 10_000);
        TestAgent b = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 10_000);
        TestAgent payee = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 0);
        a.ledger().hold(hold(10).setTtl(Durations.fromSeconds(1)).build());
        assertEquals(Decision.DECISION_APPROVED, b.ledger().pay(pay(80).build()).getEntry().getDecision());
        // the team: 80 spent, a's hold of 10 overdue that nothing has released yet
        List<Entry> answers = whileTheTeamIsLocked(team, List.of(
                () -> b.ledger().pay(pay(10).build()).getEntry(),
                () -> a.ledger().payAgent(dev.agentspend.proto.ledger.v1.PayAgentRequest.newBuilder()
                        .setRequestId("pa-" + Ids.randomBase32(16)).setPayeeAgentId(payee.id()).setAmountMicros(20)
                        .setCurrencyCode("USD").build()).getEntry()));
        assertEquals(Decision.DECISION_APPROVED, answers.get(0).getDecision());
        assertEquals(Decision.DECISION_DECLINED, answers.get(1).getDecision(), "90 spent: 20 more is over 100");
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, answers.get(1).getDeclineReason());
        assertTeamWithinItsCap(team, 100);
    }

    /**
     * Makes the held-back overdue hold overdue, then sends each call in turn while a test session
     * holds the team's row, each once the one before waits for it, and answers them in that order
     * once the row is let go (PostgreSQL grants a row's waiters in the order they came).
     */
    private List<Entry> whileTheTeamIsLocked(String team, List<java.util.concurrent.Callable<Entry>> calls) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(calls.size());
        sweeper.setEnabled(false);
        try (Connection lock = Fixture.sql(); Statement st = lock.createStatement()) {
            clock.advance(Duration.ofSeconds(2));
            lock.setAutoCommit(false);
            st.executeQuery("SELECT 1 FROM ledger.team_state WHERE team_id = '" + team + "' FOR UPDATE").close();
            List<Future<Entry>> sent = new java.util.ArrayList<>();
            for (java.util.concurrent.Callable<Entry> call : calls) {
                long waiting = Fixture.ledgerConnectionsWaitingForALock();
                sent.add(pool.submit(call));
                Fixture.await(Duration.ofSeconds(10), "the call waiting for the team's row",
                        () -> Fixture.ledgerConnectionsWaitingForALock() > waiting);
            }
            lock.rollback();
            List<Entry> out = new java.util.ArrayList<>();
            for (Future<Entry> f : sent) {
                out.add(f.get(30, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            sweeper.setEnabled(true);
            pool.shutdownNow();
        }
    }

    private static void assertLedgerConsistent() {
        var verify = Fixture.admin().verifyLedger(dev.agentspend.proto.ledger.v1.VerifyLedgerRequest.getDefaultInstance());
        assertTrue(verify.getConsistent(), verify.getViolationsList().toString());
    }

    private static void assertTeamWithinItsCap(String team, long capMicros) {
        long spent = Fixture.queryLong("SELECT COALESCE(SUM(spend_micros), 0) FROM ledger.entries WHERE team_id = ?", team);
        assertTrue(spent <= capMicros, "the team spent " + spent + " against a HARD cap of " + capMicros);
        assertLedgerConsistent();
    }

    @Test
    void theSweeperRecordsExpiriesOfIdleAgents() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 5_000_000);
        String holdId = a.ledger().hold(hold(2_000_000).setTtl(Durations.fromSeconds(30)).build()).getHold().getHoldId();
        clock.advance(Duration.ofSeconds(31));
        Fixture.await(Duration.ofSeconds(10), "the sweeper to expire the hold", () ->
                Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE hold_id = ? AND event_type = 8", holdId) == 1);
        assertEquals(0, Fixture.queryLong("SELECT held_micros FROM ledger.agent_state WHERE agent_id = ?", a.id()));
        assertEquals(5_000_000, Fixture.balance(a).getAvailableMicros());
        Fixture.expectError(Status.Code.INVALID_ARGUMENT, () -> a.ledger().hold(hold(1).setTtl(Durations.fromDays(2)).build()));
    }
}
