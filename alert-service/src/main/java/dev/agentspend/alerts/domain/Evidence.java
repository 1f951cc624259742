package dev.agentspend.alerts.domain;

import java.time.Instant;
import java.util.List;

/** Why an alert fired: the numbers, thresholds and window. */
public record Evidence(String summary, List<Measure> measurements, String currencyCode,
                       Instant windowStart, Instant windowEnd, String tool, List<LoopHop> loop,
                       long triggerPosition, Instant triggerRecordTime) {
    public Evidence {
        measurements = List.copyOf(measurements);
        loop = List.copyOf(loop);
        tool = tool == null ? "" : tool;
        currencyCode = currencyCode == null ? "" : currencyCode;
    }

    /** A number compared with its threshold (0: context only). */
    public record Measure(String name, long value, long threshold) {
    }

    /** One edge of a payment cycle with its payments in the window. */
    public record LoopHop(String from, String to, long amountMicros, int payments) {
    }

    public Evidence withTrigger(long position, Instant recordTime) {
        return new Evidence(summary, measurements, currencyCode, windowStart, windowEnd, tool, loop, position, recordTime);
    }

    public long measure(String name) {
        for (Measure m : measurements) {
            if (m.name().equals(name)) {
                return m.value();
            }
        }
        throw new IllegalArgumentException("no measurement " + name);
    }
}
