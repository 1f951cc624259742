package dev.agentspend.ledger.domain;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PayQueueTest {
    /** A payment: its agent and its place in arrival order. */
    record P(String agent, int seq) {
    }

    private final PayQueue<P> q = new PayQueue<>(P::agent);
    private int seq;

    private void add(String... agents) {
        for (String a : agents) {
            q.add(new P(a, seq++));
        }
    }

    private static List<String> agents(List<P> batch) {
        return batch.stream().map(P::agent).toList();
    }

    @Test
    void withNothingInFlightOnePaymentStartsABatchAtOnce() {
        add("a");
        assertEquals(List.of("a"), agents(q.next(2, 512, 16)));
        assertEquals(1, q.batchesInFlight());
        assertEquals(0, q.size());
    }

    @Test
    void aBatchBesideAnotherTakesOnlyAgentsNotInFlightAndTheOthersKeepTheirOrder() {
        add("a", "b");
        List<P> first = q.next(2, 512, 2);
        add("a", "c", "b", "d", "a");
        assertEquals(2, q.free());
        List<P> second = q.next(2, 512, 2);
        assertEquals(List.of("c", "d"), agents(second));
        assertEquals(List.of(), q.next(3, 512, 4), "what is left is all in flight, fewer than the minimum");
        q.finished(first);
        assertEquals(3, q.free());
        List<P> third = q.next(2, 512, 1);
        assertEquals(List.of("a", "b", "a"), agents(third));
        assertEquals(List.of(2, 4, 6), third.stream().map(P::seq).toList(), "arrival order kept");
    }

    @Test
    void besideAnotherFewerFreePaymentsThanTheMinimumWait() {
        add("a");
        List<P> first = q.next(2, 512, 3);
        add("b", "c", "a", "a");
        assertEquals(List.of(), q.next(2, 512, 3), "two free, the minimum is three");
        add("d");
        assertEquals(List.of("b", "c", "d"), agents(q.next(2, 512, 3)));
        q.finished(first);
        assertEquals(2, q.free());
    }

    @Test
    void oneHotAgentQueuesItsSecondBatchBehindTheFirst() {
        add("hot");
        q.next(2, 512, 3);
        add("hot", "hot");
        assertEquals(List.of(), q.next(2, 512, 3), "fewer than the minimum wait");
        add("hot");
        assertEquals(List.of("hot", "hot", "hot"), agents(q.next(2, 512, 3)),
                "nothing free: the batch takes them all and waits for the agent's lock in the database");
        assertEquals(2, q.batchesInFlight());
    }

    @Test
    void sizeAndInFlightLimitsHold() {
        add("a", "b", "c", "d", "e");
        assertEquals(List.of("a", "b"), agents(q.next(2, 2, 1)));
        assertEquals(List.of("c", "d"), agents(q.next(2, 2, 1)));
        assertEquals(List.of(), q.next(2, 2, 1), "two in flight");
        assertEquals(1, q.size());
        assertThrows(IllegalArgumentException.class, () -> q.next(0, 1, 1));
        assertThrows(IllegalStateException.class, () -> new PayQueue<P>(P::agent).finished(List.of()));
    }

    /**
     * Random arrivals, batches and completions: no two batches in flight share an agent unless
     * every payment waiting was for agents in flight; every payment is taken once; an agent's
     * payments are taken in arrival order; the free count matches a recount.
     */
    @Test
    void randomScheduleKeepsEveryRule() {
        Random random = new Random(42);
        List<List<P>> inFlight = new ArrayList<>();
        Set<Integer> taken = new HashSet<>();
        int[] lastSeqByAgent = new int[20];
        java.util.Arrays.fill(lastSeqByAgent, -1);
        List<P> waiting = new ArrayList<>();
        for (int step = 0; step < 20_000; step++) {
            int action = random.nextInt(3);
            if (action == 0) {
                P p = new P("agent" + random.nextInt(20), seq++);
                q.add(p);
                waiting.add(p);
            } else if (action == 1) {
                Set<String> held = new HashSet<>();
                inFlight.forEach(b -> b.forEach(p -> held.add(p.agent())));
                boolean anyFree = waiting.stream().anyMatch(p -> !held.contains(p.agent()));
                List<P> batch = q.next(3, 1 + random.nextInt(8), 1 + random.nextInt(3));
                if (!batch.isEmpty()) {
                    if (!inFlight.isEmpty() && anyFree) {
                        for (P p : batch) {
                            assertTrue(!held.contains(p.agent()), "step " + step + ": " + p + " is held by a batch in flight");
                        }
                    }
                    for (P p : batch) {
                        assertTrue(taken.add(p.seq()), "taken twice: " + p);
                        int agent = Integer.parseInt(p.agent().substring(5));
                        assertTrue(p.seq() > lastSeqByAgent[agent], "out of order: " + p);
                        lastSeqByAgent[agent] = p.seq();
                    }
                    waiting.removeAll(batch);
                    inFlight.add(batch);
                }
            } else if (!inFlight.isEmpty()) {
                q.finished(inFlight.remove(random.nextInt(inFlight.size())));
            }
            Set<String> held = new HashSet<>();
            inFlight.forEach(b -> b.forEach(p -> held.add(p.agent())));
            assertEquals(waiting.stream().filter(p -> !held.contains(p.agent())).count(), q.free(), "step " + step);
            assertEquals(waiting.size(), q.size());
            assertEquals(inFlight.size(), q.batchesInFlight());
        }
        assertTrue(taken.size() > 1_000, "the schedule took " + taken.size());
    }
}
