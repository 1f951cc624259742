package dev.agentspend.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.TreeMap;

/**
 * One Prometheus histogram of a service's exposition (its {@code _bucket}, {@code _sum} and
 * {@code _count} samples), read at a moment; two of them give the observations in between, and
 * their quantiles are estimated as Prometheus' {@code histogram_quantile} does: linear within the
 * bucket the rank falls in. Accurate to a bucket's width (Micrometer's buckets grow by about a
 * third from one to the next), which is plenty for telling a 2 ms stage from a 30 ms one. Several
 * series of the name (other labels: replicas, tags) are added up per bound, as
 * {@code sum by (le)} does.
 *
 * @param upperBounds the buckets' upper bounds ({@code le}), ascending, the last infinite
 * @param cumulative  observations at or below each bound, since the service started
 */
record PrometheusHistogram(double[] upperBounds, double[] cumulative, double sum, double count) {
    /** At most this many buckets are read: Micrometer publishes about 70 for a timer. */
    static final int BUCKETS_MAX = 1_000;

    PrometheusHistogram {
        if (upperBounds.length != cumulative.length || upperBounds.length == 0) {
            throw new IllegalArgumentException("a histogram needs as many counts as bounds, at least one");
        }
    }

    /** The histogram {@code name} (the base name, without {@code _bucket}), or null when absent or malformed. */
    static PrometheusHistogram parse(String exposition, String name) {
        Map<Double, Double> buckets = new TreeMap<>();
        for (String line : exposition.split("\n")) {
            if (!line.startsWith(name + "_bucket{")) {
                continue;
            }
            // the label le itself, not one whose name ends in "le" (rule="...")
            int le = Math.max(line.indexOf("{le=\""), line.indexOf(",le=\""));
            if (le < 0 || buckets.size() >= BUCKETS_MAX) {
                return null;
            }
            int value = le + "{le=\"".length();
            int close = line.indexOf('"', value);
            try {
                String bound = line.substring(value, close);
                double upper = bound.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(bound);
                buckets.merge(upper, Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)), Double::sum);
            } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
                return null;
            }
        }
        OptionalDouble sum = total(exposition, name + "_sum");
        OptionalDouble count = total(exposition, name + "_count");
        if (buckets.isEmpty() || sum.isEmpty() || count.isEmpty() || !buckets.containsKey(Double.POSITIVE_INFINITY)) {
            return null;
        }
        double[] bounds = buckets.keySet().stream().mapToDouble(Double::doubleValue).toArray();
        double[] counts = buckets.values().stream().mapToDouble(Double::doubleValue).toArray();
        return new PrometheusHistogram(bounds, counts, sum.getAsDouble(), count.getAsDouble());
    }

    /** The samples named exactly {@code sample} added up over their series; empty if there is none or one is malformed. */
    private static OptionalDouble total(String exposition, String sample) {
        double total = 0;
        boolean seen = false;
        for (String line : exposition.split("\n")) {
            if (line.startsWith(sample + " ") || line.startsWith(sample + "{")) {
                OptionalDouble v = Exposition.value(line, sample);
                if (v.isEmpty()) {
                    return OptionalDouble.empty();
                }
                total += v.getAsDouble();
                seen = true;
            }
        }
        return seen ? OptionalDouble.of(total) : OptionalDouble.empty();
    }

    /**
     * The observations after {@code earlier} (the same histogram read before), or null if the buckets
     * differ or a count went down (the service restarted in between: its counts began again).
     */
    PrometheusHistogram since(PrometheusHistogram earlier) {
        if (!Arrays.equals(upperBounds, earlier.upperBounds) || count < earlier.count) {
            return null;
        }
        double[] counts = new double[cumulative.length];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = cumulative[i] - earlier.cumulative[i];
            if (counts[i] < 0) {
                return null;
            }
        }
        return new PrometheusHistogram(upperBounds, counts, sum - earlier.sum, count - earlier.count);
    }

    /**
     * The estimated q-quantile (0 < q < 1), in the histogram's unit; NaN when it holds no observation
     * or no finite bound. A rank in the last, unbounded bucket answers the highest finite bound, as
     * Prometheus does.
     */
    double quantile(double q) {
        if (!(q > 0 && q < 1)) {
            throw new IllegalArgumentException("quantile " + q + " is not between 0 and 1");
        }
        int last = cumulative.length - 1;
        double total = cumulative[last];
        if (total <= 0) {
            return Double.NaN;
        }
        double rank = q * total;
        double lowerBound = 0;
        double lowerCount = 0;
        for (int i = 0; i <= last; i++) {
            if (cumulative[i] >= rank) {
                if (Double.isInfinite(upperBounds[i])) {
                    return i == 0 ? Double.NaN : lowerBound;
                }
                double inBucket = cumulative[i] - lowerCount;
                return lowerBound + (upperBounds[i] - lowerBound) * (inBucket <= 0 ? 1 : (rank - lowerCount) / inBucket);
            }
            lowerBound = upperBounds[i];
            lowerCount = cumulative[i];
        }
        return lowerBound;
    }

    /** "mean 3.10  p50 2.71  p99 30.75" in milliseconds, for a histogram in seconds; "none" when empty. */
    String describeMillis() {
        if (count <= 0) {
            return "none";
        }
        return String.format(Locale.ROOT, "mean %.2f  p50 %.2f  p99 %.2f", 1000 * sum / count,
                1000 * quantile(0.5), 1000 * quantile(0.99));
    }
}
