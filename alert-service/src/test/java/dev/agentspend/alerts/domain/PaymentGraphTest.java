package dev.agentspend.alerts.domain;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class PaymentGraphTest {
    private static final Instant T = Instant.parse("2026-03-04T10:00:00Z");

    private static PaymentGraph graph(Object... edges) {
        PaymentGraph g = new PaymentGraph();
        for (int i = 0; i < edges.length; i += 4) {
            g.add(new PaymentGraph.Payment((String) edges[i], (String) edges[i + 1], (Long) edges[i + 2], (Instant) edges[i + 3]));
        }
        return g;
    }

    @Test
    void findsATwoAgentLoop() {
        PaymentGraph g = graph("a", "b", 5L, T, "b", "a", 4L, T.plusSeconds(1));
        assertEquals(List.of("b", "a"), g.cycleThrough("b", "a", T.minusSeconds(60), 1, 16));
    }

    @Test
    void findsALoopOfFiveAgentsWithItsAmounts() {
        PaymentGraph g = graph("a", "b", 10L, T, "b", "c", 9L, T, "c", "d", 8L, T, "d", "e", 7L, T, "x", "y", 1L, T,
                "e", "a", 6L, T.plusSeconds(1), "a", "b", 3L, T.plusSeconds(2));
        List<String> cycle = g.cycleThrough("e", "a", T.minusSeconds(60), 1, 16);
        assertEquals(List.of("e", "a", "b", "c", "d"), cycle);
        List<String> canonical = PaymentGraph.canonical(cycle);
        assertEquals(List.of("a", "b", "c", "d", "e"), canonical);
        List<Evidence.LoopHop> hops = g.hops(canonical, T.minusSeconds(60));
        assertEquals(new Evidence.LoopHop("a", "b", 13, 2), hops.get(0));
        assertEquals(new Evidence.LoopHop("e", "a", 6, 1), hops.get(4));
    }

    @Test
    void aChainIsNotALoop() {
        PaymentGraph g = graph("a", "b", 5L, T, "b", "c", 5L, T, "c", "d", 5L, T);
        assertTrue(g.cycleThrough("c", "d", T.minusSeconds(60), 1, 16).isEmpty());
    }

    @Test
    void paymentsOutsideTheWindowDoNotCloseALoop() {
        PaymentGraph g = graph("a", "b", 5L, T.minusSeconds(3601), "b", "a", 5L, T);
        assertTrue(g.cycleThrough("b", "a", T.minusSeconds(3600), 1, 16).isEmpty());
        assertFalse(g.stillCycles(List.of("a", "b"), T.minusSeconds(3600), 1));
        assertTrue(g.stillCycles(List.of("a", "b"), T.minusSeconds(3602), 1));
    }

    @Test
    void theMaximumLengthBoundsTheSearch() {
        PaymentGraph g = graph("a", "b", 1L, T, "b", "c", 1L, T, "c", "d", 1L, T, "d", "a", 1L, T);
        assertTrue(g.cycleThrough("d", "a", T.minusSeconds(60), 1, 3).isEmpty());
        assertEquals(4, g.cycleThrough("d", "a", T.minusSeconds(60), 1, 4).size());
    }

    @Test
    void edgesBelowTheMinimumAreIgnored() {
        PaymentGraph g = graph("a", "b", 5L, T, "b", "a", 5L, T);
        assertTrue(g.cycleThrough("b", "a", T.minusSeconds(60), 6, 16).isEmpty());
    }
}
