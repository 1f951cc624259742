package dev.agentspend.ledger.grpc;

import java.time.Duration;

/**
 * Delays between attempts to reconnect the policy feed: doubling from the minimum, and never above
 * the maximum nor a quarter of the staleness bound. The ledger fails closed once the feed has been
 * silent for the staleness bound, so a feed lost to an outage of identity (or of its database)
 * must be retried often enough to resume within a fraction of that bound once identity answers
 * again; a 5 s delay against a 10 s bound let a 6 s outage end in POLICY_UNAVAILABLE declines.
 */
final class ReconnectBackoff {
    private final long minMillis;
    private final long capMillis;
    private long nextMillis;

    ReconnectBackoff(Duration min, Duration max, Duration staleness) {
        this.minMillis = Math.max(1, min.toMillis());
        this.capMillis = Math.max(minMillis, Math.min(max.toMillis(), staleness.toMillis() / 4));
        this.nextMillis = minMillis;
    }

    /** The delay before the next attempt; the one after it doubles, up to the cap. */
    synchronized long next() {
        long delay = nextMillis;
        nextMillis = Math.min(capMillis, nextMillis * 2);
        return delay;
    }

    /** The feed answered: the next loss is retried after the minimum again. */
    synchronized void reset() {
        nextMillis = minMillis;
    }
}
