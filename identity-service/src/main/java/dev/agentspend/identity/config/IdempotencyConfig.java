package dev.agentspend.identity.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** How long a request_id is remembered; a retry after that is treated as a new request. */
@ConfigMapping(prefix = "agentspend.idempotency")
public interface IdempotencyConfig {
    /** Retries come within minutes; a week covers a client that was down over a long weekend. */
    @WithDefault("168")
    long retentionHours();

    @WithDefault("3600000")
    long purgeIntervalMs();

    /** Records one purge statement deletes at most (1 to 100,000): each is a short transaction of its own. */
    @WithDefault("10000")
    int purgeBatchRows();

    /** Statements one purge runs at most (1 to 1,000,000); the rest waits for the next interval. */
    @WithDefault("1000")
    int purgeMaxBatches();
}
