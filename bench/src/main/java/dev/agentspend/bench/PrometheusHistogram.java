package dev.agentspend.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * One Prometheus histogram of a service's exposition (its {@code _bucket}, {@code _sum} and
 * {@code _count} samples), read at a moment; two of them give the observations in between, and
 * their quantiles are estimated as Prometheus' {@code histogram_quantile} does: linear within the
 * bucket the rank falls in. Accurate to a bucket's width (Micrometer's buckets grow by about a
 * third from one to the next), which is plenty for telling a 2 ms stage from a 30 ms one.
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
        double sum = Double.NaN;
        double count = Double.NaN;
        for (String line : exposition.split("\n")) {
            if (line.startsWith(name + "_bucket{")) {
                int le = line.indexOf("le=\"");
                if (le < 0 || buckets.size() >= BUCKETS_MAX) {
                    return null;
                }
                int close = line.indexOf('"', le + 4);
                try {
                    String bound = line.substring(le + 4, close);
                    double upper = bound.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(bound);
                    buckets.put(upper, Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)));
                } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
                    return null;
                }
            } else if (line.startsWith(name + "_sum ") || line.startsWith(name + "_sum{")) {
                sum = Exposition.value(line, name + "_sum").orElse(Double.NaN);
            } else if (line.startsWith(name + "_count ") || line.startsWith(name + "_count{")) {
                count = Exposition.value(line, name + "_count").orElse(Double.NaN);
            }
        }
        if (buckets.isEmpty() || Double.isNaN(sum) || Double.isNaN(count)
                || !buckets.containsKey(Double.POSITIVE_INFINITY)) {
            return null;
        }
        double[] bounds = buckets.keySet().stream().mapToDouble(Double::doubleValue).toArray();
        double[] counts = buckets.values().stream().mapToDouble(Double::doubleValue).toArray();
        return new PrometheusHistogram(bounds, counts, sum, count);
    }

    /** The observations after {@code earlier} (the same histogram read before), or null if the buckets differ. */
    PrometheusHistogram since(PrometheusHistogram earlier) {
        if (!Arrays.equals(upperBounds, earlier.upperBounds)) {
            return null;
        }
        double[] counts = new double[cumulative.length];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = cumulative[i] - earlier.cumulative[i];
        }
        return new PrometheusHistogram(upperBounds, counts, sum - earlier.sum, count - earlier.count);
    }

    /**
     * The estimated q-quantile (0 < q < 1), in the histogram's unit; NaN when it holds no observation.
     * A rank in the last, unbounded bucket answers the highest finite bound, as Prometheus does.
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
                    return lowerBound;
                }
                double inBucket = cumulative[i] - lowerCount;
                return lowerBound + (upperBounds[i] - lowerBound) * (inBucket <= 0 ? 1 : (rank - lowerCount) / inBucket);
            }
            lowerBound = upperBounds[i];
            lowerCount = cumulative[i];
        }
        return lowerBound;
    }

    /** "p50 2.71  p99 30.75" in milliseconds, for a histogram in seconds; "none" when empty. */
    String describeMillis() {
        if (count <= 0) {
            return "none";
        }
        return String.format(Locale.ROOT, "mean %.2f  p50 %.2f  p99 %.2f", 1000 * sum / count,
                1000 * quantile(0.5), 1000 * quantile(0.99));
    }
}
