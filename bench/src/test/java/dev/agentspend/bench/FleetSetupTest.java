package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FleetSetupTest {
    private static long count(List<BenchAgent.Kind> kinds, BenchAgent.Kind kind) {
        return kinds.stream().filter(k -> k == kind).count();
    }

    @Test
    void twoPercentOfTheFleetIsTightHalfByCapHalfByBalanceAndTheHotAgentComesLast() {
        List<BenchAgent.Kind> kinds = FleetSetup.plan(1000);
        assertEquals(1001, kinds.size());
        assertEquals(10, count(kinds, BenchAgent.Kind.TIGHT_CAP));
        assertEquals(10, count(kinds, BenchAgent.Kind.TIGHT_BALANCE));
        assertEquals(BenchAgent.Kind.HOT, kinds.get(1000));
        assertEquals(1, count(kinds, BenchAgent.Kind.HOT));
    }

    @Test
    void aSmallFleetStillHasOneTightAgentOfEachKind() {
        List<BenchAgent.Kind> kinds = FleetSetup.plan(20);
        assertEquals(1, count(kinds, BenchAgent.Kind.TIGHT_CAP));
        assertEquals(1, count(kinds, BenchAgent.Kind.TIGHT_BALANCE));
    }

    @Test
    void tightLimitsBindWithinAFewPaymentsAndTheOthersNever() {
        assertTrue(FleetSetup.dayCap(BenchAgent.Kind.TIGHT_CAP) < 10 * FleetSetup.MAX_AMOUNT);
        assertTrue(FleetSetup.TIGHT_HEADROOM < FleetSetup.MAX_AMOUNT, "a payment can be declined from the start");
        assertTrue(FleetSetup.credit(BenchAgent.Kind.TIGHT_BALANCE) < 10 * FleetSetup.MAX_AMOUNT);
        assertTrue(FleetSetup.credit(BenchAgent.Kind.NORMAL) >= 10_000 * FleetSetup.MAX_AMOUNT, "10,000 payments each");
        assertTrue(FleetSetup.dayCap(BenchAgent.Kind.HOT) > FleetSetup.credit(BenchAgent.Kind.HOT));
    }
}
