package dev.agentspend.bench;

/**
 * The schedule of a fixed-rate phase ({@code --rate N}): K clients share N calls per second, so each
 * client sends one call every K / N seconds, and client i starts i / N seconds into the phase so the
 * clients are spread evenly over one period. Client i's k-th call is therefore due at call number
 * {@code i + k * K} of the phase, {@code (i + k * K) / N} seconds after its start; computing it from
 * that number rather than by adding periods keeps a long phase free of accumulated rounding.
 *
 * <p>A client keeps at most one call outstanding, so a call is sent at the later of its scheduled
 * time and the previous call's answer, and its latency counts from the scheduled time: a stall
 * delays every call scheduled behind it and all of that delay is measured (no coordinated omission).
 */
final class Pacing {
    static final int MIN_RATE_PER_SECOND = 1;
    static final int MAX_RATE_PER_SECOND = 100_000;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    private final int ratePerSecond;
    private final int clients;

    Pacing(int ratePerSecond, int clients) {
        if (ratePerSecond < MIN_RATE_PER_SECOND || ratePerSecond > MAX_RATE_PER_SECOND) {
            throw new IllegalArgumentException("rate must be " + MIN_RATE_PER_SECOND + " to " + MAX_RATE_PER_SECOND
                    + " per second, not " + ratePerSecond);
        }
        if (clients < 1) {
            throw new IllegalArgumentException("at least one client, not " + clients);
        }
        this.ratePerSecond = ratePerSecond;
        this.clients = clients;
    }

    int ratePerSecond() {
        return ratePerSecond;
    }

    /** Time between two calls of one client: K / N seconds. */
    long periodNanos() {
        return clients * NANOS_PER_SECOND / ratePerSecond;
    }

    /** Where client {@code client} starts within the first period: client / N seconds. */
    long offsetNanos(int client) {
        return callNanos(client);
    }

    /** When client {@code client}'s call number {@code call} (0 first) is due. */
    long scheduledNanos(long phaseStartNanos, int client, long call) {
        if (client < 0 || client >= clients || call < 0) {
            throw new IllegalArgumentException("client " + client + " of " + clients + ", call " + call);
        }
        return phaseStartNanos + callNanos(Math.addExact(client, Math.multiplyExact(call, clients)));
    }

    /**
     * When a client that is free at {@code nowNanos} (its previous call answered) sends a call due at
     * {@code scheduledNanos}: when it is due, or at once if that has passed.
     */
    static long sendNanos(long scheduledNanos, long nowNanos) {
        return Math.max(scheduledNanos, nowNanos);
    }

    /** Latency as the fixed-rate report counts it: from the scheduled time, not from the send. */
    static long latencyNanos(long scheduledNanos, long answeredNanos) {
        return answeredNanos - scheduledNanos;
    }

    /** The phase's call number {@code n} is due n / N seconds after its start. */
    private long callNanos(long n) {
        return Math.multiplyExact(n, NANOS_PER_SECOND) / ratePerSecond;
    }
}
