package dev.agentspend.alerts.domain;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The rule state of one agent: sparse time buckets of its recent activity (by recorded time),
 * day buckets for the trend rules (by trend time), spend per cap window, and open tasks. Plain
 * fields so that it is stored as JSON next to the feed position, in the same transaction.
 */
public final class AgentState {
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
    public Map<String, OpenTask> openTasks = new HashMap<>();
    public long lastRecordedEpochMilli;
    public long lastPosition;

    public AgentState() {
    }

    public AgentState(String agentId) {
        this.agentId = agentId;
    }

    public Instant lastRecorded() {
        return Instant.ofEpochMilli(lastRecordedEpochMilli);
    }
}
