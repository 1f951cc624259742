package dev.agentspend.identity.config;

import io.smallrye.config.ConfigMapping;

/** The bearer tokens set at deploy time. Never logged: toString is not generated for secrets. */
@ConfigMapping(prefix = "agentspend.auth")
public interface AuthConfig {
    /** Grants every operation of this service. */
    String adminToken();

    /** Grants Authenticate and WatchPolicies only (other services of the platform). */
    String serviceToken();
}
