package dev.agentspend.ledger.domain;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * One spend counter: a scope (agent or team id), a bucket (see {@link Window#bucket}) and a tool
 * ('' for every tool). Counters are always written in {@link #ORDER} so that concurrent
 * transactions lock them in one order.
 */
public record CounterKey(String scopeId, String bucket, String tool) {
    // written out: Comparator.comparing(..).thenComparing(..) chains showed in the ledger's profile
    // (a payment's dozen keys go through sorted maps several times per batch)
    public static final Comparator<CounterKey> ORDER = (a, b) -> {
        int c = a.scopeId.compareTo(b.scopeId);
        if (c != 0) {
            return c;
        }
        c = a.bucket.compareTo(b.bucket);
        return c != 0 ? c : a.tool.compareTo(b.tool);
    };

    private static final Window[] COUNTED = {Window.HOUR, Window.DAY, Window.WEEK, Window.MONTH, Window.LIFETIME};

    /**
     * Every counter a payment of {@code tool} for {@code taskId} at {@code t} adds to: each calendar
     * window, lifetime and the task, for every tool and for the payment's tool, of the agent and of
     * its team (when it has one).
     */
    public static List<CounterKey> forPayment(String agentId, String teamId, String tool, String taskId, Instant t) {
        List<String> buckets = new ArrayList<>(COUNTED.length + 1);
        for (Window w : COUNTED) {
            buckets.add(w.bucket(t, taskId));
        }
        if (taskId != null && !taskId.isEmpty()) {
            buckets.add(Window.TASK.bucket(t, taskId));
        }
        List<CounterKey> keys = new ArrayList<>(24);
        for (String scope : teamId == null || teamId.isEmpty() ? List.of(agentId) : List.of(agentId, teamId)) {
            List<String> tools = tool == null || tool.isEmpty() ? List.of("") : List.of("", tool);
            for (String tl : tools) {
                for (String bucket : buckets) {
                    keys.add(new CounterKey(scope, bucket, tl));
                }
            }
        }
        return keys;
    }

    /** The window this counter counts (from its bucket's prefix, see {@link Window#bucket}). */
    public Window window() {
        return switch (bucket.charAt(0)) {
            case 'H' -> Window.HOUR;
            case 'D' -> Window.DAY;
            case 'W' -> Window.WEEK;
            case 'M' -> Window.MONTH;
            case 'L' -> Window.LIFETIME;
            case 'T' -> Window.TASK;
            default -> throw new IllegalStateException("unknown counter bucket " + bucket);
        };
    }

    /** The counter a cap reads at {@code t}; null for PAYMENT caps and for TASK caps without a task. */
    public static CounterKey forCap(CapRule cap, String scopeId, String taskId, Instant t) {
        if (cap.window() == Window.PAYMENT) {
            return null;
        }
        if (cap.window() == Window.TASK && (taskId == null || taskId.isEmpty())) {
            return null;
        }
        return new CounterKey(scopeId, cap.window().bucket(t, taskId), cap.tool());
    }
}
