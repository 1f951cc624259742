package dev.agentspend.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The alert service's detection latency as it exports it on {@code /q/metrics}
 * ({@code agentspend_alerts_detection_latency_seconds}: count and mean since start; p50, p99 and max
 * over its recent window), read once right after phase A.
 */
final class AlertMetrics {
    static final String DETECTION = "agentspend_alerts_detection_latency_seconds";

    private AlertMetrics() {
    }

    static Map<String, Double> detectionLatency(int port) {
        String exposition = Exposition.fetch(port);
        return exposition == null ? Map.of() : parse(exposition);
    }

    /** count, p50, p99 and max (seconds) of the detection latency in a Prometheus text exposition. */
    static Map<String, Double> parse(String exposition) {
        Map<String, Double> out = new LinkedHashMap<>();
        Exposition.value(exposition, DETECTION + "_count").ifPresent(v -> out.put("count", v));
        Exposition.value(exposition, DETECTION + "_sum").ifPresent(v -> out.put("sum", v));
        Exposition.value(exposition, DETECTION + "_max").ifPresent(v -> out.put("max", v));
        Exposition.value(exposition, DETECTION, "quantile=\"0.5\"").ifPresent(v -> out.put("p50", v));
        Exposition.value(exposition, DETECTION, "quantile=\"0.99\"").ifPresent(v -> out.put("p99", v));
        if (out.getOrDefault("count", 0.0) == 0) {
            return Map.of();
        }
        // p50, p99 and max are over the timer's recent window (about two minutes); the mean is over the run
        Map<String, Double> ordered = new LinkedHashMap<>();
        ordered.put("count", out.get("count"));
        if (out.containsKey("sum")) {
            ordered.put("mean", out.get("sum") / out.get("count"));
        }
        // all three 0: no alert fired within that window (the timer decays), not a latency of 0 ms
        boolean recent = out.getOrDefault("max", 0.0) > 0 || out.getOrDefault("p99", 0.0) > 0;
        for (String k : new String[]{"p50", "p99", "max"}) {
            if (recent && out.containsKey(k)) {
                ordered.put(k, out.get(k));
            }
        }
        return ordered;
    }
}
