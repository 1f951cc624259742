package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class LedgerCountersTest {
    private static final String EXPOSITION = """
            # TYPE agentspend_ledger_pay_batch_size summary
            agentspend_ledger_pay_batch_size{quantile="0.5"} 20.0
            agentspend_ledger_pay_batch_size{quantile="0.99"} 41.0
            agentspend_ledger_pay_batch_size_count{application="ledger-service"} 5858.0
            agentspend_ledger_pay_batch_size_sum{application="ledger-service"} 119826.0
            # TYPE agentspend_ledger_pay_batch_size_max gauge
            agentspend_ledger_pay_batch_size_max 64.0
            # TYPE agentspend_ledger_stream_reads_total counter
            agentspend_ledger_stream_reads_total{application="ledger-service",source="database"} 12.0
            agentspend_ledger_stream_reads_total{application="ledger-service",source="memory"} 11234.0
            """;

    @Test
    void countersAreReadWhateverTheirOtherLabels() {
        LedgerCounters.Mark m = LedgerCounters.parse(EXPOSITION);
        assertEquals(5858.0, m.batches());
        assertEquals(119826.0, m.payments());
        assertEquals(11234.0, m.feedPagesFromMemory());
        assertEquals(12.0, m.feedPagesFromDatabase());
        assertNull(LedgerCounters.parse("agentspend_ledger_pay_queue_size 0.0\n"));
    }

    @Test
    void aLedgerWithoutTheFeedCountersStillGivesItsBatches() {
        String older = EXPOSITION.substring(0, EXPOSITION.indexOf("# TYPE agentspend_ledger_stream_reads_total"));
        LedgerCounters.Mark m = LedgerCounters.parse(older);
        assertEquals(5858.0, m.batches());
        assertEquals("ledger feed pages: not counted (this ledger does not expose agentspend_ledger_stream_reads_total)",
                LedgerCounters.describeFeedReads(m, m));
    }

    @Test
    void theBatchLineGivesBatchesPerSecondAndTheirMeanSizeOverTheWindow() {
        LedgerCounters.Mark start = new LedgerCounters.Mark(1_000, 20_000, 0, 0);
        LedgerCounters.Mark end = new LedgerCounters.Mark(6_000, 120_000, 0, 0);
        assertEquals("ledger batches (group commit): 250.0 per second, 20.0 payments each on average",
                LedgerCounters.describeBatches(start, end, 20.0));
        assertEquals("ledger batches: none in the window", LedgerCounters.describeBatches(end, end, 20.0));
        assertEquals("ledger batches: not read (the ledger's /q/metrics did not answer)",
                LedgerCounters.describeBatches(null, end, 20.0));
    }

    @Test
    void theFeedLineGivesTheWindowsPagesBySource() {
        LedgerCounters.Mark start = new LedgerCounters.Mark(0, 0, 500, 40);
        LedgerCounters.Mark end = new LedgerCounters.Mark(0, 0, 10_400, 140);
        assertEquals("ledger feed pages (StreamEntries): 9900 from memory, 100 from the database (99.0% from memory)",
                LedgerCounters.describeFeedReads(start, end));
        assertEquals("ledger feed pages (StreamEntries): none in the window", LedgerCounters.describeFeedReads(end, end));
        assertEquals("ledger feed pages: not read (the ledger's /q/metrics did not answer)",
                LedgerCounters.describeFeedReads(start, null));
    }
}
