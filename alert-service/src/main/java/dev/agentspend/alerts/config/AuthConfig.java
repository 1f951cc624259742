package dev.agentspend.alerts.config;

import io.smallrye.config.ConfigMapping;

/** The bearer tokens set at deploy time. Never logged. */
@ConfigMapping(prefix = "agentspend.auth")
public interface AuthConfig {
    /** Grants every operation of this service. */
    String adminToken();

    /** Grants the reads and WatchAlerts; also what this service presents to the ledger and identity. */
    String serviceToken();
}
