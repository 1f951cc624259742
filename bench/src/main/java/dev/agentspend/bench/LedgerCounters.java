package dev.agentspend.bench;

import java.util.Locale;
import java.util.OptionalDouble;

/**
 * The ledger's own counters over a measured window, read from its {@code /q/metrics} at the
 * window's start and end. Group commit: how many Pay batches it committed and how many payments
 * each held on average ({@code agentspend_ledger_pay_batch_size} count and sum); PostgreSQL's CPU
 * per payment depends on it, a batch's statements costing about as much for 20 payments as for
 * 40. The feed: how many StreamEntries pages the ledger served from its in-memory tail and how
 * many it read from the database ({@code agentspend_ledger_stream_reads_total} by source), which
 * shows whether the tail is long enough for the consumers at the offered rate. Where a Pay's time
 * in the ledger goes: its wait in the queue, then its batch preparing and committing (the ledger's
 * {@code agentspend_ledger_pay_*} timers, Prometheus histograms).
 */
final class LedgerCounters {
    static final String BATCH_SIZE = "agentspend_ledger_pay_batch_size";
    static final String STREAM_READS = "agentspend_ledger_stream_reads_total";
    static final String QUEUE_WAIT = "agentspend_ledger_pay_queue_wait_seconds";
    static final String PREPARING = "agentspend_ledger_pay_batch_preparing_seconds";
    static final String COMMITTING = "agentspend_ledger_pay_batch_committing_seconds";

    /**
     * The counters since the ledger started; the feed's are negative, and the timers null, when
     * the ledger does not expose them.
     */
    record Mark(double batches, double payments, double feedPagesFromMemory, double feedPagesFromDatabase,
                PrometheusHistogram queueWait, PrometheusHistogram preparing, PrometheusHistogram committing) {
        Mark(double batches, double payments, double feedPagesFromMemory, double feedPagesFromDatabase) {
            this(batches, payments, feedPagesFromMemory, feedPagesFromDatabase, null, null, null);
        }
    }

    private LedgerCounters() {
    }

    /** Null when the ledger's metrics cannot be read. */
    static Mark read(int port) {
        String exposition = Exposition.fetch(port);
        return exposition == null ? null : parse(exposition);
    }

    static Mark parse(String exposition) {
        OptionalDouble count = Exposition.value(exposition, BATCH_SIZE + "_count");
        OptionalDouble sum = Exposition.value(exposition, BATCH_SIZE + "_sum");
        if (count.isEmpty() || sum.isEmpty()) {
            return null;
        }
        double memory = Exposition.value(exposition, STREAM_READS, "source=\"memory\"").orElse(-1);
        double database = Exposition.value(exposition, STREAM_READS, "source=\"database\"").orElse(-1);
        return new Mark(count.getAsDouble(), sum.getAsDouble(), memory, database,
                PrometheusHistogram.parse(exposition, QUEUE_WAIT), PrometheusHistogram.parse(exposition, PREPARING),
                PrometheusHistogram.parse(exposition, COMMITTING));
    }

    /** One line for the report on where a Pay's time in the ledger went over the window, or why there is none. */
    static String describeStages(Mark start, Mark end) {
        if (start == null || end == null) {
            return "time in the ledger: not read (the ledger's /q/metrics did not answer)";
        }
        if (start.queueWait() == null || start.preparing() == null || start.committing() == null
                || end.queueWait() == null || end.preparing() == null || end.committing() == null) {
            return "time in the ledger: not timed (this ledger does not expose " + QUEUE_WAIT + " and the batch timers)";
        }
        PrometheusHistogram queue = end.queueWait().since(start.queueWait());
        PrometheusHistogram preparing = end.preparing().since(start.preparing());
        PrometheusHistogram committing = end.committing().since(start.committing());
        if (queue == null || preparing == null || committing == null) {
            return "time in the ledger: not read (the timers' counts went down or their buckets changed: did the ledger restart?)";
        }
        return "time in the ledger ms (its histograms, to a bucket's width): queue wait per call " + queue.describeMillis()
                + "; then per batch: preparing " + preparing.describeMillis() + "; committing " + committing.describeMillis();
    }

    /** One line for the report on group commit, or why there is none. */
    static String describeBatches(Mark start, Mark end, double seconds) {
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

    /** One line for the report on where the feed's pages came from, or why there is none. */
    static String describeFeedReads(Mark start, Mark end) {
        if (start == null || end == null) {
            return "ledger feed pages: not read (the ledger's /q/metrics did not answer)";
        }
        if (start.feedPagesFromMemory() < 0 || end.feedPagesFromMemory() < 0
                || start.feedPagesFromDatabase() < 0 || end.feedPagesFromDatabase() < 0) {
            return "ledger feed pages: not counted (this ledger does not expose " + STREAM_READS + ")";
        }
        double memory = end.feedPagesFromMemory() - start.feedPagesFromMemory();
        double database = end.feedPagesFromDatabase() - start.feedPagesFromDatabase();
        double pages = memory + database;
        if (pages <= 0) {
            return "ledger feed pages (StreamEntries): none in the window";
        }
        return String.format(Locale.ROOT, "ledger feed pages (StreamEntries): %.0f from memory, %.0f from the database"
                + " (%.1f%% from memory)", memory, database, 100 * memory / pages);
    }
}
