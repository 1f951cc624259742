package dev.agentspend.alerts.domain;

import java.util.ArrayList;
import java.util.List;
import java.util.NavigableMap;

/**
 * Running sums of one agent's buckets over the windows the rules ask for, so that a window costs
 * the buckets that entered or left it since it was last asked for, not every bucket in it. Every
 * entry evaluates every rule, and a day-long window of 60 s buckets holds up to 1,440 of them: summed
 * from scratch, an agent that pays around the clock cost about 300 us of CPU per entry.
 *
 * <p>A window is known by its shape: its length in buckets and how far its end lies before the
 * evaluation's current bucket (0 for "the last hour", the hour's length for "the day before the last
 * hour"). As time moves, each shape's sum moves with it, in either direction (a sweep may run ahead
 * of the next entry's recorded time). The sums are derived from the buckets and never stored; the
 * {@link Evaluator} reports every change to a bucket here ({@link #added}, {@link #removed}).
 * Invariant, checked by tests against a sum from scratch: each range's sum equals the sum of the
 * buckets inside it.
 */
final class BucketSums {
    /** Shapes kept per agent: the default rules ask for 8 windows of 6 shapes. */
    static final int MAX_RANGES = 8;

    private static final class Range {
        final long lengthBuckets;
        final long lagBuckets;
        long first;
        long last;
        long lastUsed;
        final AgentState.Bucket sum = new AgentState.Bucket();

        Range(long lengthBuckets, long lagBuckets) {
            this.lengthBuckets = lengthBuckets;
            this.lagBuckets = lagBuckets;
        }

        boolean covers(long index) {
            return index >= first && index <= last;
        }
    }

    private final List<Range> ranges = new ArrayList<>(MAX_RANGES);
    private long uses;

    /**
     * The sum of the buckets from {@code first} to {@code last} (inclusive), a window of the shape
     * given by its lag. The result belongs to this object: read it, do not change it, and do not keep
     * it past the next change to the agent's buckets.
     */
    AgentState.Bucket over(NavigableMap<Long, AgentState.Bucket> buckets, long first, long last, long lagBuckets) {
        assert first <= last : "an empty window";
        long length = last - first + 1;
        Range r = find(length, lagBuckets);
        if (r == null) {
            if (ranges.size() == MAX_RANGES) {
                // a new object, not the evicted one: a caller may still be reading the evicted sum
                ranges.remove(leastRecentlyUsed());
            }
            r = new Range(length, lagBuckets);
            ranges.add(r);
            fill(r, buckets, first, last);
        } else if (last < r.first || first > r.last) {
            r.sum.clear();
            fill(r, buckets, first, last);
        } else {
            move(r, buckets, first, last);
        }
        r.lastUsed = ++uses;
        return r.sum;
    }

    /** A bucket grew by one entry's activity: every range over it grows with it. */
    void added(long index, AgentState.Activity delta) {
        for (Range r : ranges) {
            if (r.covers(index)) {
                r.sum.add(delta);
            }
        }
    }

    /** A bucket is about to be dropped: every range over it loses it. */
    void removed(long index, AgentState.Bucket bucket) {
        for (Range r : ranges) {
            if (r.covers(index)) {
                r.sum.add(bucket, -1);
            }
        }
    }

    int size() {
        return ranges.size();
    }

    private Range find(long length, long lag) {
        for (Range r : ranges) {
            if (r.lengthBuckets == length && r.lagBuckets == lag) {
                return r;
            }
        }
        return null;
    }

    private Range leastRecentlyUsed() {
        Range oldest = ranges.get(0);
        for (Range r : ranges) {
            if (r.lastUsed < oldest.lastUsed) {
                oldest = r;
            }
        }
        return oldest;
    }

    private static void fill(Range r, NavigableMap<Long, AgentState.Bucket> buckets, long first, long last) {
        addAll(r, buckets, first, last, 1);
        r.first = first;
        r.last = last;
    }

    /** From the range's bounds to new, overlapping ones: only the buckets between old and new bounds. */
    private static void move(Range r, NavigableMap<Long, AgentState.Bucket> buckets, long first, long last) {
        if (first > r.first) {
            addAll(r, buckets, r.first, first - 1, -1);
        } else if (first < r.first) {
            addAll(r, buckets, first, r.first - 1, 1);
        }
        if (last < r.last) {
            addAll(r, buckets, last + 1, r.last, -1);
        } else if (last > r.last) {
            addAll(r, buckets, r.last + 1, last, 1);
        }
        r.first = first;
        r.last = last;
    }

    private static void addAll(Range r, NavigableMap<Long, AgentState.Bucket> buckets, long from, long to, int sign) {
        for (AgentState.Bucket b : buckets.subMap(from, true, to, true).values()) {
            r.sum.add(b, sign);
        }
    }
}
