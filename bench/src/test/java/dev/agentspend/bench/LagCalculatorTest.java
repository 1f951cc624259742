package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class LagCalculatorTest {
    private static final long MS = 1_000_000;

    private static LagCalculator.Head head(long ms, long position) {
        return new LagCalculator.Head(ms * MS, position);
    }

    private static LagCalculator.Seen seen(long ms, long position) {
        return new LagCalculator.Seen(ms * MS, position);
    }

    @Test
    void eachHeadWaitsForTheFirstLaterSampleAtOrPastIt() {
        List<LagCalculator.Head> heads = List.of(head(0, 10), head(25, 20), head(50, 30));
        List<LagCalculator.Seen> seen = List.of(seen(1, 5), seen(26, 12), seen(51, 20), seen(76, 30), seen(101, 30));
        LagCalculator.Lags lags = LagCalculator.lags(heads, seen);
        // head 10 at 0 ms: first >= 10 at 26 ms; head 20 at 25: at 51 (26 ms); head 30 at 50: at 76 (26 ms)
        assertEquals(List.of(26_000L, 26_000L, 26_000L), lags.micros());
        assertEquals(0, lags.unresolved());
    }

    @Test
    void aSampleBeforeTheHeadWasSeenDoesNotCountEvenIfItsPositionIsHighEnough() {
        // the consumer was already at 10 at 5 ms, but the head of 10 was read at 10 ms: the lag is to
        // the next sample after the head's, not negative
        LagCalculator.Lags lags = LagCalculator.lags(List.of(head(10, 10)), List.of(seen(5, 10), seen(12, 10)));
        assertEquals(List.of(2_000L), lags.micros());
    }

    @Test
    void headsNeverReachedAreCountedApart() {
        LagCalculator.Lags lags = LagCalculator.lags(List.of(head(0, 5), head(10, 50)), List.of(seen(3, 5), seen(13, 40)));
        assertEquals(List.of(3_000L), lags.micros());
        assertEquals(1, lags.unresolved());
    }

    @Test
    void percentilesAreNearestRank() {
        LagCalculator.Lags lags = new LagCalculator.Lags(List.of(1_000L, 2_000L, 3_000L, 4_000L, 100_000L), 0);
        assertEquals(3.0, lags.percentileMillis(50));
        assertEquals(100.0, lags.percentileMillis(99));
        assertEquals(100.0, lags.maxMillis());
        assertEquals(Double.NaN, new LagCalculator.Lags(List.of(), 0).percentileMillis(50));
    }
}
