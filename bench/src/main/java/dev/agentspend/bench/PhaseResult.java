package dev.agentspend.bench;

import org.HdrHistogram.Histogram;

import java.util.Map;
import java.util.TreeMap;

/**
 * What one load phase measured (the warm-up excluded): Pay calls completed in the measured window,
 * their latencies (microseconds, HdrHistogram) and outcomes, and the deliberate retries.
 */
final class PhaseResult {
    final String name;
    final double seconds;
    final Histogram latencyMicros = LoadPhase.newHistogram();
    long completed;
    long approved;
    final Map<String, Long> declines = new TreeMap<>();
    final Map<String, Long> errors = new TreeMap<>();
    /** Retries sent (the same request_id and content again), and how many came back with another entry. */
    long retries;
    long retriesWithOtherEntry;
    /** Approved first answers over the whole phase (warm-up and drain included), for the audit. */
    long approvedAcknowledgedTotal;
    /** Calls still outstanding when the phase gave up waiting for them. */
    long unfinished;

    PhaseResult(String name, double seconds) {
        this.name = name;
        this.seconds = seconds;
    }

    double perSecond() {
        return completed / seconds;
    }

    double approvedPerSecond() {
        return approved / seconds;
    }

    long declined() {
        return declines.values().stream().mapToLong(Long::longValue).sum();
    }

    long errorCount() {
        return errors.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Latency at a percentile in milliseconds. */
    double percentileMillis(double percentile) {
        return latencyMicros.getTotalCount() == 0 ? 0 : latencyMicros.getValueAtPercentile(percentile) / 1000.0;
    }

    double maxMillis() {
        return latencyMicros.getTotalCount() == 0 ? 0 : latencyMicros.getMaxValue() / 1000.0;
    }
}
