package dev.agentspend.alerts.domain;

/**
 * When the consumer starts its next batch. Every batch writes each agent it touched (head row and
 * newest bucket) once, whatever the number of that agent's entries in it: a consumer that starts a
 * batch as soon as the last one finishes runs tiny batches under load (one ledger commit's worth,
 * about 20 entries) and writes nearly a row pair per entry. Letting entries gather for up to
 * {@code lingerMs} after the previous batch started makes each write cover every entry the agent
 * had in that time, at the price of that much detection latency under load only: after a quiet
 * spell the first entry starts a batch at once.
 *
 * @param lingerMs  least time between the starts of two batches, unless a batch's worth is waiting
 * @param batchSize entries that start a batch at once
 */
public record BatchLinger(long lingerMs, int batchSize) {
    public BatchLinger {
        if (lingerMs < 0 || lingerMs > 60_000) {
            throw new IllegalArgumentException("linger must be 0 to 60000 ms, not " + lingerMs);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, not " + batchSize);
        }
    }

    /**
     * Milliseconds to wait before starting the next batch; 0 to start now.
     *
     * @param sinceLastStartMs time since the previous batch with entries started (a large value when
     *                         there was none)
     * @param waiting          entries waiting
     */
    public long waitMs(long sinceLastStartMs, int waiting) {
        if (waiting >= batchSize || sinceLastStartMs >= lingerMs) {
            return 0;
        }
        return lingerMs - Math.max(0, sinceLastStartMs);
    }
}
