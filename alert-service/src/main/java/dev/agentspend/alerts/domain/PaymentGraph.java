package dev.agentspend.alerts.domain;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The graph of recent agent-to-agent payments. When a payment u -> v arrives, a path v -> ... -> u
 * over payments inside the window closes a cycle of any length: found by breadth-first search, so
 * the shortest such cycle is reported, and bounded by a maximum length. Neighbours are searched in
 * agent id order, so that of two shortest cycles the same one is found whatever order the payments
 * came in.
 *
 * <p>Every entry of the feed prunes the graph and every agent payment searches it, so neither may
 * cost the whole window: payments are held by recorded time (pruning takes the oldest off, at any
 * degree of disorder in the feed), and each edge's sum and count over every payment held is kept as
 * payments come and go. A search whose window starts after the oldest payment held (an agent's own
 * shorter window, or a window ending before a later entry) sums that window's payments instead.
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

    /** Payments by recorded time (epoch milli), in arrival order within a millisecond. */
    private final TreeMap<Long, List<Payment>> byTime = new TreeMap<>();
    private int size;
    /** Per payer, per payee in id order: {sum of amounts, number of payments} over every payment held. */
    private final Map<String, TreeMap<String, long[]>> edges = new HashMap<>();

    public void add(Payment p) {
        byTime.computeIfAbsent(p.recordedEpochMilli, k -> new ArrayList<>(1)).add(p);
        size++;
        addToEdge(edges, p, 1);
    }

    /** Drops payments recorded before the cutoff; returns how many it dropped. */
    public int prune(Instant cutoff) {
        SortedMap<Long, List<Payment>> old = byTime.headMap(cutoff.toEpochMilli());
        int dropped = 0;
        for (List<Payment> sameTime : old.values()) {
            for (Payment p : sameTime) {
                addToEdge(edges, p, -1);
                dropped++;
            }
        }
        old.clear();
        size -= dropped;
        assert size >= 0 : "size " + size;
        return dropped;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    public int size() {
        return size;
    }

    /** Every payment held, by recorded time: the stored form of the graph. */
    public List<Payment> payments() {
        List<Payment> all = new ArrayList<>(size);
        byTime.values().forEach(all::addAll);
        return all;
    }

    /**
     * The shortest cycle through the edge from -> to among payments recorded at or after
     * windowStart with at least minEdgeMicros per edge, as the list of agents in payment order
     * starting with {@code from}; empty if there is none within maxLength agents.
     */
    public List<String> cycleThrough(String from, String to, Instant windowStart, long minEdgeMicros, int maxLength) {
        Map<String, TreeMap<String, long[]>> edges = edgesSince(windowStart);
        if (edgeOf(edges, from, to)[0] < minEdgeMicros) {
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
            for (Map.Entry<String, long[]> e : edges.getOrDefault(node, EMPTY).entrySet()) {
                if (e.getValue()[0] >= minEdgeMicros && !depth.containsKey(e.getKey())) {
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
        Map<String, TreeMap<String, long[]>> edges = edgesSince(windowStart);
        List<Evidence.LoopHop> hops = new ArrayList<>();
        for (int i = 0; i < cycle.size(); i++) {
            String a = cycle.get(i);
            String b = cycle.get((i + 1) % cycle.size());
            long[] edge = edgeOf(edges, a, b);
            hops.add(new Evidence.LoopHop(a, b, edge[0], Math.toIntExact(edge[1])));
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

    private static final TreeMap<String, long[]> EMPTY = new TreeMap<>();

    /** The edges over the payments recorded at or after windowStart: the kept sums when that is all of them. */
    private Map<String, TreeMap<String, long[]>> edgesSince(Instant windowStart) {
        long c = windowStart.toEpochMilli();
        if (byTime.isEmpty() || byTime.firstKey() >= c) {
            return edges;
        }
        Map<String, TreeMap<String, long[]>> inWindow = new HashMap<>();
        for (List<Payment> sameTime : byTime.tailMap(c, true).values()) {
            for (Payment p : sameTime) {
                addToEdge(inWindow, p, 1);
            }
        }
        return inWindow;
    }

    private static long[] edgeOf(Map<String, TreeMap<String, long[]>> edges, String from, String to) {
        long[] edge = edges.getOrDefault(from, EMPTY).get(to);
        return edge == null ? new long[2] : edge;
    }

    private static void addToEdge(Map<String, TreeMap<String, long[]>> edges, Payment p, int sign) {
        TreeMap<String, long[]> out = edges.computeIfAbsent(p.from, k -> new TreeMap<>());
        long[] edge = out.computeIfAbsent(p.to, k -> new long[2]);
        edge[0] += sign * p.amountMicros;
        edge[1] += sign;
        assert edge[1] >= 0 : "edge " + p.from + " -> " + p.to + " dropped more payments than it had";
        if (edge[1] == 0) {
            out.remove(p.to);
            if (out.isEmpty()) {
                edges.remove(p.from);
            }
        }
    }
}
