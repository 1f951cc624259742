package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class LedgerBatchesTest {
    private static final String EXPOSITION = """
            # TYPE agentspend_ledger_pay_batch_size summary
            agentspend_ledger_pay_batch_size{quantile="0.5"} 20.0
            agentspend_ledger_pay_batch_size{quantile="0.99"} 41.0
            agentspend_ledger_pay_batch_size_count{application="ledger-service"} 5858.0
            agentspend_ledger_pay_batch_size_sum{application="ledger-service"} 119826.0
            # TYPE agentspend_ledger_pay_batch_size_max gauge
            agentspend_ledger_pay_batch_size_max 64.0
            """;

    @Test
    void countAndSumAreReadWhateverTheirLabels() {
        LedgerBatches.Mark m = LedgerBatches.parse(EXPOSITION);
        assertEquals(5858.0, m.batches());
        assertEquals(119826.0, m.payments());
        assertNull(LedgerBatches.parse("agentspend_ledger_pay_queue_size 0.0\n"));
    }

    @Test
    void theLineGivesBatchesPerSecondAndTheirMeanSizeOverTheWindow() {
        LedgerBatches.Mark start = new LedgerBatches.Mark(1_000, 20_000);
        LedgerBatches.Mark end = new LedgerBatches.Mark(6_000, 120_000);
        assertEquals("ledger batches (group commit): 250.0 per second, 20.0 payments each on average",
                LedgerBatches.describe(start, end, 20.0));
        assertEquals("ledger batches: none in the window", LedgerBatches.describe(end, end, 20.0));
        assertEquals("ledger batches: not read (the ledger's /q/metrics did not answer)",
                LedgerBatches.describe(null, end, 20.0));
    }
}
