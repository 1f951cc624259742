package dev.agentspend.ledger.domain;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Payments waiting for a group commit: when the next batch starts and which payments it takes.
 *
 * <p>When: a batch is first <em>preparing</em> (reading, deciding, writing its state), then
 * <em>committing</em> (its entries and COMMIT sent, PostgreSQL writing and flushing the WAL). A
 * new batch starts when none is preparing: at once when nothing is in flight, or beside batches
 * that are all committing, so that it reads and decides while they flush. Meanwhile the queue
 * fills. Starting a batch beside one still preparing (as soon as a few payments waited) made the
 * batches half as large, and a batch's statements cost PostgreSQL about as much CPU whether they
 * carry 20 payments or 40: the benchmark measured 0.122 ms of PostgreSQL CPU per payment that way,
 * 0.083 with one batch at a time.
 *
 * <p>Which: a batch locks the rows of every agent it holds until it commits. A batch started
 * beside others that shared even one agent would wait in PostgreSQL for that commit before it
 * could read anything (agent rows are locked in one statement, in id order). So a batch started
 * beside others takes only payments of agents no batch in flight holds; the others wait, in
 * arrival order per agent, for a later batch. When every payment waiting is for agents in flight
 * (one hot agent), the batch takes them all and queues behind the lock in PostgreSQL, which hands
 * it over at the commit without a round trip to the service.
 *
 * <p>Not thread-safe: the caller serializes access. Costs a hash update per payment queued and
 * taken, and per payment of a batch when the batch starts and finishes.
 *
 * @param <T> a waiting payment
 */
public final class PayQueue<T> {
    private final Function<T, String> agentOf;
    private final ArrayDeque<T> queue = new ArrayDeque<>();
    private final Map<String, Integer> queuedByAgent = new HashMap<>();
    private final Map<String, Integer> inFlightByAgent = new HashMap<>();
    /** Payments queued whose agent is in no batch in flight. */
    private int free;
    private int batchesInFlight;
    private int batchesPreparing;

    /** A batch handed out by {@link #next}: its payments, and whether it has reached its commit. */
    public static final class Batch<T> {
        private final List<T> payments;
        private boolean committing;
        private boolean finished;

        private Batch(List<T> payments) {
            this.payments = payments;
        }

        public List<T> payments() {
            return payments;
        }
    }

    public PayQueue(Function<T, String> agentOf) {
        this.agentOf = agentOf;
    }

    public int size() {
        return queue.size();
    }

    public int batchesInFlight() {
        return batchesInFlight;
    }

    /** Batches in flight that have not reached their commit. */
    public int batchesPreparing() {
        return batchesPreparing;
    }

    /** Payments waiting that a batch beside those in flight could take. */
    public int free() {
        return free;
    }

    public void add(T payment) {
        String agent = agentOf.apply(payment);
        queue.add(payment);
        queuedByAgent.merge(agent, 1, Integer::sum);
        if (!inFlightByAgent.containsKey(agent)) {
            free++;
        }
    }

    /**
     * The batch to start now, marked in flight and preparing, or null when none should start:
     * nothing waits, a batch is preparing, {@code inFlightMax} batches are in flight, or batches
     * are committing and fewer than {@code minBesideAnother} payments wait for another (a small
     * batch would cost a whole commit for a few payments). At most {@code sizeMax} payments,
     * oldest first.
     */
    public Batch<T> next(int inFlightMax, int sizeMax, int minBesideAnother) {
        if (inFlightMax < 1 || sizeMax < 1 || minBesideAnother < 1) {
            throw new IllegalArgumentException("limits must be positive: " + inFlightMax + ", " + sizeMax + ", "
                    + minBesideAnother);
        }
        if (queue.isEmpty() || batchesPreparing > 0 || batchesInFlight >= inFlightMax) {
            return null;
        }
        List<T> payments;
        if (batchesInFlight == 0 || free == 0 && queue.size() >= minBesideAnother) {
            payments = takeOldest(sizeMax);
        } else if (free >= minBesideAnother) {
            payments = takeFree(sizeMax);
        } else {
            return null;
        }
        batchesInFlight++;
        batchesPreparing++;
        for (T p : payments) {
            String agent = agentOf.apply(p);
            if (inFlightByAgent.merge(agent, 1, Integer::sum) == 1) {
                // this agent's payments still queued are no longer free
                free -= queuedByAgent.getOrDefault(agent, 0);
            }
        }
        assert free >= 0 && free <= queue.size() : "free " + free + " of " + queue.size();
        return new Batch<>(payments);
    }

    /**
     * The batch has sent its entries and COMMIT, or failed and is being retried payment by payment:
     * the next may start beside it (its agents stay held until {@link #finished}). Nothing to do
     * if it is committing already or has finished.
     */
    public void committing(Batch<T> batch) {
        if (batch.finished || batch.committing) {
            return;
        }
        batch.committing = true;
        batchesPreparing--;
    }

    /** The batch has committed or failed: its agents are free again. */
    public void finished(Batch<T> batch) {
        if (batch.finished) {
            throw new IllegalStateException("the batch is already finished");
        }
        batch.finished = true;
        batchesInFlight--;
        if (!batch.committing) {
            batchesPreparing--;
        }
        for (T p : batch.payments) {
            String agent = agentOf.apply(p);
            int left = inFlightByAgent.merge(agent, -1, Integer::sum);
            if (left == 0) {
                inFlightByAgent.remove(agent);
                free += queuedByAgent.getOrDefault(agent, 0);
            } else if (left < 0) {
                throw new IllegalStateException("agent " + agent + " finished more payments than were in flight");
            }
        }
        assert free >= 0 && free <= queue.size() : "free " + free + " of " + queue.size();
    }

    private List<T> takeOldest(int sizeMax) {
        int n = Math.min(queue.size(), sizeMax);
        List<T> batch = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            T p = queue.poll();
            String agent = agentOf.apply(p);
            dequeued(agent);
            if (!inFlightByAgent.containsKey(agent)) {
                free--;
            }
            batch.add(p);
        }
        return batch;
    }

    /** The oldest payments of agents in no batch in flight; the others keep their places. */
    private List<T> takeFree(int sizeMax) {
        int n = Math.min(free, sizeMax);
        List<T> batch = new ArrayList<>(n);
        List<T> skipped = new ArrayList<>();
        while (batch.size() < n) {
            T p = queue.poll();
            String agent = agentOf.apply(p);
            if (inFlightByAgent.containsKey(agent)) {
                skipped.add(p);
                continue;
            }
            dequeued(agent);
            free--;
            batch.add(p);
        }
        for (int i = skipped.size() - 1; i >= 0; i--) {
            queue.addFirst(skipped.get(i));
        }
        return batch;
    }

    private void dequeued(String agent) {
        if (queuedByAgent.merge(agent, -1, Integer::sum) == 0) {
            queuedByAgent.remove(agent);
        }
    }
}
