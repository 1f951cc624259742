package dev.agentspend.alerts.domain;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The graph of recent agent-to-agent payments. When a payment u -> v arrives, a path v -> ... -> u
 * over payments inside the window closes a cycle of any length: found by breadth-first search, so
 * the shortest such cycle is reported, and bounded by a maximum length.
 */
public final class PaymentGraph {
    /** One payment on an edge. */
    public static final class Payment {
        public String from;
        public String to;
        public long amountMicros;
        public long recordedEpochMilli;

        public Payment() {
        }

        public Payment(String from, String to, long amountMicros, Instant recorded) {
            this.from = from;
            this.to = to;
            this.amountMicros = amountMicros;
            this.recordedEpochMilli = recorded.toEpochMilli();
        }
    }

    /** Payments in recorded order; older ones are pruned. */
    public List<Payment> payments = new ArrayList<>();

    public void add(Payment p) {
        payments.add(p);
    }

    /** Drops payments recorded before the cutoff. */
    public void prune(Instant cutoff) {
        long c = cutoff.toEpochMilli();
        payments.removeIf(p -> p.recordedEpochMilli < c);
    }

    /**
     * The shortest cycle through the edge from -> to among payments recorded at or after
     * windowStart with at least minEdgeMicros per edge, as the list of agents in payment order
     * starting with {@code from}; empty if there is none within maxLength agents.
     */
    public List<String> cycleThrough(String from, String to, Instant windowStart, long minEdgeMicros, int maxLength) {
        Map<String, Map<String, Long>> edges = edgeSums(windowStart);
        if (edges.getOrDefault(from, Map.of()).getOrDefault(to, 0L) < minEdgeMicros) {
            return List.of();
        }
        // BFS from `to` looking for `from`.
        Map<String, String> parent = new HashMap<>();
        Map<String, Integer> depth = new HashMap<>();
        Deque<String> queue = new ArrayDeque<>();
        queue.add(to);
        depth.put(to, 1);
        parent.put(to, null);
        while (!queue.isEmpty()) {
            String node = queue.poll();
            if (node.equals(from)) {
                List<String> path = new ArrayList<>();
                for (String n = from; n != null; n = parent.get(n)) {
                    path.add(n);
                }
                Collections.reverse(path); // to ... from
                List<String> cycle = new ArrayList<>();
                cycle.add(from);
                cycle.addAll(path.subList(0, path.size() - 1));
                return cycle;
            }
            int d = depth.get(node);
            if (d >= maxLength) {
                continue;
            }
            for (Map.Entry<String, Long> e : edges.getOrDefault(node, Map.of()).entrySet()) {
                if (e.getValue() >= minEdgeMicros && !depth.containsKey(e.getKey())) {
                    depth.put(e.getKey(), d + 1);
                    parent.put(e.getKey(), node);
                    queue.add(e.getKey());
                }
            }
        }
        return List.of();
    }

    /** Sum and count of the payments on each edge of the cycle within the window. */
    public List<Evidence.LoopHop> hops(List<String> cycle, Instant windowStart) {
        long c = windowStart.toEpochMilli();
        List<Evidence.LoopHop> hops = new ArrayList<>();
        for (int i = 0; i < cycle.size(); i++) {
            String a = cycle.get(i);
            String b = cycle.get((i + 1) % cycle.size());
            long sum = 0;
            int count = 0;
            for (Payment p : payments) {
                if (p.recordedEpochMilli >= c && p.from.equals(a) && p.to.equals(b)) {
                    sum += p.amountMicros;
                    count++;
                }
            }
            hops.add(new Evidence.LoopHop(a, b, sum, count));
        }
        return hops;
    }

    /** Whether every edge of the cycle still has at least minEdgeMicros of payments in the window. */
    public boolean stillCycles(List<String> cycle, Instant windowStart, long minEdgeMicros) {
        for (Evidence.LoopHop h : hops(cycle, windowStart)) {
            if (h.payments() == 0 || h.amountMicros() < minEdgeMicros) {
                return false;
            }
        }
        return true;
    }

    /** The cycle rotated to start at its smallest agent id: the same loop gives the same key. */
    public static List<String> canonical(List<String> cycle) {
        int min = 0;
        for (int i = 1; i < cycle.size(); i++) {
            if (cycle.get(i).compareTo(cycle.get(min)) < 0) {
                min = i;
            }
        }
        List<String> out = new ArrayList<>(cycle.size());
        for (int i = 0; i < cycle.size(); i++) {
            out.add(cycle.get((min + i) % cycle.size()));
        }
        return out;
    }

    private Map<String, Map<String, Long>> edgeSums(Instant windowStart) {
        long c = windowStart.toEpochMilli();
        Map<String, Map<String, Long>> edges = new LinkedHashMap<>();
        for (Payment p : payments) {
            if (p.recordedEpochMilli >= c) {
                edges.computeIfAbsent(p.from, k -> new LinkedHashMap<>()).merge(p.to, p.amountMicros, Long::sum);
            }
        }
        return edges;
    }

    public Set<String> agents() {
        Set<String> s = new HashSet<>();
        for (Payment p : payments) {
            s.add(p.from);
            s.add(p.to);
        }
        return s;
    }
}
