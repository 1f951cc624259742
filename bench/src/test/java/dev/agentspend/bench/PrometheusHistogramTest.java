package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrometheusHistogramTest {
    static String exposition(double b1, double b4, double b16, double inf, double sum) {
        return """
                # TYPE t_seconds histogram
                t_seconds_bucket{application="ledger-service",le="0.001"} %s
                t_seconds_bucket{application="ledger-service",le="0.004"} %s
                t_seconds_bucket{application="ledger-service",le="0.016"} %s
                t_seconds_bucket{application="ledger-service",le="+Inf"} %s
                t_seconds_count{application="ledger-service"} %s
                t_seconds_sum{application="ledger-service"} %s
                # TYPE t_seconds_max gauge
                t_seconds_max{application="ledger-service"} 0.5
                """.formatted(b1, b4, b16, inf, inf, sum);
    }

    @Test
    void bucketsSumAndCountAreReadInBoundOrder() {
        PrometheusHistogram h = PrometheusHistogram.parse(exposition(10, 50, 90, 100, 0.3), "t_seconds");
        assertEquals(4, h.upperBounds().length);
        assertEquals(Double.POSITIVE_INFINITY, h.upperBounds()[3]);
        assertEquals(90, h.cumulative()[2]);
        assertEquals(100, h.count());
        assertEquals(0.3, h.sum());
    }

    @Test
    void quantilesInterpolateWithinTheBucketTheRankFallsIn() {
        PrometheusHistogram h = PrometheusHistogram.parse(exposition(10, 50, 90, 100, 0.3), "t_seconds");
        // rank 50 of 100 is the last of the (0.001, 0.004] bucket
        assertEquals(0.004, h.quantile(0.5), 1e-12);
        // rank 30: 20 of that bucket's 40, half way through it
        assertEquals(0.0025, h.quantile(0.3), 1e-12);
        // rank 5: half way through the first bucket, which starts at 0
        assertEquals(0.0005, h.quantile(0.05), 1e-12);
        // rank 99 falls in +Inf: the highest finite bound, as histogram_quantile answers
        assertEquals(0.016, h.quantile(0.99), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> h.quantile(1.0));
    }

    @Test
    void aWindowIsTheDifferenceOfTwoReadings() {
        PrometheusHistogram start = PrometheusHistogram.parse(exposition(10, 50, 90, 100, 0.3), "t_seconds");
        PrometheusHistogram end = PrometheusHistogram.parse(exposition(10, 50, 190, 200, 1.3), "t_seconds");
        PrometheusHistogram window = end.since(start);
        assertEquals(100, window.count());
        assertEquals(1.0, window.sum(), 1e-12);
        // every observation of the window is in (0.004, 0.016]: its median is that bucket's middle
        assertEquals(0.010, window.quantile(0.5), 1e-12);
        assertEquals("mean 10.00  p50 10.00  p99 15.88", window.describeMillis());
        assertEquals("none", start.since(start).describeMillis());
        assertTrue(Double.isNaN(start.since(start).quantile(0.5)));
    }

    @Test
    void absentOrIncompleteHistogramsAreNull() {
        assertNull(PrometheusHistogram.parse(exposition(10, 50, 90, 100, 0.3), "other_seconds"));
        String noInf = exposition(10, 50, 90, 100, 0.3).replaceAll("(?m)^.*le=\"\\+Inf\".*\n", "");
        assertNull(PrometheusHistogram.parse(noInf, "t_seconds"));
        String noSum = exposition(10, 50, 90, 100, 0.3).replaceAll("(?m)^t_seconds_sum.*\n", "");
        assertNull(PrometheusHistogram.parse(noSum, "t_seconds"));
        assertNull(PrometheusHistogram.parse(exposition(10, 50, 90, 100, 0.3).replace("0.004\"} 50.0", "0.004\"} x"),
                "t_seconds"));
    }

    @Test
    void readingsWithDifferentBucketsDoNotMakeAWindow() {
        PrometheusHistogram a = PrometheusHistogram.parse(exposition(10, 50, 90, 100, 0.3), "t_seconds");
        PrometheusHistogram b = PrometheusHistogram.parse(exposition(10, 50, 90, 100, 0.3).replace("0.016", "0.02"),
                "t_seconds");
        assertNull(b.since(a));
    }

    @Test
    void aLabelWhoseNameEndsInLeIsNotTheBound() {
        String tagged = exposition(10, 50, 90, 100, 0.3).replace("{application=", "{rule=\"VELOCITY\",application=");
        PrometheusHistogram h = PrometheusHistogram.parse(tagged, "t_seconds");
        assertEquals(0.004, h.quantile(0.5), 1e-12);
    }

    @Test
    void severalSeriesAreAddedUpPerBoundAsSumByLeDoes() {
        String two = exposition(10, 50, 90, 100, 0.3)
                + exposition(0, 0, 100, 100, 1.0).replace("application=\"ledger-service\"", "application=\"other\"")
                .replaceAll("(?m)^#.*\n", "");
        PrometheusHistogram h = PrometheusHistogram.parse(two, "t_seconds");
        assertEquals(200, h.count());
        assertEquals(1.3, h.sum(), 1e-12);
        assertEquals(190, h.cumulative()[2]);
        // rank 100 of 200: 50 into the (0.004, 0.016] bucket's 140
        assertEquals(0.004 + 0.012 * 50 / 140, h.quantile(0.5), 1e-12);
    }

    @Test
    void countsThatWentDownMeanARestartAndMakeNoWindow() {
        PrometheusHistogram before = PrometheusHistogram.parse(exposition(10, 50, 90, 100, 0.3), "t_seconds");
        PrometheusHistogram restarted = PrometheusHistogram.parse(exposition(1, 2, 3, 4, 0.01), "t_seconds");
        assertNull(restarted.since(before));
        // the same total with a bucket lower: still not a window
        PrometheusHistogram shifted = PrometheusHistogram.parse(exposition(5, 50, 95, 100, 0.3), "t_seconds");
        assertNull(shifted.since(before));
    }

    @Test
    void onlyAnInfiniteBucketGivesNoQuantile() {
        String onlyInf = "t_seconds_bucket{le=\"+Inf\"} 3.0\nt_seconds_count 3.0\nt_seconds_sum 0.3\n";
        assertTrue(Double.isNaN(PrometheusHistogram.parse(onlyInf, "t_seconds").quantile(0.5)));
    }
}
