package dev.agentspend.bench;

import java.util.Locale;

/**
 * The alert service's detection latency ({@code agentspend_alerts_detection_latency_seconds}, a
 * Prometheus histogram: from an entry's recorded time to the alert it fired being evaluated), read
 * when phase A's measured window starts and again once the alerts have caught up after it: the
 * alerts evaluated in between, with their count, mean and quantiles.
 */
final class AlertMetrics {
    static final String DETECTION = "agentspend_alerts_detection_latency_seconds";

    private AlertMetrics() {
    }

    /** The histogram now, or null when the alert service's metrics cannot be read or lack it. */
    static PrometheusHistogram detectionLatency(int port) {
        String exposition = Exposition.fetch(port);
        return exposition == null ? null : PrometheusHistogram.parse(exposition, DETECTION);
    }

    /**
     * One line for the report: the alerts evaluated between the two readings (or why there are none),
     * then those of the whole run (the end reading alone: alerts fire mostly when the tight agents
     * reach their limits, which can all happen in the warm-up).
     */
    static String describe(PrometheusHistogram start, PrometheusHistogram end) {
        String what = "alert detection latency (alert-service's histogram from phase A's measured start until the"
                + " alerts caught up; entry recorded -> alert evaluated)";
        if (start == null || end == null) {
            return what + ": not read (" + DETECTION + " was not on the alert service's /q/metrics)";
        }
        String run = "; over the whole run: " + alerts(end);
        PrometheusHistogram window = end.since(start);
        if (window == null) {
            return what + ": not read (its counts went down or its buckets changed: did the alert service restart?)";
        }
        if (window.count() <= 0) {
            return what + ": no alert was evaluated in that window" + run;
        }
        return what + ": " + alerts(window) + run;
    }

    private static String alerts(PrometheusHistogram h) {
        if (h.count() <= 0) {
            return "no alert";
        }
        return String.format(Locale.ROOT, "%.0f alerts, ms %s (to a bucket's width)", h.count(), h.describeMillis());
    }
}
