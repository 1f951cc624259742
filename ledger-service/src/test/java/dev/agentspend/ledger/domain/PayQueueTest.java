package dev.agentspend.ledger.domain;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
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

    private static List<String> agents(PayQueue.Batch<P> batch) {
        return batch.payments().stream().map(P::agent).toList();
    }

    @Test
    void withNothingInFlightOnePaymentStartsABatchAtOnce() {
        add("a");
        assertEquals(List.of("a"), agents(q.next(2, 512, 16)));
        assertEquals(1, q.batchesInFlight());
        assertEquals(1, q.batchesPreparing());
        assertEquals(0, q.size());
    }

    @Test
    void noBatchStartsWhileAnotherIsPreparing() {
        add("a");
        PayQueue.Batch<P> first = q.next(2, 512, 1);
        add("b", "c", "d");
        assertNull(q.next(2, 512, 1), "the first batch is still reading and deciding: the queue fills");
        q.committing(first);
        assertEquals(List.of("b", "c", "d"), agents(q.next(2, 512, 1)), "beside a committing batch");
        assertEquals(2, q.batchesInFlight());
        assertEquals(1, q.batchesPreparing());
        q.finished(first);
        assertEquals(1, q.batchesInFlight());
        assertEquals(1, q.batchesPreparing());
    }

    @Test
    void aBatchBesideAnotherTakesOnlyAgentsNotInFlightAndTheOthersKeepTheirOrder() {
        add("a", "b");
        PayQueue.Batch<P> first = q.next(2, 512, 2);
        q.committing(first);
        add("a", "c", "b", "d", "a");
        assertEquals(2, q.free());
        PayQueue.Batch<P> second = q.next(3, 512, 2);
        assertEquals(List.of("c", "d"), agents(second));
        q.committing(second);
        assertNull(q.next(3, 512, 4), "what is left is all in flight, fewer than the minimum");
        q.finished(first);
        assertEquals(3, q.free());
        PayQueue.Batch<P> third = q.next(3, 512, 1);
        assertEquals(List.of("a", "b", "a"), agents(third));
        assertEquals(List.of(2, 4, 6), third.payments().stream().map(P::seq).toList(), "arrival order kept");
    }

    @Test
    void besideAnotherFewerFreePaymentsThanTheMinimumWait() {
        add("a");
        PayQueue.Batch<P> first = q.next(2, 512, 3);
        q.committing(first);
        add("b", "c", "a", "a");
        assertNull(q.next(2, 512, 3), "two free, the minimum is three");
        add("d");
        assertEquals(List.of("b", "c", "d"), agents(q.next(2, 512, 3)));
        q.finished(first);
        assertEquals(2, q.free());
    }

    @Test
    void oneHotAgentQueuesItsSecondBatchBehindTheFirst() {
        add("hot");
        PayQueue.Batch<P> first = q.next(2, 512, 3);
        q.committing(first);
        add("hot", "hot");
        assertNull(q.next(2, 512, 3), "fewer than the minimum wait");
        add("hot");
        assertEquals(List.of("hot", "hot", "hot"), agents(q.next(2, 512, 3)),
                "nothing free: the batch takes them all and waits for the agent's lock in the database");
        assertEquals(2, q.batchesInFlight());
    }

    @Test
    void aBatchThatFailsBeforeItsCommitFreesItsPlace() {
        add("a", "b");
        PayQueue.Batch<P> failed = q.next(1, 1, 1);
        q.finished(failed);
        q.committing(failed);
        assertEquals(0, q.batchesPreparing());
        assertEquals(List.of("b"), agents(q.next(1, 1, 1)));
        assertThrows(IllegalStateException.class, () -> q.finished(failed));
    }

    @Test
    void sizeAndInFlightLimitsHold() {
        add("a", "b", "c", "d", "e");
        PayQueue.Batch<P> first = q.next(2, 2, 1);
        assertEquals(List.of("a", "b"), agents(first));
        q.committing(first);
        PayQueue.Batch<P> second = q.next(2, 2, 1);
        assertEquals(List.of("c", "d"), agents(second));
        q.committing(second);
        q.committing(second);
        assertEquals(0, q.batchesPreparing(), "committing twice counts once");
        assertNull(q.next(2, 2, 1), "two in flight");
        assertEquals(1, q.size());
        assertThrows(IllegalArgumentException.class, () -> q.next(0, 1, 1));
    }

    /**
     * Random arrivals, batches, commits and completions: never a batch beside one preparing; no two
     * batches in flight share an agent unless every payment waiting was for agents in flight; every
     * payment is taken once; an agent's payments are taken in arrival order; the free count matches
     * a recount.
     */
    @Test
    void randomScheduleKeepsEveryRule() {
        Random random = new Random(42);
        List<PayQueue.Batch<P>> inFlight = new ArrayList<>();
        List<PayQueue.Batch<P>> preparing = new ArrayList<>();
        Set<Integer> taken = new HashSet<>();
        int[] lastSeqByAgent = new int[20];
        java.util.Arrays.fill(lastSeqByAgent, -1);
        List<P> waiting = new ArrayList<>();
        for (int step = 0; step < 20_000; step++) {
            int action = random.nextInt(4);
            if (action == 0) {
                P p = new P("agent" + random.nextInt(20), seq++);
                q.add(p);
                waiting.add(p);
            } else if (action == 1) {
                Set<String> held = held(inFlight);
                boolean anyFree = waiting.stream().anyMatch(p -> !held.contains(p.agent()));
                PayQueue.Batch<P> batch = q.next(3, 1 + random.nextInt(8), 1 + random.nextInt(3));
                if (batch != null) {
                    assertTrue(preparing.isEmpty(), "step " + step + ": a batch beside one preparing");
                    if (!inFlight.isEmpty() && anyFree) {
                        for (P p : batch.payments()) {
                            assertTrue(!held.contains(p.agent()), "step " + step + ": " + p + " is held by a batch in flight");
                        }
                    }
                    for (P p : batch.payments()) {
                        assertTrue(taken.add(p.seq()), "taken twice: " + p);
                        int agent = Integer.parseInt(p.agent().substring(5));
                        assertTrue(p.seq() > lastSeqByAgent[agent], "out of order: " + p);
                        lastSeqByAgent[agent] = p.seq();
                    }
                    waiting.removeAll(batch.payments());
                    inFlight.add(batch);
                    preparing.add(batch);
                }
            } else if (action == 2 && !preparing.isEmpty()) {
                q.committing(preparing.remove(0));
            } else if (action == 3 && !inFlight.isEmpty()) {
                PayQueue.Batch<P> done = inFlight.remove(random.nextInt(inFlight.size()));
                preparing.remove(done);
                q.finished(done);
            }
            assertEquals(waiting.stream().filter(p -> !held(inFlight).contains(p.agent())).count(), q.free(), "step " + step);
            assertEquals(waiting.size(), q.size());
            assertEquals(inFlight.size(), q.batchesInFlight());
            assertEquals(preparing.size(), q.batchesPreparing());
        }
        assertTrue(taken.size() > 1_000, "the schedule took " + taken.size());
    }

    private static Set<String> held(List<PayQueue.Batch<P>> inFlight) {
        Set<String> held = new HashSet<>();
        inFlight.forEach(b -> b.payments().forEach(p -> held.add(p.agent())));
        return held;
    }
}
