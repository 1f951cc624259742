package dev.agentspend.alerts.domain;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The rule state of one agent: sparse time buckets of its recent activity (by recorded time),
 * day buckets for the trend rules (by trend time), spend per cap window, and open tasks. Plain
 * fields so that it is stored as JSON next to the feed position, in the same transaction (buckets and
 * open tasks as rows of their own); the running window sums ({@link BucketSums}) are rebuilt from the
 * buckets, not stored.
 */
public final class AgentState {
    /**
     * Most tasks one agent has open (paid for, not completed) at a time. Agents need not complete
     * their tasks: without a bound an agent that never completes them would grow its state, held in
     * memory and loaded at start, with every task it starts. Past the bound the task paid for least
     * recently is dropped; if it completes later it counts as a task of no spend, like any task this
     * service saw no payment of. The tasks are rows of their own, and a batch writes only the ones it
     * changed: in the head, which every batch writes whole, an agent's thousand open tasks were 58 KB
     * of JSON logged on every update (ConsumerStoreCostMain).
     */
    public static final int MAX_OPEN_TASKS = 1_000;

    /** Activity of one bucket of {@code bucketSeconds} (by recorded time). */
    public static final class Bucket {
        public long spend;
        public long payments;
        public Map<String, Long> toolSpend = new HashMap<>();
        public Map<String, Long> toolPayments = new HashMap<>();
        public long declines;
        public Map<String, Long> declineReasons = new HashMap<>();
        /** Payments (approved or declined) that carry an attempt number. */
        public long tracked;
        /** Of which retries (attempt above 1). */
        public long retries;
        public long retrySpend;
        public long offHoursSpend;
        public long offHoursPayments;

        /**
         * Adds {@code sign} times another bucket. A tool or reason whose total comes to zero is
         * dropped, so that a sum that lost buckets names what a sum of the remaining ones would.
         */
        void add(Bucket other, int sign) {
            assert sign == 1 || sign == -1 : "sign " + sign;
            spend += sign * other.spend;
            payments += sign * other.payments;
            addAll(toolSpend, other.toolSpend, sign);
            addAll(toolPayments, other.toolPayments, sign);
            declines += sign * other.declines;
            addAll(declineReasons, other.declineReasons, sign);
            tracked += sign * other.tracked;
            retries += sign * other.retries;
            retrySpend += sign * other.retrySpend;
            offHoursSpend += sign * other.offHoursSpend;
            offHoursPayments += sign * other.offHoursPayments;
        }

        void clear() {
            spend = 0;
            payments = 0;
            toolSpend.clear();
            toolPayments.clear();
            declines = 0;
            declineReasons.clear();
            tracked = 0;
            retries = 0;
            retrySpend = 0;
            offHoursSpend = 0;
            offHoursPayments = 0;
        }

        /**
         * Adds one entry's activity: the same as adding a bucket that holds only it, without building
         * one (three maps per entry, and an iterator per map and per window sum it reaches).
         */
        void add(Activity a) {
            spend += a.spend();
            payments += a.payments();
            if (a.tool() != null) {
                addOne(toolSpend, a.tool(), a.spend());
                addOne(toolPayments, a.tool(), a.payments());
            }
            declines += a.declines();
            if (a.declineReason() != null) {
                addOne(declineReasons, a.declineReason(), a.declines());
            }
            tracked += a.tracked();
            retries += a.retries();
            retrySpend += a.retrySpend();
            offHoursSpend += a.offHoursSpend();
            offHoursPayments += a.offHoursPayments();
        }

        private static void addOne(Map<String, Long> into, String key, long value) {
            if (value != 0) {
                into.merge(key, value, (x, y) -> x + y == 0 ? null : x + y);
            }
        }

        private static void addAll(Map<String, Long> into, Map<String, Long> from, int sign) {
            for (Map.Entry<String, Long> e : from.entrySet()) {
                if (e.getValue() == 0) {
                    continue; // merge would store an absent key's zero as is
                }
                into.merge(e.getKey(), sign * e.getValue(), (a, b) -> a + b == 0 ? null : a + b);
            }
        }
    }

    /**
     * What one entry adds to its bucket. {@code tool} (null for none) is the key of the spend and
     * payments it adds, {@code declineReason} (null for none) the key of its declines.
     */
    public record Activity(long spend, long payments, String tool, long declines, String declineReason, long tracked,
                           long retries, long retrySpend, long offHoursSpend, long offHoursPayments) {
    }

    /** One UTC day (by trend time). */
    public static final class Day {
        public long spend;
        /** Spend of the tasks completed that day, and how many. */
        public long taskSpend;
        public long tasks;
    }

    /** A task not yet completed: its spend so far. */
    public static final class OpenTask {
        public long spend;
        public long lastEpochSecond;
    }

    public String agentId;
    public String teamId = "";
    public String currencyCode = "";
    /** Bucket index (epoch second / bucket seconds) to activity. */
    public TreeMap<Long, Bucket> buckets = new TreeMap<>();
    /** Epoch day to day totals. */
    public TreeMap<Long, Day> days = new TreeMap<>();
    /** `window|tool|windowStartEpochSecond` to spend in that calendar cap window (recorded time). */
    public Map<String, Long> capWindows = new HashMap<>();
    public long lifetimeSpend;
    /**
     * Open tasks by id, least recently paid first: a payment moves its task to the end, so pruning
     * and eviction take from the front without looking at the rest.
     */
    public LinkedHashMap<String, OpenTask> openTasks = new LinkedHashMap<>();
    public long lastRecordedEpochMilli;
    public long lastPosition;
    /** Derived from {@link #buckets}, never stored (transient: the JSON form leaves it out). */
    final transient BucketSums sums = new BucketSums();
    /**
     * Open tasks added, paid, completed, pruned or evicted since {@link #takeChangedTasks}: the rows a
     * batch writes (those still open) or deletes (the others). Never stored.
     */
    private final transient Set<String> changedTasks = new HashSet<>();

    public AgentState() {
    }

    public AgentState(String agentId) {
        this.agentId = agentId;
    }

    public Instant lastRecorded() {
        return Instant.ofEpochMilli(lastRecordedEpochMilli);
    }

    /** Adds a payment's spend to its task, which becomes the most recently paid; may evict the least. */
    void addToOpenTask(String taskId, long spendMicros, long epochSecond) {
        OpenTask t = openTasks.remove(taskId);
        if (t == null) {
            t = new OpenTask();
            if (openTasks.size() >= MAX_OPEN_TASKS) {
                Iterator<String> eldest = openTasks.keySet().iterator();
                changedTasks.add(eldest.next());
                eldest.remove();
            }
        }
        t.spend += spendMicros;
        t.lastEpochSecond = Math.max(t.lastEpochSecond, epochSecond);
        openTasks.put(taskId, t);
        changedTasks.add(taskId);
        assert openTasks.size() <= MAX_OPEN_TASKS;
    }

    /** The task's spend so far, and it is no longer open; null if it was not. */
    OpenTask completeTask(String taskId) {
        OpenTask t = openTasks.remove(taskId);
        if (t != null) {
            changedTasks.add(taskId);
        }
        return t;
    }

    /**
     * Drops the tasks last paid before {@code cutoffEpochSecond}, from the front: it stops at the first
     * task paid since (recorded times are almost in feed order, so a task a little older behind it waits
     * for a later prune or for eviction).
     */
    void pruneOpenTasks(long cutoffEpochSecond) {
        Iterator<Map.Entry<String, OpenTask>> it = openTasks.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<String, OpenTask> t = it.next();
            if (t.getValue().lastEpochSecond >= cutoffEpochSecond) {
                return;
            }
            changedTasks.add(t.getKey());
            it.remove();
        }
    }

    /**
     * Puts open tasks as read from storage in the order the methods above keep, keeping the
     * {@link #MAX_OPEN_TASKS} paid most recently (the others are changed: their rows go).
     */
    public void orderOpenTasks() {
        List<Map.Entry<String, OpenTask>> byLastPaid = new ArrayList<>(openTasks.entrySet());
        byLastPaid.sort(Comparator.comparingLong(en -> en.getValue().lastEpochSecond));
        int dropped = Math.max(0, byLastPaid.size() - MAX_OPEN_TASKS);
        LinkedHashMap<String, OpenTask> ordered = new LinkedHashMap<>();
        for (int i = 0; i < byLastPaid.size(); i++) {
            Map.Entry<String, OpenTask> en = byLastPaid.get(i);
            if (i < dropped) {
                changedTasks.add(en.getKey());
            } else {
                ordered.put(en.getKey(), en.getValue());
            }
        }
        openTasks = ordered;
    }

    /** The open tasks changed since the last call (see {@link #changedTasks}), and forgets them. */
    public Set<String> takeChangedTasks() {
        Set<String> changed = Set.copyOf(changedTasks);
        changedTasks.clear();
        return changed;
    }
}
