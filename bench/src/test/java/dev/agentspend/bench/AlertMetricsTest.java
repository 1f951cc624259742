package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AlertMetricsTest {
    @Test
    void detectionLatencyFromThePrometheusExposition() {
        String text = """
                # HELP agentspend_alerts_detection_latency_seconds From an entry's recorded time to the alert
                # TYPE agentspend_alerts_detection_latency_seconds summary
                agentspend_alerts_detection_latency_seconds{quantile="0.5"} 0.041943
                agentspend_alerts_detection_latency_seconds{quantile="0.99"} 0.2
                agentspend_alerts_detection_latency_seconds_count 12.0
                agentspend_alerts_detection_latency_seconds_sum 0.9
                agentspend_alerts_detection_latency_seconds_max 0.25
                agentspend_alerts_feed_position 1234.0
                """;
        assertEquals(Map.of("count", 12.0, "mean", 0.075, "p50", 0.041943, "p99", 0.2, "max", 0.25),
                AlertMetrics.parse(text));
        assertTrue(AlertMetrics.parse("agentspend_alerts_detection_latency_seconds_count 0.0\n").isEmpty());
    }

    @Test
    void quantilesAreFoundBesideTheApplicationLabel() {
        String text = """
                agentspend_alerts_detection_latency_seconds{application="alert-service",quantile="0.5"} 0.05
                agentspend_alerts_detection_latency_seconds{application="alert-service",quantile="0.99"} 0.3
                agentspend_alerts_detection_latency_seconds_count{application="alert-service"} 4.0
                agentspend_alerts_detection_latency_seconds_sum{application="alert-service"} 0.4
                agentspend_alerts_detection_latency_seconds_max{application="alert-service"} 0.31
                """;
        assertEquals(Map.of("count", 4.0, "mean", 0.1, "p50", 0.05, "p99", 0.3, "max", 0.31),
                AlertMetrics.parse(text));
    }

    @Test
    void aDecayedWindowIsNoLatency() {
        // what the bench read after a 180 s warm-up: 30 alerts long before, none in the timer's last minutes
        String text = """
                agentspend_alerts_detection_latency_seconds{quantile="0.5"} 0.0
                agentspend_alerts_detection_latency_seconds{quantile="0.99"} 0.0
                agentspend_alerts_detection_latency_seconds_count 30.0
                agentspend_alerts_detection_latency_seconds_sum 6.84
                agentspend_alerts_detection_latency_seconds_max 0.0
                """;
        assertEquals(Map.of("count", 30.0, "mean", 0.228), AlertMetrics.parse(text));
    }
}
