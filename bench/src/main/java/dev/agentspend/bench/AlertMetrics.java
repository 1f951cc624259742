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
        for (String line : exposition.split("\n")) {
            if (!line.startsWith(DETECTION)) {
                continue;
            }
            String rest = line.substring(DETECTION.length());
            String value = line.substring(line.lastIndexOf(' ') + 1);
            double v;
            try {
                v = Double.parseDouble(value);
            } catch (NumberFormatException e) {
                continue;
            }
            if (rest.startsWith("_count")) {
                out.put("count", v);
            } else if (rest.startsWith("_sum")) {
                out.put("sum", v);
            } else if (rest.startsWith("_max")) {
                out.put("max", v);
            } else if (rest.startsWith("{") && rest.contains("quantile=\"0.5\"")) {
                out.put("p50", v);
            } else if (rest.startsWith("{") && rest.contains("quantile=\"0.99\"")) {
                out.put("p99", v);
            }
        }
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
