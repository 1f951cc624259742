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

    @Test
    void theStageLineGivesQueueWaitPreparingAndCommittingOverTheWindow() {
        String start = EXPOSITION + stage(LedgerCounters.QUEUE_WAIT, 0) + stage(LedgerCounters.PREPARING, 0)
                + stage(LedgerCounters.COMMITTING, 0);
        String end = EXPOSITION + stage(LedgerCounters.QUEUE_WAIT, 100) + stage(LedgerCounters.PREPARING, 10)
                + stage(LedgerCounters.COMMITTING, 10);
        assertEquals("time in the ledger ms (its histograms, to a bucket's width): queue wait per call"
                        + " mean 3.00  p50 3.00  p99 3.98; then per batch: preparing mean 3.00  p50 3.00  p99 3.98;"
                        + " committing mean 3.00  p50 3.00  p99 3.98",
                LedgerCounters.describeStages(LedgerCounters.parse(start), LedgerCounters.parse(end)));
        assertEquals("time in the ledger: not timed (this ledger does not expose " + LedgerCounters.QUEUE_WAIT
                        + " and the batch timers)",
                LedgerCounters.describeStages(LedgerCounters.parse(EXPOSITION), LedgerCounters.parse(end)));
        assertEquals("time in the ledger: not read (the ledger's /q/metrics did not answer)",
                LedgerCounters.describeStages(null, LedgerCounters.parse(end)));
    }

    /** A histogram whose n observations all lie in (2 ms, 4 ms], 3 ms each on average. */
    private static String stage(String name, int n) {
        return name + "_bucket{le=\"0.002\"} 0.0\n" + name + "_bucket{le=\"0.004\"} " + n + ".0\n"
                + name + "_bucket{le=\"+Inf\"} " + n + ".0\n" + name + "_count " + n + ".0\n"
                + name + "_sum " + (n * 0.003) + "\n";
    }
}
