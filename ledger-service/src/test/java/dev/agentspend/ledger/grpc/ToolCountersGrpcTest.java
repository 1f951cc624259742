package dev.agentspend.ledger.grpc;

import com.google.protobuf.util.Durations;
import dev.agentspend.common.api.Ids;
import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.ledger.support.TestClock;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.SetAgentPolicyRequest;
import dev.agentspend.proto.identity.v1.SetTeamPolicyRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CapStatus;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.LedgerViolation;
import dev.agentspend.proto.ledger.v1.PayAgentRequest;
import dev.agentspend.proto.ledger.v1.ReverseRequest;
import dev.agentspend.proto.ledger.v1.VerifyLedgerRequest;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.agentspend.ledger.grpc.HoldsGrpcTest.capture;
import static dev.agentspend.ledger.grpc.HoldsGrpcTest.hold;
import static dev.agentspend.ledger.grpc.HoldsGrpcTest.release;
import static dev.agentspend.ledger.support.Fixture.cap;
import static dev.agentspend.ledger.support.Fixture.pay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A tool's window rows count every payment of the tool only once a cap reads them (migration V10,
 * ToolCounters): payments without such a cap leave them alone, and the first decision a cap on
 * the tool bounds rebuilds them from the entries, exactly, whatever was paid, held, captured or
 * reversed before.
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class ToolCountersGrpcTest {
    private static final String TOOL = "openai/chat.completions";       // Fixture.pay's
    private static final String HOLD_TOOL = "anthropic/messages";       // HoldsGrpcTest.hold's

    private static final Instant NOON = Instant.parse("2032-04-01T12:00:00Z");

    @Inject
    TestClock clock;

    @Inject
    PolicyCache policies;

    @AfterEach
    void resetClock() {
        clock.reset();
    }

    @Test
    void aToolsRowIsWrittenByPaymentsOnlyOnceACapReadsIt() {
        clock.set(NOON);   // one hour and day for the whole test
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 50_000_000, true)).build(), 100_000_000);
        approved(a, 1_000, TOOL);
        assertEquals(0, rows(a.id(), TOOL), "no cap reads the tool's row: the payment does not write it");
        assertEquals(1_000, rowValue(a.id(), "", "lifetime_spent"));
        a.ledger().hold(hold(2_000).build());
        assertEquals(1, rows(a.id(), HOLD_TOOL), "a hold writes its tool's row: held amounts are exact in every row");
        assertFalse(complete(a.id(), HOLD_TOOL));
        assertEquals(2_000, rowValue(a.id(), HOLD_TOOL, "lifetime_held"));

        setAgentCaps(a, cap(CapWindow.CAP_WINDOW_DAY, 50_000_000, true), toolCap(CapWindow.CAP_WINDOW_LIFETIME, 50_000_000));
        approved(a, 500, TOOL);
        assertTrue(complete(a.id(), TOOL));
        assertEquals(1_500, rowValue(a.id(), TOOL, "lifetime_spent"), "rebuilt from the entries, then the payment");
        approved(a, 250, TOOL);
        assertEquals(1_750, rowValue(a.id(), TOOL, "lifetime_spent"), "counted from then on");
        assertEquals(1_750, rowValue(a.id(), "", "lifetime_spent"));
        assertFalse(complete(a.id(), HOLD_TOOL), "no cap reads the other tool's row");
        assertNoViolationOf(a.id());
    }

    /**
     * Payments in every window before the cap, another tool's, a capture counted in its hold's hour
     * and a reversal (which no counter counts): the first payment after the cap is decided against
     * each window's exact spend of the tool.
     */
    @Test
    void aCapSetAfterSpendOnItsToolSeesThatSpendInEveryWindow() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 100_000_000);
        clock.set(Instant.parse("2032-02-20T08:00:00Z"));
        Entry february = approved(a, 1_000, TOOL);
        clock.set(Instant.parse("2032-03-01T09:00:00Z"));    // a Monday: the week before
        approved(a, 2_000, TOOL);
        clock.set(Instant.parse("2032-03-09T12:00:00Z"));    // yesterday, this week
        approved(a, 4_000, TOOL);
        clock.set(Instant.parse("2032-03-10T08:00:00Z"));    // today, hour 08
        approved(a, 8_000, TOOL);
        clock.set(Instant.parse("2032-03-10T09:50:00Z"));
        String held = a.ledger().hold(hold(32_000).setTool(TOOL).setTtl(Durations.fromSeconds(3_600)).build()).getHold().getHoldId();
        clock.set(Instant.parse("2032-03-10T10:05:00Z"));
        approved(a, 16_000, TOOL);
        approved(a, 100_000, "another/tool");
        clock.set(Instant.parse("2032-03-10T10:10:00Z"));
        assertEquals(Decision.DECISION_APPROVED, a.ledger().capture(capture(held, 30_000)).getEntry().getDecision());
        Fixture.admin().reverse(ReverseRequest.newBuilder().setRequestId("rv-" + Ids.randomBase32(12))
                .setEntryId(february.getEntryId()).setNote("refund").build());
        assertFalse(complete(a.id(), TOOL), "holds and captures wrote the row, payments did not");

        clock.set(Instant.parse("2032-03-10T10:20:00Z"));
        setAgentCaps(a, toolCap(CapWindow.CAP_WINDOW_HOUR, 16_500), toolCap(CapWindow.CAP_WINDOW_DAY, 100_000),
                toolCap(CapWindow.CAP_WINDOW_WEEK, 100_000), toolCap(CapWindow.CAP_WINDOW_MONTH, 100_000),
                toolCap(CapWindow.CAP_WINDOW_LIFETIME, 100_000));
        approved(a, 1, TOOL);
        List<CapStatus> caps = Fixture.balance(a).getCapsList();
        assertEquals(16_001, spent(caps, CapWindow.CAP_WINDOW_HOUR), "hour 10: the capture is in its hold's hour 09");
        assertEquals(8_000 + 30_000 + 16_001, spent(caps, CapWindow.CAP_WINDOW_DAY));
        assertEquals(4_000 + 54_001, spent(caps, CapWindow.CAP_WINDOW_WEEK));
        assertEquals(2_000 + 58_001, spent(caps, CapWindow.CAP_WINDOW_MONTH));
        assertEquals(1_000 + 60_001, spent(caps, CapWindow.CAP_WINDOW_LIFETIME), "the reversal does not count");
        assertEquals(30_000, counter(a.id(), "H:2032-03-10:09", TOOL, "spent_micros"), "the hold's hour left the row with its spend");

        Entry refused = a.ledger().pay(pay(600).build()).getEntry();
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, refused.getDeclineReason());
        assertEquals(CapWindow.CAP_WINDOW_HOUR, refused.getExceededCap().getWindow());
        assertEquals(499, refused.getExceededCap().getHeadroomMicros());
        approved(a, 499, TOOL);
        assertNoViolationOf(a.id());
    }

    @Test
    void aHoldPlacedBeforeTheCapAndReleasedAfterItsSeedLeavesNothingHeld() {
        clock.set(NOON);   // one hour and day for the whole test
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 100_000_000);
        approved(a, 1_000, TOOL);
        String held = a.ledger().hold(hold(5_000).setTool(TOOL).build()).getHold().getHoldId();
        setAgentCaps(a, toolCap(CapWindow.CAP_WINDOW_HOUR, 10_000));

        // GetBalance rebuilds the row too: its figures are those the next decision sees
        CapStatus hour = Fixture.balance(a).getCaps(0);
        assertEquals(1_000, hour.getSpentMicros());
        assertEquals(5_000, hour.getHeldMicros());
        assertTrue(complete(a.id(), TOOL));
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, a.ledger().pay(pay(4_001).build()).getEntry().getDeclineReason());

        a.ledger().release(release(held));
        hour = Fixture.balance(a).getCaps(0);
        assertEquals(0, hour.getHeldMicros());
        assertEquals(9_000, hour.getHeadroomMicros());
        approved(a, 9_000, TOOL);
        assertNoViolationOf(a.id());
    }

    @Test
    void aCaptureOverItsHoldIsDecidedAgainstTheToolsRebuiltSpend() {
        clock.set(NOON);   // one hour and day for the whole test
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 100_000_000);
        approved(a, 2_000, TOOL);
        String held = a.ledger().hold(hold(5_000).setTool(TOOL).build()).getHold().getHoldId();
        setAgentCaps(a, toolCap(CapWindow.CAP_WINDOW_LIFETIME, 8_000));

        Entry over = a.ledger().capture(capture(held, 7_000)).getEntry();
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, over.getDeclineReason(), "2,000 paid before the cap + 7,000");
        assertEquals(6_000, over.getExceededCap().getHeadroomMicros());
        assertEquals(Decision.DECISION_APPROVED, a.ledger().capture(capture(held, 6_000)).getEntry().getDecision());
        assertEquals(8_000, rowValue(a.id(), TOOL, "lifetime_spent"));
        assertEquals(0, rowValue(a.id(), TOOL, "lifetime_held"));
        assertNoViolationOf(a.id());
    }

    @Test
    void anAgentPaymentIsDecidedAgainstTheToolsRebuiltSpend() {
        clock.set(NOON);   // one hour and day for the whole test
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 100_000_000);
        TestAgent b = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 0);
        approved(a, 2_000, TOOL);
        setAgentCaps(a, toolCap(CapWindow.CAP_WINDOW_DAY, 3_000));
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, payAgent(a, b, 1_500).getDeclineReason());
        assertEquals(Decision.DECISION_APPROVED, payAgent(a, b, 1_000).getDecision());
        assertNoViolationOf(a.id());
    }

    @Test
    void aTeamCapOnAToolSeesItsMembersEarlierSpend() {
        clock.set(NOON);   // one hour and day for the whole test
        String team = Fixture.newTeam();
        TestAgent a = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 100_000_000);
        TestAgent b = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 100_000_000);
        approved(a, 3_000, TOOL);
        approved(b, 4_000, TOOL);
        assertEquals(0, rows(team, TOOL));
        Fixture.identity().setTeamPolicy(SetTeamPolicyRequest.newBuilder().setRequestId("tp-" + Ids.randomBase32(12))
                .setTeamId(team).addCaps(toolCap(CapWindow.CAP_WINDOW_DAY, 10_000)).build());
        awaitCapOnTool(a);
        awaitCapOnTool(b);

        Entry over = a.ledger().pay(pay(3_001).build()).getEntry();
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, over.getDeclineReason());
        assertEquals(3_000, over.getExceededCap().getHeadroomMicros());
        approved(b, 3_000, TOOL);
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, a.ledger().pay(pay(1).build()).getEntry().getDeclineReason());
        assertEquals(10_000, rowValue(team, TOOL, "lifetime_spent"));
        assertEquals(0, rows(a.id(), TOOL), "the team's cap reads the team's row, not its members'");
        assertNoViolationOf(team);
    }

    /**
     * Payments, holds and captures of the tool from several clients while caps on it arrive (the
     * agent's and its team's): each is counted once, in the entries' sums VerifyLedger checks.
     */
    @Test
    void paymentsRacingTheSeedAreEachCountedOnce() throws Exception {
        clock.set(NOON);
        String team = Fixture.newTeam();
        TestAgent a = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 1_000_000_000);
        TestAgent b = Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 1_000_000_000);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger calls = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(5);
        try {
            List<Future<?>> clients = new ArrayList<>();
            for (TestAgent agent : List.of(a, a, b, b)) {
                clients.add(pool.submit(() -> {
                    while (!stop.get()) {
                        approved(agent, 1_000, TOOL);
                        calls.incrementAndGet();
                    }
                    return null;
                }));
            }
            clients.add(pool.submit(() -> {
                while (!stop.get()) {
                    String held = a.ledger().hold(hold(3_000).setTool(TOOL).build()).getHold().getHoldId();
                    a.ledger().capture(capture(held, 2_000));
                    calls.incrementAndGet();
                }
                return null;
            }));
            Fixture.await(Duration.ofSeconds(20), "calls before the caps", () -> calls.get() >= 100);
            Fixture.identity().setTeamPolicy(SetTeamPolicyRequest.newBuilder().setRequestId("tp-" + Ids.randomBase32(12))
                    .setTeamId(team).addCaps(toolCap(CapWindow.CAP_WINDOW_DAY, 900_000_000)).build());
            setAgentCaps(a, toolCap(CapWindow.CAP_WINDOW_LIFETIME, 900_000_000));
            int atCaps = calls.get();
            Fixture.await(Duration.ofSeconds(20), "calls after the caps", () -> calls.get() >= atCaps + 100);
            stop.set(true);
            for (Future<?> c : clients) {
                c.get();
            }
        } finally {
            stop.set(true);
            pool.shutdownNow();
        }
        assertTrue(complete(a.id(), TOOL));
        assertTrue(complete(team, TOOL));
        assertFalse(complete(b.id(), TOOL), "no cap of b's own reads its row");
        assertEquals(Fixture.queryLong("SELECT SUM(spend_micros) FROM ledger.entries WHERE team_id = ? AND tool = ?", team, TOOL),
                rowValue(team, TOOL, "lifetime_spent"));
        assertNoViolationOf(a.id());
        assertNoViolationOf(team);
    }

    /** A row a replica of the release before V10 inserted (complete = false) is rebuilt before a cap reads it. */
    @Test
    void aRowThatDoesNotCountEveryPaymentIsRebuiltBeforeACapReadsIt() throws Exception {
        clock.set(NOON);   // one hour and day for the whole test
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(toolCap(CapWindow.CAP_WINDOW_LIFETIME, 10_000)).build(), 100_000_000);
        approved(a, 1_000, TOOL);
        assertTrue(complete(a.id(), TOOL));
        approved(a, 2_000, "another/tool");
        try (Connection c = Fixture.sql(); var st = c.createStatement()) {
            st.executeUpdate("UPDATE ledger.window_counters SET complete = false, lifetime_spent = 7, hour_spent = 7, "
                    + "day_spent = 7 WHERE scope_id = '" + a.id() + "' AND tool = '" + TOOL + "'");
        }
        assertEquals(DeclineReason.DECLINE_REASON_CAP_EXCEEDED, a.ledger().pay(pay(9_001).build()).getEntry().getDeclineReason());
        assertTrue(complete(a.id(), TOOL));
        assertEquals(1_000, rowValue(a.id(), TOOL, "lifetime_spent"));
        assertEquals(1_000, rowValue(a.id(), TOOL, "day_spent"));
        approved(a, 9_000, TOOL);
        assertNoViolationOf(a.id());
    }

    /** VerifyLedger checks a complete tool row's spend against the entries, and every row's held amount. */
    @Test
    void verifyLedgerChecksEveryToolRowItCan() throws Exception {
        clock.set(NOON);   // one hour and day for the whole test
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(toolCap(CapWindow.CAP_WINDOW_LIFETIME, 10_000)).build(), 100_000_000);
        approved(a, 1_000, TOOL);
        a.ledger().hold(hold(2_000).build());
        assertNoViolationOf(a.id());
        try (Connection c = Fixture.sql(); var st = c.createStatement()) {
            st.executeUpdate("UPDATE ledger.window_counters SET lifetime_spent = lifetime_spent + 1 WHERE scope_id = '"
                    + a.id() + "' AND tool = '" + TOOL + "'");
            st.executeUpdate("UPDATE ledger.window_counters SET lifetime_held = lifetime_held - 1 WHERE scope_id = '"
                    + a.id() + "' AND tool = '" + HOLD_TOOL + "'");
            List<LedgerViolation> found = violationsOf(a.id());
            assertEquals(List.of("holds " + a.id() + " " + HOLD_TOOL, "spend_counters " + a.id() + " " + TOOL),
                    found.stream().map(v -> v.getCheck() + " " + v.getSubjectId()).sorted().toList(), found.toString());
        } finally {
            try (Connection c = Fixture.sql(); var st = c.createStatement()) {
                st.executeUpdate("UPDATE ledger.window_counters SET lifetime_spent = lifetime_spent - 1 WHERE scope_id = '"
                        + a.id() + "' AND tool = '" + TOOL + "'");
                st.executeUpdate("UPDATE ledger.window_counters SET lifetime_held = lifetime_held + 1 WHERE scope_id = '"
                        + a.id() + "' AND tool = '" + HOLD_TOOL + "'");
            }
        }
        assertNoViolationOf(a.id());
    }

    private static Cap toolCap(CapWindow window, long limit) {
        return cap(window, limit, true).toBuilder().setTool(TOOL).build();
    }

    private void setAgentCaps(TestAgent a, Cap... caps) {
        Fixture.identity().setAgentPolicy(SetAgentPolicyRequest.newBuilder().setRequestId("pol-" + Ids.randomBase32(12))
                .setAgentId(a.id()).setPolicy(SpendingPolicy.newBuilder().addAllCaps(List.of(caps))).build());
        awaitCapOnTool(a);
    }

    /** Until the ledger's policy cache has a cap on TOOL for the agent (without asking the ledger over gRPC, which would count the tool). */
    private void awaitCapOnTool(TestAgent a) {
        Fixture.await(Duration.ofSeconds(10), "the ledger to learn the cap on " + TOOL, () -> policies.agent(a.id())
                .map(p -> !policies.view(p).toolRowScopes(TOOL).isEmpty()).orElse(false));
    }

    private static Entry approved(TestAgent a, long micros, String tool) {
        Entry e = a.ledger().pay(pay(micros).setTool(tool).build()).getEntry();
        assertEquals(Decision.DECISION_APPROVED, e.getDecision(), e.toString());
        return e;
    }

    private static Entry payAgent(TestAgent from, TestAgent to, long micros) {
        return from.ledger().payAgent(PayAgentRequest.newBuilder().setRequestId("pa-" + Ids.randomBase32(16))
                .setPayeeAgentId(to.id()).setAmountMicros(micros).setCurrencyCode("USD").setTool(TOOL).build()).getEntry();
    }

    private static long spent(List<CapStatus> caps, CapWindow window) {
        return caps.stream().filter(c -> c.getWindow() == window).findFirst().orElseThrow().getSpentMicros();
    }

    private static long rows(String scopeId, String tool) {
        return Fixture.queryLong("SELECT COUNT(*) FROM ledger.window_counters WHERE scope_id = ? AND tool = ?", scopeId, tool);
    }

    private static boolean complete(String scopeId, String tool) {
        return Fixture.queryLong("SELECT COUNT(*) FROM ledger.window_counters WHERE scope_id = ? AND tool = ? AND complete",
                scopeId, tool) == 1;
    }

    private static long rowValue(String scopeId, String tool, String column) {
        return Fixture.queryLong("SELECT " + column + " FROM ledger.window_counters WHERE scope_id = ? AND tool = ?", scopeId, tool);
    }

    private static long counter(String scopeId, String bucket, String tool, String column) {
        return Fixture.queryLong("SELECT COALESCE(SUM(" + column + "), 0) FROM ledger.every_counter "
                + "WHERE scope_id = ? AND bucket = ? AND tool = ?", scopeId, bucket, tool);
    }

    private static List<LedgerViolation> violationsOf(String subject) {
        return Fixture.admin().verifyLedger(VerifyLedgerRequest.getDefaultInstance()).getViolationsList()
                .stream().filter(v -> v.getSubjectId().contains(subject)).toList();
    }

    private static void assertNoViolationOf(String subject) {
        List<LedgerViolation> mine = violationsOf(subject);
        assertTrue(mine.isEmpty(), mine.toString());
    }
}
