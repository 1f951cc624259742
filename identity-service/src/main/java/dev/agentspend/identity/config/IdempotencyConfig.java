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
}
