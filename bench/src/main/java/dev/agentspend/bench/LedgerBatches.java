package dev.agentspend.bench;

import java.util.Locale;
import java.util.OptionalDouble;

/**
 * The ledger's group commit over a measured window: how many Pay batches it committed and how
 * many payments each held on average, from {@code agentspend_ledger_pay_batch_size} (count and
 * sum) read at the window's start and end. PostgreSQL's CPU per payment depends on it: a batch's
 * statements cost about as much for 20 payments as for 40.
 */
final class LedgerBatches {
    static final String SIZE = "agentspend_ledger_pay_batch_size";

    /** The summary's count (batches) and sum (payments) since the ledger started. */
    record Mark(double batches, double payments) {
    }

    private LedgerBatches() {
    }

    /** Null when the ledger's metrics cannot be read. */
    static Mark read(int port) {
        String exposition = Exposition.fetch(port);
        return exposition == null ? null : parse(exposition);
    }

    static Mark parse(String exposition) {
        OptionalDouble count = Exposition.value(exposition, SIZE + "_count");
        OptionalDouble sum = Exposition.value(exposition, SIZE + "_sum");
        return count.isPresent() && sum.isPresent() ? new Mark(count.getAsDouble(), sum.getAsDouble()) : null;
    }

    /** One line for the report, or why there is none. */
    static String describe(Mark start, Mark end, double seconds) {
        if (start == null || end == null) {
            return "ledger batches: not read (the ledger's /q/metrics did not answer)";
        }
        double batches = end.batches() - start.batches();
        double payments = end.payments() - start.payments();
        if (batches <= 0 || seconds <= 0) {
            return "ledger batches: none in the window";
        }
        return String.format(Locale.ROOT, "ledger batches (group commit): %.1f per second, %.1f payments each on average",
                batches / seconds, payments / batches);
    }
}
