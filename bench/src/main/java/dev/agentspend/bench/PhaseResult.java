package dev.agentspend.bench;

import org.HdrHistogram.Histogram;

import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * What one load phase measured (the warm-up excluded): Pay calls completed in the measured window,
 * their latencies (microseconds, HdrHistogram) and outcomes, and the deliberate retries.
 */
final class PhaseResult {
    /** Below this share of the offered rate a fixed-rate phase did not keep up: it ran overloaded. */
    static final double KEPT_UP_SHARE = 0.97;
    final String name;
    final double seconds;
    /** Closed loop: send to answer; fixed rate: scheduled time to answer (see {@link Pacing}). */
    final Histogram latencyMicros = LoadPhase.newHistogram();
    /** Send to answer (the same as latencyMicros in the closed loop). */
    final Histogram serviceMicros = LoadPhase.newHistogram();
    /** The calls per second a fixed-rate phase offered; empty: closed loop. */
    OptionalInt offeredPerSecond = OptionalInt.empty();
    /** The phase's clients: at most this many calls were in flight when the window opened. */
    int clients;
    long completed;
    long approved;
    final Map<String, Long> declines = new TreeMap<>();
    final Map<String, Long> errors = new TreeMap<>();
    /** Retries sent (the same request_id and content again), and how many came back with another entry. */
    long retries;
    long retriesWithOtherEntry;
    /** CompleteTask calls answered in the window (with --task-calls). */
    long tasksCompleted;
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

    /** A fixed-rate phase whose achieved rate fell short of the offered one; never a closed-loop one. */
    boolean fellBehind() {
        return offeredPerSecond.isPresent() && perSecond() < KEPT_UP_SHARE * offeredPerSecond.getAsInt();
    }

    /**
     * A fixed-rate phase that answered more calls than could be due in its window (N x seconds, +1
     * for where the window cuts the evenly spaced schedule) plus those in flight when it opened (at
     * most one per client): its clients were still sending calls that fell behind before the window.
     */
    boolean caughtUpBacklog() {
        return offeredPerSecond.isPresent() && completed > offeredPerSecond.getAsInt() * seconds + 1 + clients;
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

    /** Service time (send to answer) at a percentile in milliseconds. */
    double servicePercentileMillis(double percentile) {
        return serviceMicros.getTotalCount() == 0 ? 0 : serviceMicros.getValueAtPercentile(percentile) / 1000.0;
    }

    double maxMillis() {
        return latencyMicros.getTotalCount() == 0 ? 0 : latencyMicros.getMaxValue() / 1000.0;
    }
}
