package dev.agentspend.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Commit-to-visible lag from periodic position samples, without clocks shared between processes:
 * at sample time {@code t} the ledger's head (last committed feed position) was {@code H}; the lag
 * of that sample is the time until the consumer's visible position was first seen at or past
 * {@code H}. Resolution is the sampling interval (the position may have got there at any moment
 * since the previous sample).
 */
final class LagCalculator {
    private LagCalculator() {
    }

    /** The head seen at {@code headNanos}. */
    record Head(long nanos, long position) {
    }

    /** A consumer's visible position seen at {@code nanos}. */
    record Seen(long nanos, long position) {
    }

    /** Lags in microseconds, sorted, and the samples whose head the consumer had not reached by the end. */
    record Lags(List<Long> micros, int unresolved) {
        double percentileMillis(double percentile) {
            if (micros.isEmpty()) {
                return Double.NaN;
            }
            int rank = (int) Math.ceil(percentile / 100.0 * micros.size());
            return micros.get(Math.max(0, Math.min(micros.size() - 1, rank - 1))) / 1000.0;
        }

        double maxMillis() {
            return micros.isEmpty() ? Double.NaN : micros.get(micros.size() - 1) / 1000.0;
        }
    }

    /**
     * For each head sample (in time order), the time to the first consumer sample at or after it
     * whose position is at least the head. Consumer samples must be in time order; positions only
     * grow, so one forward scan serves every head.
     */
    static Lags lags(List<Head> heads, List<Seen> seen) {
        List<Long> out = new ArrayList<>(heads.size());
        int unresolved = 0;
        int j = 0;
        for (Head h : heads) {
            while (j < seen.size() && (seen.get(j).nanos() < h.nanos() || seen.get(j).position() < h.position())) {
                // positions never go back, so a sample too early or too low for this head is too
                // early or too low for every later head as well
                j++;
            }
            if (j == seen.size()) {
                unresolved++;
            } else {
                out.add((seen.get(j).nanos() - h.nanos()) / 1000);
            }
        }
        Collections.sort(out);
        return new Lags(out, unresolved);
    }
}
