package dev.agentspend.analytics.domain;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.LocalDate;
import java.util.List;

import static dev.agentspend.analytics.domain.EntryFacts.Kind.*;
import static org.junit.jupiter.api.Assertions.*;

/** The aggregation rules on a small history with retries, holds, a reversal, a decline, a flow and a late entry. */
class BatchDeltaTest {
    private static final Instant T = Instant.parse("2026-11-29T10:00:30Z");

    private static EntryFacts e(long pos, EntryFacts.Kind kind, boolean approved, String tool, String task, int attempt,
                                String counterparty, long amount, long spend, String hold, int outcome, Instant at) {
        return new EntryFacts(pos, kind, approved, "agt_a", "team_x", "USD", tool, task, attempt, counterparty, amount,
                spend, hold, outcome, at);
    }

    private final List<EntryFacts> history = List.of(
            e(1, PAYMENT, true, "llm", "t1", 1, "", 100, 100, "", 0, T),
            e(2, PAYMENT, true, "llm", "t1", 2, "", 50, 50, "", 0, T.plusSeconds(15)),
            e(3, PAYMENT, false, "llm", "t1", 3, "", 70, 0, "", 0, T.plusSeconds(30)),
            e(4, HOLD_PLACED, true, "search", "t1", 1, "", 200, 0, "h1", 0, T.plusSeconds(60)),
            e(5, HOLD_CAPTURED, true, "search", "t1", 1, "", 150, 150, "h1", 0, T.plusSeconds(90)),
            e(6, REVERSAL, true, "llm", "t1", 2, "", 50, -50, "", 0, T.plusSeconds(150)),
            e(7, TASK_COMPLETED, true, "", "t1", 0, "", 0, 0, "", 1, T.plusSeconds(210)),
            e(8, AGENT_PAYMENT, true, "", "", 0, "agt_b", 30, 30, "", 0, T.plusSeconds(270)),
            e(9, HOLD_PLACED, true, "search", "", 1, "", 40, 0, "h2", 0, T.plusSeconds(280)),
            e(10, PAYMENT, true, "llm", "t2", 1, "", 5, 5, "", 0, Instant.parse("2026-11-28T23:59:10Z")),
            e(11, HOLD_ENDED, true, "search", "", 1, "", 999, 0, "h0", 0, T.plusSeconds(290)),
            e(12, OTHER, true, "", "", 0, "", 1_000_000, 0, "", 0, T.plusSeconds(300)));

    /** Every minute of the history already rolled up: the batch adds all of it to the day sums too. */
    private static final Instant ALL_ROLLED = Instant.parse("2026-12-01T00:00:00Z");

    @Test
    void minuteBucketsSumSpendCallsRetriesAndDeclinesApart() {
        BatchDelta d = BatchDelta.of(history, ALL_ROLLED);
        BatchDelta.Sums first = d.toolMinutes.get(new BatchDelta.ToolKey("agt_a", Instant.parse("2026-11-29T10:00:00Z"), "llm", "team_x"));
        assertEquals(150, first.spendMicros);
        assertEquals(2, first.calls);
        assertEquals(1, first.retryCalls);
        assertEquals(50, first.retrySpendMicros);
        assertEquals(0, first.declines);
        BatchDelta.Sums declined = d.toolMinutes.get(new BatchDelta.ToolKey("agt_a", Instant.parse("2026-11-29T10:01:00Z"), "llm", "team_x"));
        assertEquals(0, declined.spendMicros);
        assertEquals(0, declined.calls);
        assertEquals(1, declined.declines);
        assertEquals(70, declined.declinedMicros);
        BatchDelta.Sums reversal = d.toolMinutes.get(new BatchDelta.ToolKey("agt_a", Instant.parse("2026-11-29T10:03:00Z"), "llm", "team_x"));
        assertEquals(-50, reversal.spendMicros);
        assertEquals(0, reversal.calls);
        assertEquals(-50, reversal.retrySpendMicros, "the refund of a retry takes its spend back from retry spend");
        assertNull(d.toolMinutes.get(new BatchDelta.ToolKey("agt_a", Instant.parse("2026-11-29T10:01:00Z"), "search", "team_x")),
                "a hold placed adds nothing until it is captured");
    }

    @Test
    void amountsAskedInDeclinesSaturateInsteadOfOverflowing() {
        // the ledger declines any positive amount: two of the largest, one minute, one tool
        List<EntryFacts> huge = List.of(
                e(1, PAYMENT, false, "llm", "", 1, "", Long.MAX_VALUE, 0, "", 0, T),
                e(2, PAYMENT, false, "llm", "", 1, "", Long.MAX_VALUE, 0, "", 0, T.plusSeconds(1)),
                e(3, PAYMENT, false, "llm", "", 1, "", 5, 0, "", 0, T.plusSeconds(2)));
        BatchDelta d = BatchDelta.of(huge, ALL_ROLLED);
        BatchDelta.Sums s = d.toolMinutes.get(new BatchDelta.ToolKey("agt_a", Instant.parse("2026-11-29T10:00:00Z"), "llm", "team_x"));
        assertEquals(3, s.declines);
        assertEquals(Long.MAX_VALUE, s.declinedMicros);
        assertEquals(7, BatchDelta.addSaturated(2, 5));
        assertEquals(Long.MAX_VALUE, BatchDelta.addSaturated(Long.MAX_VALUE - 1, 2));
        assertThrows(IllegalArgumentException.class, () -> BatchDelta.addSaturated(-1, 2));
    }

    @Test
    void dayRollupsAndTheLateEntryInItsOwnDay() {
        BatchDelta d = BatchDelta.of(history, ALL_ROLLED);
        BatchDelta.Sums llm = d.lateToolDays.get(new BatchDelta.ToolDayKey("agt_a", LocalDate.parse("2026-11-29"), "llm", "team_x"));
        assertEquals(100 + 50 - 50, llm.spendMicros);
        assertEquals(2, llm.calls);
        assertEquals(1, llm.retryCalls);
        assertEquals(0, llm.retrySpendMicros);
        BatchDelta.Sums search = d.lateToolDays.get(new BatchDelta.ToolDayKey("agt_a", LocalDate.parse("2026-11-29"), "search", "team_x"));
        assertEquals(150, search.spendMicros);
        BatchDelta.Sums today = d.lateAgentDays.get(new BatchDelta.AgentDayKey("agt_a", LocalDate.parse("2026-11-29")));
        assertEquals(100 + 50 + 150 - 50 + 30, today.spendMicros);
        assertEquals(4, today.calls);
        assertEquals(1, today.declines);
        BatchDelta.Sums yesterday = d.lateAgentDays.get(new BatchDelta.AgentDayKey("agt_a", LocalDate.parse("2026-11-28")));
        assertEquals(5, yesterday.spendMicros);
        assertEquals(1, yesterday.calls);
    }

    @Test
    void tasksFlowsHoldsAndAgents() {
        BatchDelta d = BatchDelta.of(history, ALL_ROLLED);
        BatchDelta.TaskDelta t1 = d.tasks.get(new BatchDelta.TaskKey("agt_a", "t1"));
        assertEquals(100 + 50 + 150 - 50, t1.costMicros);
        assertEquals(3, t1.calls);
        assertEquals(1, t1.retryCalls);
        assertEquals(T, t1.firstPayment);
        assertEquals(T.plusSeconds(90), t1.lastPayment);
        assertEquals(1, t1.outcome);
        assertEquals(T.plusSeconds(210), t1.completedTime);
        BatchDelta.FlowDelta flow = d.flows.get(new BatchDelta.FlowKey("agt_a", "agt_b", Instant.parse("2026-11-29T10:05:00Z")));
        assertEquals(30, flow.amountMicros);
        assertEquals(1, flow.payments);
        BatchDelta.FlowDelta flowDay = d.lateFlowDays.get(new BatchDelta.FlowDayKey("agt_a", "agt_b", LocalDate.parse("2026-11-29")));
        assertEquals(30, flowDay.amountMicros, "its minute is rolled up: the flow goes to its day at once");
        assertEquals(1, flowDay.payments);
        assertFalse(d.holdsOpened.containsKey("h1"), "h1 was placed and captured in the same batch");
        assertFalse(d.holdsClosed.contains("h1"));
        assertEquals(40, d.holdsOpened.get("h2").amountMicros());
        assertTrue(d.holdsClosed.contains("h0"), "a hold placed in an earlier batch is closed");
        assertEquals(List.of("agt_a", "agt_b"), List.copyOf(d.agents.keySet()));
        assertEquals(12, d.lastPosition());
        assertEquals(12, d.entryCount());
    }

    @Test
    void onlyEntriesOfMinutesAlreadyRolledUpGoToTheDaySums() {
        // rolled up through 10:02: the minutes 10:00 and 10:01 are in the day rows already, and so
        // is the late entry of the 28th; 10:02 on reaches them with the rollup of its minute
        BatchDelta d = BatchDelta.of(history, Instant.parse("2026-11-29T10:02:00Z"));
        BatchDelta.Sums llm = d.lateToolDays.get(new BatchDelta.ToolDayKey("agt_a", LocalDate.parse("2026-11-29"), "llm", "team_x"));
        assertEquals(100 + 50, llm.spendMicros, "the reversal at 10:03 is left to the rollup");
        assertEquals(1, llm.declines);
        assertNull(d.lateToolDays.get(new BatchDelta.ToolDayKey("agt_a", LocalDate.parse("2026-11-29"), "search", "team_x")),
                "the capture at 10:02 is left to the rollup");
        assertEquals(150, d.lateAgentDays.get(new BatchDelta.AgentDayKey("agt_a", LocalDate.parse("2026-11-29"))).spendMicros);
        assertEquals(5, d.lateAgentDays.get(new BatchDelta.AgentDayKey("agt_a", LocalDate.parse("2026-11-28"))).spendMicros);
        long minutes = d.toolMinutes.values().stream().mapToLong(x -> x.spendMicros).sum();
        assertEquals(100 + 50 + 150 - 50 + 30 + 5, minutes, "the minutes get every entry");

        assertTrue(d.lateFlowDays.isEmpty(), "the flow at 10:05 is left to the rollup");
        assertEquals(1, d.flows.size());

        BatchDelta none = BatchDelta.of(history, Instant.parse("2026-11-28T00:00:00Z"));
        assertTrue(none.lateToolDays.isEmpty());
        assertTrue(none.lateAgentDays.isEmpty());
        assertTrue(none.lateFlowDays.isEmpty());
    }

    @Test
    void theRollupHorizonLeavesTheCurrentAndThePreviousMinuteAndNeverMovesBack() {
        Instant now = Instant.parse("2026-11-29T10:05:42Z");
        assertEquals(Instant.parse("2026-11-29T10:04:00Z"), DayRollup.horizon(now));
        assertEquals(Instant.parse("2026-11-29T10:04:00Z"), DayRollup.next(Instant.parse("2026-11-29T09:00:00Z"), now));
        Instant ahead = Instant.parse("2026-11-29T10:30:00Z");
        assertEquals(ahead, DayRollup.next(ahead, now), "a clock behind W leaves W where it is");
    }

    @Test
    void refusesEntriesOutOfOrder() {
        BatchDelta d = BatchDelta.of(List.of(), ALL_ROLLED);
        d.add(history.get(1));
        assertThrows(IllegalArgumentException.class, () -> d.add(history.get(0)));
    }

    @Test
    void bucketsAtOccurredTimeUnlessItIsAfterTheRecordedTime() {
        Instant recorded = Instant.parse("2026-11-29T10:00:00Z");
        assertEquals(recorded, Bucketing.bucketTime(null, recorded));
        assertEquals(Instant.parse("2026-11-28T09:00:00Z"), Bucketing.bucketTime(Instant.parse("2026-11-28T09:00:00Z"), recorded));
        assertEquals(recorded, Bucketing.bucketTime(recorded.plusSeconds(5), recorded), "clock skew never counts in the future");
    }
}
