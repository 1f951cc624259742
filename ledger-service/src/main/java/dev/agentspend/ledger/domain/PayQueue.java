package dev.agentspend.ledger.domain;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Payments waiting for a group commit, and which of them the next batch takes.
 *
 * <p>A batch locks the rows of every agent it holds until it commits. A second batch started
 * beside it that shares even one agent waits in PostgreSQL for that commit before it can read
 * anything (agent rows are locked in one statement, in id order), so the two run one after the
 * other instead of overlapping. With 1,000 agents and two batches of 20, about one batch in three
 * shared an agent with the batch ahead. So a batch started beside others takes only payments of
 * agents no batch in flight holds; the others wait, in arrival order per agent, for a later batch.
 * When every payment waiting is for agents in flight (one hot agent), the batch takes them all and
 * queues behind the lock in PostgreSQL, which hands it over without a round trip to the service.
 *
 * <p>Not thread-safe: the caller serializes access. Costs a hash update per payment queued and
 * taken, and per agent of a batch when the batch starts and finishes.
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

    public PayQueue(Function<T, String> agentOf) {
        this.agentOf = agentOf;
    }

    public int size() {
        return queue.size();
    }

    public int batchesInFlight() {
        return batchesInFlight;
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
     * The payments of the batch to start now, marked in flight, or an empty list when none should
     * start: nothing waits, {@code inFlightMax} batches are in flight, or a batch is in flight and
     * fewer than {@code minBesideAnother} payments wait for it (a small batch would cost a whole
     * commit for a few payments). At most {@code sizeMax} payments, oldest first.
     */
    public List<T> next(int inFlightMax, int sizeMax, int minBesideAnother) {
        if (inFlightMax < 1 || sizeMax < 1 || minBesideAnother < 1) {
            throw new IllegalArgumentException("limits must be positive: " + inFlightMax + ", " + sizeMax + ", "
                    + minBesideAnother);
        }
        if (queue.isEmpty() || batchesInFlight >= inFlightMax) {
            return List.of();
        }
        List<T> batch;
        if (batchesInFlight == 0 || free == 0 && queue.size() >= minBesideAnother) {
            batch = takeOldest(sizeMax);
        } else if (free >= minBesideAnother) {
            batch = takeFree(sizeMax);
        } else {
            return List.of();
        }
        batchesInFlight++;
        for (T p : batch) {
            String agent = agentOf.apply(p);
            if (inFlightByAgent.merge(agent, 1, Integer::sum) == 1) {
                // this agent's payments still queued are no longer free
                free -= queuedByAgent.getOrDefault(agent, 0);
            }
        }
        assert free >= 0 && free <= queue.size() : "free " + free + " of " + queue.size();
        return batch;
    }

    /** A batch returned by {@link #next} has committed or failed: its agents are free again. */
    public void finished(List<T> batch) {
        if (batchesInFlight == 0) {
            throw new IllegalStateException("no batch is in flight");
        }
        batchesInFlight--;
        for (T p : batch) {
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
