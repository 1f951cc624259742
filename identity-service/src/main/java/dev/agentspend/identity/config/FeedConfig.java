package dev.agentspend.identity.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** Timing and batch limits of the WatchPolicies feed. */
@ConfigMapping(prefix = "agentspend.feed")
public interface FeedConfig {
    /** How often a watcher looks for changes committed by other replicas; local commits wake it at once. */
    @WithDefault("100")
    long pollIntervalMs();

    /** A watcher that received nothing for this long gets a Heartbeat. */
    @WithDefault("2000")
    long heartbeatIntervalMs();

    /** Most changes read per query, so that a far-behind watcher catches up in bounded steps. */
    @WithDefault("500")
    int batchSize();

    /**
     * Changes superseded by a later change of the same subject are deleted once older than this;
     * a watcher that resumes from before the compacted range gets a snapshot instead.
     */
    @WithDefault("168")
    long retentionHours();

    @WithDefault("3600000")
    long compactionIntervalMs();

    /** Most watchers served at once; more are refused with RESOURCE_EXHAUSTED. */
    @WithDefault("256")
    int maxWatchers();
}
