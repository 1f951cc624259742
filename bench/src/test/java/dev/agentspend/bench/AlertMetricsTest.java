package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class AlertMetricsTest {
    private static final String WHAT = "alert detection latency (alert-service's histogram from phase A's measured"
            + " start until the alerts caught up; entry recorded -> alert evaluated)";

    /** The exposition of a detection latency histogram: {@code fast} alerts in (0.1 s, 0.2 s], {@code slow} in (0.2 s, 0.4 s]. */
    static String exposition(int fast, int slow, double sumSeconds) {
        String n = AlertMetrics.DETECTION;
        return """
                # TYPE %1$s histogram
                %1$s_bucket{application="alert-service",le="0.1"} 0.0
                %1$s_bucket{application="alert-service",le="0.2"} %2$d.0
                %1$s_bucket{application="alert-service",le="0.4"} %3$d.0
                %1$s_bucket{application="alert-service",le="+Inf"} %3$d.0
                %1$s_count{application="alert-service"} %3$d.0
                %1$s_sum{application="alert-service"} %4$s
                # TYPE %1$s_max gauge
                %1$s_max{application="alert-service"} 0.39
                """.formatted(n, fast, fast + slow, sumSeconds);
    }

    @Test
    void theLineGivesTheAlertsEvaluatedBetweenTheTwoReadings() {
        PrometheusHistogram start = PrometheusHistogram.parse(exposition(10, 0, 1.5), AlertMetrics.DETECTION);
        PrometheusHistogram end = PrometheusHistogram.parse(exposition(10, 4, 2.7), AlertMetrics.DETECTION);
        // the window holds the 4 slow ones only, 0.3 s each on average
        assertEquals(WHAT + ": 4 alerts, ms mean 300.00  p50 300.00  p99 398.00 (to a bucket's width);"
                        + " over the whole run: 14 alerts, ms mean 192.86  p50 170.00  p99 393.00 (to a bucket's width)",
                AlertMetrics.describe(start, end));
    }

    @Test
    void noAlertInTheWindowIsSaidSoNotReportedAsZeroMilliseconds() {
        PrometheusHistogram h = PrometheusHistogram.parse(exposition(10, 2, 1.5), AlertMetrics.DETECTION);
        assertEquals(WHAT + ": no alert was evaluated in that window; over the whole run: 12 alerts, ms mean 125.00"
                + "  p50 160.00  p99 388.00 (to a bucket's width)", AlertMetrics.describe(h, h));
        PrometheusHistogram none = PrometheusHistogram.parse(exposition(0, 0, 0.0), AlertMetrics.DETECTION);
        assertEquals(WHAT + ": no alert was evaluated in that window; over the whole run: no alert",
                AlertMetrics.describe(none, none));
    }

    @Test
    void aServiceWithoutTheHistogramIsNotRead() {
        String summary = """
                agentspend_alerts_detection_latency_seconds{quantile="0.5"} 0.05
                agentspend_alerts_detection_latency_seconds_count 4.0
                agentspend_alerts_detection_latency_seconds_sum 0.4
                """;
        assertNull(PrometheusHistogram.parse(summary, AlertMetrics.DETECTION));
        PrometheusHistogram end = PrometheusHistogram.parse(exposition(1, 1, 0.5), AlertMetrics.DETECTION);
        assertEquals(WHAT + ": not read (" + AlertMetrics.DETECTION + " was not on the alert service's /q/metrics)",
                AlertMetrics.describe(null, end));
    }
}
