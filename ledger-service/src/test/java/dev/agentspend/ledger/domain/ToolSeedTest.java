package dev.agentspend.ledger.domain;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A tool's counters rebuilt from its entries' spend per hour (ToolSeed). */
class ToolSeedTest {
    private static final Instant NOW = Instant.parse("2026-12-01T10:15:00Z");   // a Tuesday, ISO week 49

    private static long hour(String t) {
        return Instant.parse(t).getEpochSecond() / 3_600;
    }

    private static ToolSeed.StoredRow row(String hour, String day, String week, String month, long held) {
        return new ToolSeed.StoredRow(new String[] {hour, day, week, month}, new long[] {held, held, held, held},
                new Long[] {null, 7L, null, null});
    }

    private static final ToolSeed.StoredRow NEW_ROW = new ToolSeed.StoredRow(new String[4], new long[4], new Long[4]);

    private static final Map<Long, Long> SPENT = Map.of(
            hour("2026-12-01T10:00:00Z"), 5L,    // this hour
            hour("2026-12-01T09:00:00Z"), 20L,   // earlier today
            hour("2026-11-30T23:00:00Z"), 300L,  // yesterday, this week
            hour("2026-11-29T12:00:00Z"), 4_000L, // last week (Sunday), last month
            hour("2026-10-31T23:00:00Z"), 50_000L); // the month before

    @Test
    void eachWindowSumsItsHours() {
        Map<String, Long> spent = ToolSeed.spentByBucket(SPENT);
        assertEquals(5L, spent.get("H:2026-12-01:10"));
        assertEquals(25L, spent.get("D:2026-12-01"));
        assertEquals(325L, spent.get("W:2026-W49"));
        assertEquals(25L, spent.get("M:2026-12"));
        assertEquals(4_000L, spent.get("W:2026-W48"));
        assertEquals(4_300L, spent.get("M:2026-11"));
        assertEquals(50_000L, spent.get("M:2026-10"));
        assertEquals(54_325L, spent.get("L"));
    }

    @Test
    void aNewRowGetsTheCurrentBucketsWithTheirSpendAndNothingHeld() {
        ToolSeed.Plan plan = ToolSeed.plan(NOW, NEW_ROW, SPENT, List.of());
        assertEquals(List.of(new ToolSeed.Bucket("H:2026-12-01:10", 5, 0, null), new ToolSeed.Bucket("D:2026-12-01", 25, 0, null),
                new ToolSeed.Bucket("W:2026-W49", 325, 0, null), new ToolSeed.Bucket("M:2026-12", 25, 0, null)),
                List.of(plan.windows()));
        assertEquals(54_325L, plan.lifetimeSpentMicros());
        assertTrue(plan.moved().isEmpty());
    }

    @Test
    void currentBucketsKeepTheirHeldAmountsAndLimits() {
        ToolSeed.Plan plan = ToolSeed.plan(NOW, row("H:2026-12-01:10", "D:2026-12-01", "W:2026-W49", "M:2026-12", 9), SPENT, List.of());
        assertEquals(new ToolSeed.Bucket("H:2026-12-01:10", 5, 9, null), plan.windows()[0]);
        assertEquals(new ToolSeed.Bucket("D:2026-12-01", 25, 9, 7L), plan.windows()[1]);
        assertTrue(plan.moved().isEmpty());
    }

    @Test
    void anOlderBucketLeavesTheRowWithItsOwnSpendAndHeld() {
        // a hold placed yesterday at 23:xx is still open: its buckets are the row's
        ToolSeed.Plan plan = ToolSeed.plan(NOW, row("H:2026-11-30:23", "D:2026-11-30", "W:2026-W49", "M:2026-11", 9), SPENT, List.of());
        assertEquals(new ToolSeed.Bucket("H:2026-12-01:10", 5, 0, null), plan.windows()[0]);
        assertEquals(new ToolSeed.Bucket("D:2026-12-01", 25, 0, null), plan.windows()[1]);
        assertEquals(new ToolSeed.Bucket("W:2026-W49", 325, 9, null), plan.windows()[2], "the same week: it stays");
        assertEquals(new ToolSeed.Bucket("M:2026-12", 25, 0, null), plan.windows()[3]);
        assertEquals(List.of(new ToolSeed.Bucket("H:2026-11-30:23", 300, 9, null), new ToolSeed.Bucket("D:2026-11-30", 300, 9, 7L),
                new ToolSeed.Bucket("M:2026-11", 4_300, 9, null)), plan.moved());
    }

    @Test
    void aBucketLaterThanThisClocksNowStays() {
        ToolSeed.Plan plan = ToolSeed.plan(NOW, row("H:2026-12-01:11", "D:2026-12-01", "W:2026-W49", "M:2026-12", 3),
                Map.of(hour("2026-12-01T11:00:00Z"), 8L), List.of());
        assertEquals(new ToolSeed.Bucket("H:2026-12-01:11", 8, 3, null), plan.windows()[0]);
        assertTrue(plan.moved().isEmpty());
    }

    @Test
    void closedBucketsGetTheirSpend() {
        ToolSeed.Plan plan = ToolSeed.plan(NOW, NEW_ROW, SPENT, List.of("H:2026-11-29:12", "D:2026-11-29", "W:2026-W01"));
        assertEquals(Map.of("H:2026-11-29:12", 4_000L, "D:2026-11-29", 4_000L, "W:2026-W01", 0L), plan.closedSpentMicros());
    }

    @Test
    void aBucketInTwoPlacesIsRefused() {
        assertThrows(IllegalStateException.class, () -> ToolSeed.plan(NOW,
                row("H:2026-12-01:10", "D:2026-12-01", "W:2026-W49", "M:2026-12", 0), SPENT, List.of("D:2026-12-01")));
        assertThrows(IllegalStateException.class, () -> ToolSeed.plan(NOW, NEW_ROW, SPENT, List.of("M:2026-12")));
        assertThrows(IllegalArgumentException.class, () -> ToolSeed.plan(NOW,
                row("D:2026-12-01", "D:2026-12-01", "W:2026-W49", "M:2026-12", 0), SPENT, List.of()));
    }
}
