package dev.agentspend.alerts.domain;

/**
 * What one turn of the feed consumer does: evaluate the entries it took, and run the sweep (which
 * resolves what time alone has ended: a payment loop's window passing, an idle agent's condition)
 * when one is due. A due sweep goes with the next batch whether or not entries are waiting: under a
 * steady feed nearly every turn finds some, and a sweep kept for an idle turn waited for a pause in
 * the feed, which production load may never leave (payment loops stayed firing for good).
 */
public record ConsumerTurn(boolean commits, boolean sweeps) {
    public static ConsumerTurn of(int entriesTaken, boolean sweepDue) {
        if (entriesTaken < 0) {
            throw new IllegalArgumentException("entries taken " + entriesTaken);
        }
        return new ConsumerTurn(entriesTaken > 0 || sweepDue, sweepDue);
    }
}
