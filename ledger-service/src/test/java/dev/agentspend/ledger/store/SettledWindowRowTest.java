package dev.agentspend.ledger.store;

import dev.agentspend.ledger.domain.CounterKey;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * When a window row read under its agent's lock may skip the statement that locks rows and moves
 * closed buckets to ledger.counters: only when that statement would move nothing. The writes that
 * do take it (a window rolling, a delta to an older bucket) run against the database in
 * WindowCountersGrpcTest and HoldsGrpcTest.
 */
class SettledWindowRowTest {
    private static final String[] NOW = {"H:2026-11-29:10", "D:2026-11-29", "W:2026-W48", "M:2026-11"};

    private static List<CounterKey> keys(String... buckets) {
        return java.util.Arrays.stream(buckets).map(b -> new CounterKey("agt_a", b, "")).toList();
    }

    @Test
    void aPaymentInTheRowsCurrentBucketsMovesNothing() {
        assertTrue(CounterStore.nothingMoves(NOW, NOW.clone(), keys(NOW)));
    }

    @Test
    void aRowNotYetWrittenMovesNothing() {
        assertTrue(CounterStore.nothingMoves(NOW, new String[4], keys(NOW)));
        String[] hourOnly = {"H:2026-11-29:10", null, null, null};
        assertTrue(CounterStore.nothingMoves(hourOnly, new String[4], keys("H:2026-11-29:10")));
    }

    @Test
    void aWindowThatRolledMovesItsClosedBucket() {
        String[] next = {"H:2026-11-29:11", "D:2026-11-29", "W:2026-W48", "M:2026-11"};
        assertFalse(CounterStore.nothingMoves(next, NOW.clone(), keys(next)));
        String[] nextMonth = {"H:2026-12-01:00", "D:2026-12-01", "W:2026-W49", "M:2026-12"};
        assertFalse(CounterStore.nothingMoves(nextMonth, NOW.clone(), keys(nextMonth)));
    }

    @Test
    void aDeltaToAnOlderBucketMoves() {
        // a hold placed at 09:xx captured at 10:xx: its release goes to the hour it was placed in
        List<CounterKey> both = keys("H:2026-11-29:09", "H:2026-11-29:10", "D:2026-11-29", "W:2026-W48", "M:2026-11");
        assertFalse(CounterStore.nothingMoves(NOW, NOW.clone(), both));
        // the row is already past the transaction's only bucket (its delta goes to ledger.counters)
        String[] earlier = {"H:2026-11-29:09", "D:2026-11-29", "W:2026-W48", "M:2026-11"};
        assertFalse(CounterStore.nothingMoves(earlier, NOW.clone(), keys(earlier)));
    }
}
