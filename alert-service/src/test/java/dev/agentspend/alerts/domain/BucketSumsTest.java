package dev.agentspend.alerts.domain;

import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.NavigableMap;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The running window sums against sums from scratch, over random histories, queries and prunes. */
class BucketSumsTest {
    private static final String[] TOOLS = {"a", "b", "c"};
    private static final String[] REASONS = {"CAP_EXCEEDED", "INSUFFICIENT_FUNDS"};
    /** (length, lag) in buckets: the default rules' shapes with 1 s buckets, and a few more. */
    private static final long[][] SHAPES = {{60, 0}, {1440, 0}, {5, 0}, {1440, 60}, {1440, 5}, {7, 3}};

    @Test
    void everySumEqualsTheSumOfItsBucketsAsTimeMovesBothWays() {
        for (long seed = 1; seed <= 20; seed++) {
            run(new SplittableRandom(seed), SHAPES, 3_000);
        }
    }

    @Test
    void moreShapesThanItKeepsStillSumRight() {
        long[][] shapes = new long[BucketSums.MAX_RANGES + 4][];
        for (int i = 0; i < shapes.length; i++) {
            shapes[i] = new long[]{3 + i * 7L, i % 3};
        }
        BucketSums sums = run(new SplittableRandom(99), shapes, 3_000);
        assertEquals(BucketSums.MAX_RANGES, sums.size());
    }

    @Test
    void theSameShapeIsTheSameRunningSum() {
        BucketSums sums = new BucketSums();
        NavigableMap<Long, AgentState.Bucket> buckets = new TreeMap<>();
        add(buckets, sums, 10, spend("a", 5));
        AgentState.Bucket first = sums.over(buckets, 1, 10, 0);
        AgentState.Bucket moved = sums.over(buckets, 2, 11, 0);
        assertSame(first, moved, "one shape, one sum moved along");
        assertEquals(1, sums.size());
        assertEquals(5, moved.spend);
        AgentState.Bucket lagged = sums.over(buckets, 2, 11, 1);
        assertEquals(2, sums.size(), "a different lag is a different window");
        assertEquals(5, lagged.spend);
    }

    private static BucketSums run(SplittableRandom random, long[][] shapes, int steps) {
        BucketSums sums = new BucketSums();
        NavigableMap<Long, AgentState.Bucket> buckets = new TreeMap<>();
        long now = 5_000;
        for (int step = 0; step < steps; step++) {
            int op = random.nextInt(100);
            if (op < 45) {
                // an entry, usually in the current bucket, sometimes a little before it
                long index = now - (random.nextInt(4) == 0 ? random.nextInt(90) : 0);
                add(buckets, sums, index, randomDelta(random));
            } else if (op < 85) {
                long[] shape = shapes[random.nextInt(shapes.length)];
                long last = now - shape[1];
                long first = last - shape[0] + 1;
                AgentState.Bucket got = sums.over(buckets, first, last, shape[1]);
                assertEquals(describe(scratch(buckets, first, last)), describe(got),
                        "sum of [" + first + ", " + last + "] at step " + step);
            } else if (op < 95) {
                // time moves: mostly a bucket or two, now and then a gap longer than any window, or back a little
                int kind = random.nextInt(20);
                now += kind == 0 ? 3_000 + random.nextInt(3_000) : kind == 1 ? -random.nextInt(10) : random.nextInt(3);
            } else {
                long oldest = now - 1_600 - random.nextInt(200);
                NavigableMap<Long, AgentState.Bucket> expired = buckets.headMap(oldest, false);
                expired.forEach(sums::removed);
                expired.clear();
            }
        }
        return sums;
    }

    private static void add(NavigableMap<Long, AgentState.Bucket> buckets, BucketSums sums, long index,
                            AgentState.Activity delta) {
        buckets.computeIfAbsent(index, k -> new AgentState.Bucket()).add(delta);
        sums.added(index, delta);
    }

    @Test
    void anActivityAddsWhatABucketHoldingOnlyItWould() {
        SplittableRandom random = new SplittableRandom(5);
        AgentState.Bucket byActivity = new AgentState.Bucket();
        AgentState.Bucket byBucket = new AgentState.Bucket();
        for (int i = 0; i < 2_000; i++) {
            AgentState.Activity a = randomDelta(random);
            byActivity.add(a);
            byBucket.add(asBucket(a), 1);
            assertEquals(describe(byBucket), describe(byActivity), "after " + (i + 1) + " activities");
        }
        assertTrue(byActivity.toolSpend.size() > 1 && !byActivity.declineReasons.isEmpty(), "the maps were exercised");
    }

    /** The definition: a bucket that holds only the activity (zero amounts leave no key). */
    private static AgentState.Bucket asBucket(AgentState.Activity a) {
        AgentState.Bucket b = new AgentState.Bucket();
        b.spend = a.spend();
        b.payments = a.payments();
        if (a.tool() != null) {
            b.toolSpend.put(a.tool(), a.spend());
            b.toolPayments.put(a.tool(), a.payments());
        }
        b.declines = a.declines();
        if (a.declineReason() != null) {
            b.declineReasons.put(a.declineReason(), a.declines());
        }
        b.tracked = a.tracked();
        b.retries = a.retries();
        b.retrySpend = a.retrySpend();
        b.offHoursSpend = a.offHoursSpend();
        b.offHoursPayments = a.offHoursPayments();
        return b;
    }

    private static AgentState.Activity randomDelta(SplittableRandom random) {
        if (random.nextInt(5) == 0) {
            return new AgentState.Activity(0, 0, null, 1, REASONS[random.nextInt(REASONS.length)], 1, 0, 0, 0, 0);
        }
        String tool = TOOLS[random.nextInt(TOOLS.length)];
        // refunds too (no payment): a tool's total in a window can come back to zero
        boolean refund = random.nextInt(6) == 0;
        long micros = refund ? -random.nextInt(1_000) : random.nextInt(1_000);
        boolean retry = !refund && random.nextBoolean();
        boolean offHours = !refund && random.nextInt(3) == 0;
        return new AgentState.Activity(micros, refund ? 0 : 1, tool, 0, null, refund ? 0 : 1, retry ? 1 : 0,
                retry ? micros : 0, offHours ? micros : 0, offHours ? 1 : 0);
    }

    private static AgentState.Activity spend(String tool, long micros) {
        return new AgentState.Activity(micros, 0, tool, 0, null, 0, 0, 0, 0, 0);
    }

    private static AgentState.Bucket scratch(NavigableMap<Long, AgentState.Bucket> buckets, long first, long last) {
        AgentState.Bucket s = new AgentState.Bucket();
        for (AgentState.Bucket b : buckets.subMap(first, true, last, true).values()) {
            s.add(b, 1);
        }
        return s;
    }

    private static String describe(AgentState.Bucket b) {
        for (Map<String, Long> m : java.util.List.of(b.toolSpend, b.toolPayments, b.declineReasons)) {
            assertTrue(!m.containsValue(0L), "no zero totals kept: " + m);
        }
        return "spend=" + b.spend + " payments=" + b.payments + " toolSpend=" + new TreeMap<>(b.toolSpend)
                + " toolPayments=" + new TreeMap<>(b.toolPayments) + " declines=" + b.declines
                + " reasons=" + new TreeMap<>(b.declineReasons) + " tracked=" + b.tracked + " retries=" + b.retries
                + " retrySpend=" + b.retrySpend + " offHours=" + b.offHoursSpend + "/" + b.offHoursPayments;
    }
}
