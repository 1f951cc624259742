package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class WalStatsTest {
    @Test
    void anLsnIsItsHighAndLowWordsInHex() {
        assertEquals(0x16_B374D848L, WalStats.lsnBytes("16/B374D848"));
        assertEquals(0, WalStats.lsnBytes("0/0"));
        assertEquals(0xFFFFFFFFL + 1, WalStats.lsnBytes("1/0"));
    }

    @Test
    void aMarkCountsTheWalAndEntriesSinceAnEarlierOne() {
        WalStats.Mark start = new WalStats.Mark("0/FFFFF000", 100);
        WalStats.Mark end = new WalStats.Mark("1/1000", 180);
        assertEquals(0x2000, end.walBytesSince(start));
        assertEquals(80, end.entriesSince(start));
    }

    @Test
    void whatIsNotAnLsnIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> WalStats.lsnBytes("16B374D848"));
        assertThrows(IllegalArgumentException.class, () -> WalStats.lsnBytes("/1"));
        assertThrows(IllegalArgumentException.class, () -> WalStats.lsnBytes("1/"));
    }
}
