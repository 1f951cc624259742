package dev.agentspend.ledger.domain;

/**
 * Which version of identity's policy feed this ledger has fully applied, so that a reconnect
 * resumes after it. A version is applied only once it is known complete: when a later version, a
 * heartbeat or the end of a snapshot arrives on the same stream. Snapshot events all carry the
 * snapshot's version, so a stream lost in the middle of a snapshot resumes before it.
 *
 * <p>The version being received belongs to its stream: a new stream starts with none. Carried
 * over, a snapshot cut short would count as complete as soon as the next stream's first event
 * came, and the ledger would then resume after it (identity answers that incrementally, with no
 * snapshot), missing the agents that snapshot never sent.
 *
 * <p>Not thread-safe: the caller serializes access.
 */
public final class PolicyFeedVersions {
    private long applied;
    private long receiving;

    /** The last version fully applied (0 before the first snapshot completes): where a stream resumes. */
    public long applied() {
        return applied;
    }

    /** A new stream starts (after {@link #applied}): nothing of it is being received yet. */
    public void streamStarted() {
        receiving = applied;
    }

    /** A policy event of {@code version}: a later version completes the one before it. */
    public void policy(long version) {
        if (version > receiving) {
            complete(receiving);
            receiving = version;
        }
    }

    /** A heartbeat: identity has sent everything up to the version being received. */
    public void heartbeat() {
        complete(receiving);
    }

    /** The snapshot of {@code version} has been sent whole. */
    public void snapshotComplete(long version) {
        complete(version);
    }

    private void complete(long version) {
        if (version > applied) {
            applied = version;
        }
        if (version > receiving) {
            receiving = version;
        }
    }
}
