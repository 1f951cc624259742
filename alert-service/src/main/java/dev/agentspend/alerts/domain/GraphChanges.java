package dev.agentspend.alerts.domain;

import java.util.List;

/**
 * What changed in the payment graph since the caller last asked, for the store to write in the
 * same transaction as the feed position: the graph's stored rows then hold what it holds.
 *
 * @param prunedBeforeEpochMilli every payment recorded before this was dropped ({@link Long#MIN_VALUE}: none was)
 * @param added                  payments added and still held, in the order they came
 */
public record GraphChanges(long prunedBeforeEpochMilli, List<PaymentGraph.Payment> added) {
    public GraphChanges {
        added = List.copyOf(added);
    }

    public boolean pruned() {
        return prunedBeforeEpochMilli != Long.MIN_VALUE;
    }

    public boolean isEmpty() {
        return !pruned() && added.isEmpty();
    }
}
