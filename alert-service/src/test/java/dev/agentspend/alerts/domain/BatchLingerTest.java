package dev.agentspend.alerts.domain;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BatchLingerTest {
    private final BatchLinger linger = new BatchLinger(250, 100);

    @Test
    void afterAQuietSpellTheFirstEntryStartsABatchAtOnce() {
        assertEquals(0, linger.waitMs(Long.MAX_VALUE, 1));
        assertEquals(0, linger.waitMs(250, 1));
        assertEquals(0, linger.waitMs(10_000, 1));
    }

    @Test
    void soonAfterABatchStartedEntriesWaitForTheRestOfTheLinger() {
        assertEquals(250, linger.waitMs(0, 1));
        assertEquals(150, linger.waitMs(100, 99));
        assertEquals(1, linger.waitMs(249, 1));
    }

    @Test
    void aFullBatchStartsWithoutWaiting() {
        assertEquals(0, linger.waitMs(0, 100));
        assertEquals(0, linger.waitMs(10, 5_000));
    }

    @Test
    void aClockThatWentBackWaitsNoLongerThanTheLinger() {
        assertEquals(250, linger.waitMs(-5_000, 1));
    }

    @Test
    void zeroLingerNeverWaits() {
        BatchLinger none = new BatchLinger(0, 100);
        assertEquals(0, none.waitMs(0, 1));
        assertEquals(0, none.waitMs(-1, 1));
    }

    @Test
    void limitsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> new BatchLinger(-1, 100));
        assertThrows(IllegalArgumentException.class, () -> new BatchLinger(60_001, 100));
        assertThrows(IllegalArgumentException.class, () -> new BatchLinger(250, 0));
    }
}
