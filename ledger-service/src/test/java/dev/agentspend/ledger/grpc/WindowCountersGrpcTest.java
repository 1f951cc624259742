package dev.agentspend.ledger.grpc;

import com.google.protobuf.util.Durations;
import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.ledger.support.TestClock;
import dev.agentspend.platform.WalInspection;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CapStatus;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import dev.agentspend.proto.ledger.v1.LedgerViolation;
import dev.agentspend.proto.ledger.v1.VerifyLedgerRequest;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.time.Instant;
import java.util.List;
import java.util.Set;

import static dev.agentspend.ledger.grpc.HoldsGrpcTest.capture;
import static dev.agentspend.ledger.grpc.HoldsGrpcTest.hold;
import static dev.agentspend.ledger.grpc.HoldsGrpcTest.release;
import static dev.agentspend.ledger.support.Fixture.cap;
import static dev.agentspend.ledger.support.Fixture.pay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Spend counters across window boundaries (CounterStore): a window's current bucket lives in the
 * scope's window row, a closed one in ledger.counters, and each write lands in the bucket of its
 * own time whichever of the two holds it.
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class WindowCountersGrpcTest {
    private static final String HOLD_TOOL = "anthropic/messages";     // HoldsGrpcTest.hold's
    private static final String PAY_TOOL = "openai/chat.completions"; // Fixture.pay's

    @Inject
    TestClock clock;

    @AfterEach
    void resetClock() {
        clock.reset();
    }

    @Test
    void aHoldFromAClosedHourIsCapturedAndReleasedAgainstThatHour() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_HOUR, 3_000_000, true)).build(), 100_000_000);
        clock.set(Instant.parse("2031-07-01T09:59:30Z"));
        String holdA = a.ledger().hold(hold(1_000_000).setTtl(Durations.fromSeconds(3600)).build()).getHold().getHoldId();
        String holdB = a.ledger().hold(hold(1_000_000).setTtl(Durations.fromSeconds(3600)).build()).getHold().getHoldId();
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(500_000).build()).getEntry().getDecision());

        // a payment in the next hour moves hour 09 out of the agent's window row
        clock.set(Instant.parse("2031-07-01T10:00:10Z"));
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(2_000_000).build()).getEntry().getDecision());
        assertEquals(1, Fixture.queryLong("SELECT COUNT(*) FROM ledger.counters WHERE scope_id = ? AND bucket = 'H:2031-07-01:09' AND tool = ''", a.id()),
                "the closed hour is a row of ledger.counters");

        // hour 09 without hold A: B's 1,000,000 held + 500,000 paid; a capture of 2,000,000 would make it 3,500,000
        Entry refused = a.ledger().capture(capture(holdA, 2_000_000)).getEntry();
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, refused.getDeclineReason());
        assertEquals(1_500_000, refused.getExceededCap().getHeadroomMicros(), "counted against hour 09, not hour 10");
        assertEquals(Decision.DECISION_APPROVED, a.ledger().capture(capture(holdA, 1_500_000)).getEntry().getDecision());
        a.ledger().release(release(holdB));

        // every tool: hour 09 moved to ledger.counters by the payment at 10:00:10, the capture added to it there
        assertEquals(2_000_000, counter(a.id(), "H:2031-07-01:09", "", "spent_micros"));
        assertEquals(0, counter(a.id(), "H:2031-07-01:09", "", "held_micros"));
        assertEquals(2_000_000, counter(a.id(), "H:2031-07-01:10", "", "spent_micros"));
        assertEquals(4_000_000, counter(a.id(), "L", "", "spent_micros"));
        // the holds' tool never paid in hour 10: its hour 09 is still the row's, and the capture added to it there
        assertEquals(1, Fixture.queryLong("SELECT COUNT(*) FROM ledger.window_counters WHERE scope_id = ? AND tool = ? "
                + "AND hour_bucket = 'H:2031-07-01:09'", a.id(), HOLD_TOOL));
        assertEquals(1_500_000, counter(a.id(), "H:2031-07-01:09", HOLD_TOOL, "spent_micros"));
        assertEquals(0, counter(a.id(), "H:2031-07-01:09", HOLD_TOOL, "held_micros"));
        // no cap reads the payments' tool: its row is not written (ToolCountersGrpcTest)
        assertEquals(0, Fixture.queryLong("SELECT COUNT(*) FROM ledger.window_counters WHERE scope_id = ? AND tool = ?",
                a.id(), PAY_TOOL));
        CapStatus hour = hourCap(a);
        assertEquals(2_000_000, hour.getSpentMicros());
        assertEquals(0, hour.getHeldMicros());
        assertEquals(1_000_000, hour.getHeadroomMicros());
        assertNoViolationOf(a);
    }

    @Test
    void aClockBehindTheNewestWindowStillCountsInItsOwnWindow() {
        // what a replica whose clock lags another's by seconds does at midnight
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 5_000_000, true)).build(), 100_000_000);
        clock.set(Instant.parse("2031-08-01T23:59:50Z"));
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(4_000_000).build()).getEntry().getDecision());
        clock.set(Instant.parse("2031-08-02T00:00:05Z"));
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1_000_000).build()).getEntry().getDecision());

        clock.set(Instant.parse("2031-08-01T23:59:58Z"));
        Entry refused = a.ledger().pay(pay(2_000_000).build()).getEntry();
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, refused.getDeclineReason());
        assertEquals(1_000_000, refused.getExceededCap().getHeadroomMicros(), "August 1st's 4,000,000, not August 2nd's 1,000,000");
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1_000_000).build()).getEntry().getDecision());

        clock.set(Instant.parse("2031-08-02T00:00:06Z"));
        assertEquals(5_000_000, counter(a.id(), "D:2031-08-01", "", "spent_micros"));
        assertEquals(1_000_000, counter(a.id(), "D:2031-08-02", "", "spent_micros"));
        CapStatus day = Fixture.balance(a).getCapsList().stream()
                .filter(c -> c.getWindow() == CapWindow.CAP_WINDOW_DAY).findFirst().orElseThrow();
        assertEquals(1_000_000, day.getSpentMicros(), "the late payments stay in August 1st");
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(4_000_000).build()).getEntry().getDecision());
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, a.ledger().pay(pay(1).build()).getEntry().getDeclineReason());
        assertNoViolationOf(a);
    }

    /**
     * A payment to an agent whose window rows exist and whose windows have not rolled updates each
     * row once: no row lock first (the upsert's conflict path locked it, one more WAL record per row
     * per payment). Read from the WAL between the two payments, for the rows' own tuples.
     */
    @Test
    void aPaymentUpdatesAnAgentsExistingWindowRowsWithoutLockingThemFirst() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_HOUR, 50_000_000, true))
                .addCaps(cap(CapWindow.CAP_WINDOW_HOUR, 50_000_000, true).toBuilder().setTool(PAY_TOOL)).build(), 100_000_000);
        clock.set(Instant.parse("2031-08-01T10:00:00Z"));
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1_000_000).build()).getEntry().getDecision());
        clock.set(Instant.parse("2031-08-01T10:00:05Z"));
        try (Connection c = Fixture.sql()) {
            Set<WalInspection.Tuple> rows = WalInspection.tuples(c, "ledger.window_counters", "scope_id = '" + a.id() + "'");
            assertEquals(2, rows.size(), "every tool's row and the payment tool's row (a cap reads it)");
            String from = WalInspection.position(c);

            assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1_000_000).build()).getEntry().getDecision());

            List<String> records = WalInspection.heapRecordTypes(c, from, rows);
            assertEquals(List.of(), records.stream().filter("LOCK"::equals).toList(), "row locks on the agent's window rows");
            assertEquals(2, records.size(), "one update of each of the agent's window rows: " + records);
        }
        assertEquals(2_000_000, counter(a.id(), "H:2031-08-01:10", "", "spent_micros"));
        assertEquals(2_000_000, counter(a.id(), "H:2031-08-01:10", PAY_TOOL, "spent_micros"));
        assertNoViolationOf(a);
    }

    /**
     * The same for a task's counter rows (ledger.counters): the task's second payment updates the
     * rows its first inserted, without the upsert's row lock; and the task cap still sees both.
     */
    @Test
    void aTasksSecondPaymentUpdatesItsCounterRowsWithoutLockingThemFirst() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_TASK, 2_500_000, true)).build(), 100_000_000);
        clock.set(Instant.parse("2031-08-01T10:00:00Z"));
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1_000_000).setTaskId("t-1").build()).getEntry().getDecision());
        try (Connection c = Fixture.sql()) {
            Set<WalInspection.Tuple> rows = WalInspection.tuples(c, "ledger.counters",
                    "scope_id = '" + a.id() + "' AND bucket = 'T:t-1'");
            assertEquals(2, rows.size(), "the task's row for every tool and for the payment's tool");
            String from = WalInspection.position(c);

            assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1_000_000).setTaskId("t-1").build()).getEntry().getDecision());

            List<String> records = WalInspection.heapRecordTypes(c, from, rows);
            assertEquals(List.of(), records.stream().filter("LOCK"::equals).toList(), "row locks on the task's counter rows");
            assertEquals(2, records.size(), "one update of each of the task's rows: " + records);
        }
        assertEquals(2_000_000, counter(a.id(), "T:t-1", "", "spent_micros"));
        assertEquals(2_000_000, counter(a.id(), "T:t-1", PAY_TOOL, "spent_micros"));
        Entry refused = a.ledger().pay(pay(1_000_000).setTaskId("t-1").build()).getEntry();
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, refused.getDeclineReason());
        assertEquals(500_000, refused.getExceededCap().getHeadroomMicros());
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1_000_000).setTaskId("t-2").build()).getEntry().getDecision(),
                "another task starts from nothing");
        assertNoViolationOf(a);
    }

    /**
     * A task is counted only where a TASK cap reads it: an agent without one writes no task rows for
     * its payments (they would only grow ledger.counters, by two rows a task, never read), its holds
     * still count the task (a reservation is released from the rows it was placed in, whatever the
     * policy by then), and a team's TASK cap counts its members' tasks.
     */
    @Test
    void paymentsAreCountedPerTaskOnlyWhereATaskCapReadsThem() {
        clock.set(Instant.parse("2031-09-01T10:00:00Z"));
        TestAgent free = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 50_000_000, true)).build(), 100_000_000);
        assertEquals(Decision.DECISION_APPROVED, free.ledger().pay(pay(1_000).setTaskId("t-free").build()).getEntry().getDecision());
        assertEquals(0, rowsOf(free.id(), "T:t-free"), "no task rows without a TASK cap");
        String hold = free.ledger().hold(HoldsGrpcTest.hold(2_000).setTaskId("t-free").build()).getHold().getHoldId();
        assertEquals(2, rowsOf(free.id(), "T:t-free"), "a hold counts its task");
        free.ledger().capture(HoldsGrpcTest.capture(hold, 1_500));
        assertEquals(1_500, counter(free.id(), "T:t-free", "", "spent_micros"));
        assertEquals(0, counter(free.id(), "T:t-free", "", "held_micros"));
        assertEquals(1_000 + 1_500, counter(free.id(), "D:2031-09-01", "", "spent_micros"), "the windows count every payment");

        String team = Fixture.newTeam(cap(CapWindow.CAP_WINDOW_TASK, 5_000, true));
        TestAgent member = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 100_000_000);
        assertEquals(Decision.DECISION_APPROVED, member.ledger().pay(pay(3_000).setTaskId("t-team").build()).getEntry().getDecision());
        assertEquals(3_000, counter(team, "T:t-team", "", "spent_micros"));
        assertEquals(3_000, counter(member.id(), "T:t-team", "", "spent_micros"));
        Entry over = member.ledger().pay(pay(3_000).setTaskId("t-team").build()).getEntry();
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, over.getDeclineReason());
        assertEquals(CapWindow.CAP_WINDOW_TASK, over.getExceededCap().getWindow());
        assertNoViolationOf(free);
        assertNoViolationOf(member);
    }

    private static long rowsOf(String scopeId, String bucket) {
        return Fixture.queryLong("SELECT COUNT(*) FROM ledger.every_counter WHERE scope_id = ? AND bucket = ?", scopeId, bucket);
    }

    private static long counter(String scopeId, String bucket, String tool, String column) {
        return Fixture.queryLong("SELECT COALESCE(SUM(" + column + "), 0) FROM ledger.every_counter "
                + "WHERE scope_id = ? AND bucket = ? AND tool = ?", scopeId, bucket, tool);
    }

    private static CapStatus hourCap(TestAgent a) {
        return a.ledger().getBalance(GetBalanceRequest.newBuilder().setAgentId(a.id()).build()).getCapsList().stream()
                .filter(c -> c.getWindow() == CapWindow.CAP_WINDOW_HOUR).findFirst().orElseThrow();
    }

    private static void assertNoViolationOf(TestAgent a) {
        List<LedgerViolation> mine = Fixture.admin().verifyLedger(VerifyLedgerRequest.getDefaultInstance()).getViolationsList()
                .stream().filter(v -> v.getSubjectId().contains(a.id())).toList();
        assertTrue(mine.isEmpty(), mine.toString());
    }
}
