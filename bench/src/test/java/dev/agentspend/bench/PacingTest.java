package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PacingTest {
    private static final long MS = 1_000_000;

    @Test
    void eachClientCallsOncePerPeriodOfClientsOverRate() {
        // 4 clients sharing 200/s: each calls every 20 ms
        Pacing p = new Pacing(200, 4);
        assertEquals(20 * MS, p.periodNanos());
        assertEquals(1000L * 1_000_000_000L, new Pacing(1, 1000).periodNanos());
        assertEquals(10_000, new Pacing(100_000, 1).periodNanos());
    }

    @Test
    void offsetsSpreadTheClientsEvenlyOverOnePeriod() {
        Pacing p = new Pacing(200, 4);
        assertEquals(0, p.offsetNanos(0));
        assertEquals(5 * MS, p.offsetNanos(1));
        assertEquals(10 * MS, p.offsetNanos(2));
        assertEquals(15 * MS, p.offsetNanos(3));
    }

    @Test
    void callKOfClientIIsDueAtStartPlusOffsetPlusKPeriods() {
        Pacing p = new Pacing(200, 4);
        long start = 1_000 * MS;
        assertEquals(start, p.scheduledNanos(start, 0, 0));
        assertEquals(start + 5 * MS, p.scheduledNanos(start, 1, 0));
        assertEquals(start + 15 * MS + 3 * 20 * MS, p.scheduledNanos(start, 3, 3));
        // together the clients make one call every 1/N s: 5 ms apart, in client order
        long previous = start - 5 * MS;
        for (long call = 0; call < 3; call++) {
            for (int client = 0; client < 4; client++) {
                long due = p.scheduledNanos(start, client, call);
                assertEquals(5 * MS, due - previous);
                previous = due;
            }
        }
    }

    @Test
    void aLongPhaseDoesNotAccumulateRounding() {
        // 3/s over 7 clients: a period of 2.333... s that no whole number of nanoseconds is
        Pacing p = new Pacing(3, 7);
        long call = 3 * 3600;
        // client 0's call 3 * 3600 is the phase's call 7 * 3 * 3600, due exactly 7 hours in
        assertEquals(7 * 3600 * 1_000_000_000L, p.scheduledNanos(0, 0, call));
    }

    @Test
    void aCallIsSentWhenDueOrAsSoonAsTheClientIsFree() {
        assertEquals(100, Pacing.sendNanos(100, 40), "free before it is due: waits for the schedule");
        assertEquals(130, Pacing.sendNanos(100, 130), "previous answer came late: sent at once");
        assertEquals(100, Pacing.sendNanos(100, 100));
    }

    @Test
    void latencyCountsFromTheScheduledTimeSoALateSendIsMeasured() {
        long scheduled = 100 * MS;
        long sent = 400 * MS; // the previous call stalled for 300 ms
        long answered = 402 * MS;
        assertEquals(302 * MS, Pacing.latencyNanos(scheduled, answered));
        assertEquals(2 * MS, answered - sent, "the service time alone would hide the stall");
    }

    @Test
    void limitsAreAsserted() {
        assertThrows(IllegalArgumentException.class, () -> new Pacing(0, 4));
        assertThrows(IllegalArgumentException.class, () -> new Pacing(100_001, 4));
        assertThrows(IllegalArgumentException.class, () -> new Pacing(10, 0));
        Pacing p = new Pacing(10, 4);
        assertThrows(IllegalArgumentException.class, () -> p.scheduledNanos(0, 4, 0));
        assertThrows(IllegalArgumentException.class, () -> p.scheduledNanos(0, 0, -1));
    }
}
