package dev.agentspend.alerts.domain;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/** Loop search, hop sums and pruning; the kept edge sums against summing the window each time. */
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

    @Test
    void ofTwoShortestLoopsTheSameIsFoundWhateverOrderThePaymentsCameIn() {
        // a -> b -> d -> a and a -> c -> d -> a: searched in agent id order, b before c
        PaymentGraph one = graph("a", "c", 1L, T, "c", "d", 1L, T, "a", "b", 1L, T, "b", "d", 1L, T);
        PaymentGraph other = graph("b", "d", 1L, T, "a", "b", 1L, T, "c", "d", 1L, T, "a", "c", 1L, T);
        for (PaymentGraph g : List.of(one, other)) {
            g.add(new PaymentGraph.Payment("d", "a", 1L, T.plusSeconds(1)));
            assertEquals(List.of("d", "a", "b"), g.cycleThrough("d", "a", T.minusSeconds(60), 1, 16));
        }
    }

    @Test
    void keptEdgeSumsAgreeWithSummingTheWindowAsPaymentsComeAndGo() {
        for (long seed = 1; seed <= 10; seed++) {
            SplittableRandom random = new SplittableRandom(seed);
            PaymentGraph g = new PaymentGraph();
            List<PaymentGraph.Payment> reference = new ArrayList<>();
            long nowMs = T.toEpochMilli();
            for (int step = 0; step < 4_000; step++) {
                int op = random.nextInt(10);
                if (op < 5) {
                    // recorded times a little out of order, as the feed delivers them
                    Instant at = Instant.ofEpochMilli(nowMs - random.nextInt(3_000));
                    PaymentGraph.Payment p = new PaymentGraph.Payment("agt_" + random.nextInt(8), "agt_" + random.nextInt(8),
                            1 + random.nextInt(5), at);
                    g.add(p);
                    reference.add(p);
                    nowMs += random.nextInt(1_000);
                } else if (op < 7) {
                    long cutoff = nowMs - 60_000 - random.nextInt(5_000);
                    reference.removeIf(p -> p.recordedEpochMilli < cutoff);
                    g.prune(Instant.ofEpochMilli(cutoff));
                    assertEquals(reference.size(), g.size());
                } else {
                    // the whole graph, or a shorter window that starts inside it
                    Instant start = Instant.ofEpochMilli(nowMs - (random.nextBoolean() ? 120_000 : random.nextInt(60_000)));
                    String from = "agt_" + random.nextInt(8);
                    String to = "agt_" + random.nextInt(8);
                    long minEdge = 1 + random.nextInt(6);
                    List<String> expected = ReferenceGraph.cycleThrough(reference, from, to, start, minEdge, 5);
                    assertEquals(expected, g.cycleThrough(from, to, start, minEdge, 5), "seed " + seed + " step " + step);
                    if (!expected.isEmpty()) {
                        assertEquals(ReferenceGraph.hops(reference, expected, start), g.hops(expected, start));
                    }
                }
            }
        }
    }

    /** The graph as it was computed before the kept sums: every query sums the window's payments. */
    private static final class ReferenceGraph {
        static Map<String, TreeMap<String, Long>> edges(List<PaymentGraph.Payment> payments, Instant start) {
            Map<String, TreeMap<String, Long>> edges = new HashMap<>();
            for (PaymentGraph.Payment p : payments) {
                if (p.recordedEpochMilli >= start.toEpochMilli()) {
                    edges.computeIfAbsent(p.from, k -> new TreeMap<>()).merge(p.to, p.amountMicros, Long::sum);
                }
            }
            return edges;
        }

        static List<String> cycleThrough(List<PaymentGraph.Payment> payments, String from, String to, Instant start,
                                         long minEdge, int maxLength) {
            Map<String, TreeMap<String, Long>> edges = edges(payments, start);
            if (edges.getOrDefault(from, new TreeMap<>()).getOrDefault(to, 0L) < minEdge) {
                return List.of();
            }
            Map<String, String> parent = new HashMap<>();
            Map<String, Integer> depth = new HashMap<>();
            ArrayDeque<String> queue = new ArrayDeque<>(List.of(to));
            depth.put(to, 1);
            while (!queue.isEmpty()) {
                String node = queue.poll();
                if (node.equals(from)) {
                    List<String> path = new ArrayList<>();
                    for (String n = from; n != null; n = parent.get(n)) {
                        path.add(n);
                    }
                    Collections.reverse(path);
                    List<String> cycle = new ArrayList<>(List.of(from));
                    cycle.addAll(path.subList(0, path.size() - 1));
                    return cycle;
                }
                int d = depth.get(node);
                if (d < maxLength) {
                    for (Map.Entry<String, Long> e : edges.getOrDefault(node, new TreeMap<>()).entrySet()) {
                        if (e.getValue() >= minEdge && !depth.containsKey(e.getKey())) {
                            depth.put(e.getKey(), d + 1);
                            parent.put(e.getKey(), node);
                            queue.add(e.getKey());
                        }
                    }
                }
            }
            return List.of();
        }

        static List<Evidence.LoopHop> hops(List<PaymentGraph.Payment> payments, List<String> cycle, Instant start) {
            List<Evidence.LoopHop> hops = new ArrayList<>();
            for (int i = 0; i < cycle.size(); i++) {
                String a = cycle.get(i);
                String b = cycle.get((i + 1) % cycle.size());
                long sum = 0;
                int count = 0;
                for (PaymentGraph.Payment p : payments) {
                    if (p.recordedEpochMilli >= start.toEpochMilli() && p.from.equals(a) && p.to.equals(b)) {
                        sum += p.amountMicros;
                        count++;
                    }
                }
                hops.add(new Evidence.LoopHop(a, b, sum, count));
            }
            return hops;
        }
    }
}
