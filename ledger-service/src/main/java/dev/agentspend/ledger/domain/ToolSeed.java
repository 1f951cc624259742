package dev.agentspend.ledger.domain;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The spend counters of one scope's tool rebuilt from the scope's entries, the first time a cap
 * reads them (see {@link PolicyView#toolRowScopes}): until then payments did not add to them.
 *
 * <p>Input: the spend of the scope's entries of the tool per UTC hour (every calendar window is a
 * whole number of UTC hours, so each window's spend is a sum of hours), the calendar buckets the
 * tool's row holds now with their held amounts and limits, and the closed buckets kept apart
 * (ledger.counters). Held amounts are exact already (holds always count per tool) and are kept.
 * Output: each window's spend in the bucket current at {@code now}; a bucket of the row older than
 * that is closed, and leaves the row with its own spend and held amount, as a later payment would
 * have moved it.
 */
public final class ToolSeed {
    /** The calendar windows of a window row, in its column order. */
    public static final Window[] CALENDAR = {Window.HOUR, Window.DAY, Window.WEEK, Window.MONTH};

    private ToolSeed() {
    }

    /** A bucket as written: its name, spend, held amount and HARD limit (null: none recorded). */
    public record Bucket(String bucket, long spentMicros, long heldMicros, Long limitMicros) {
    }

    /**
     * The tool's row as stored, each array in {@link #CALENDAR} order: the bucket (null where the
     * row has none), its held amount and its limit.
     */
    public record StoredRow(String[] buckets, long[] heldMicros, Long[] limitMicros) {
        public StoredRow {
            if (buckets.length != CALENDAR.length || heldMicros.length != CALENDAR.length
                    || limitMicros.length != CALENDAR.length) {
                throw new IllegalArgumentException("a window row has " + CALENDAR.length + " calendar windows");
            }
        }
    }

    /**
     * What the seed writes: the row's calendar windows ({@link #CALENDAR} order) and its lifetime
     * spend; the buckets that leave the row; and the spend of the closed buckets already apart.
     */
    public record Plan(Bucket[] windows, long lifetimeSpentMicros, List<Bucket> moved, Map<String, Long> closedSpentMicros) {
    }

    /** The spend of every calendar bucket, and of lifetime ("L"), from the spend per epoch hour. */
    public static Map<String, Long> spentByBucket(Map<Long, Long> spentByEpochHour) {
        Map<String, Long> out = new HashMap<>();
        long lifetime = 0;
        for (Map.Entry<Long, Long> h : spentByEpochHour.entrySet()) {
            Instant start = Instant.ofEpochSecond(Math.multiplyExact(h.getKey(), 3_600L));
            long spent = h.getValue();
            for (Window w : CALENDAR) {
                out.merge(w.bucket(start, null), spent, Math::addExact);
            }
            lifetime = Math.addExact(lifetime, spent);
        }
        out.put(Window.LIFETIME.bucket(null, null), lifetime);
        return out;
    }

    public static Plan plan(Instant now, StoredRow row, Map<Long, Long> spentByEpochHour, Collection<String> closedBuckets) {
        Map<String, Long> spent = spentByBucket(spentByEpochHour);
        Set<String> apart = new HashSet<>(closedBuckets);
        Bucket[] windows = new Bucket[CALENDAR.length];
        List<Bucket> moved = new ArrayList<>();
        for (int i = 0; i < CALENDAR.length; i++) {
            String current = CALENDAR[i].bucket(now, null);
            String stored = row.buckets()[i];
            if (stored != null && !stored.startsWith(current.substring(0, 2))) {
                throw new IllegalArgumentException("the row's " + CALENDAR[i] + " bucket is " + stored);
            }
            // every bucket is in one place: the row while current, ledger.counters once closed
            if (apart.contains(current) || (stored != null && apart.contains(stored))) {
                throw new IllegalStateException("a bucket of the window row (" + stored + ", now " + current
                        + ") is also a closed bucket");
            }
            if (stored == null) {
                windows[i] = new Bucket(current, spent.getOrDefault(current, 0L), 0, null);
            } else if (stored.compareTo(current) >= 0) {
                // current, or later than this clock's now (another replica's clock ahead): it stays
                windows[i] = new Bucket(stored, spent.getOrDefault(stored, 0L), row.heldMicros()[i], row.limitMicros()[i]);
            } else {
                // nothing was written to the current bucket yet: a hold placed in it would have moved this one
                moved.add(new Bucket(stored, spent.getOrDefault(stored, 0L), row.heldMicros()[i], row.limitMicros()[i]));
                windows[i] = new Bucket(current, spent.getOrDefault(current, 0L), 0, null);
            }
        }
        Map<String, Long> closed = new HashMap<>();
        for (String b : apart) {
            closed.put(b, spent.getOrDefault(b, 0L));
        }
        return new Plan(windows, spent.get(Window.LIFETIME.bucket(null, null)), moved, closed);
    }
}
