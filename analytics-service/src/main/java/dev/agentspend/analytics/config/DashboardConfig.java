package dev.agentspend.analytics.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/** Settings of the dashboard served at {@code /}. */
@ConfigMapping(prefix = "agentspend.dashboard")
public interface DashboardConfig {
    /** The alert service's page; the dashboard links an agent to {@code <alerts-url>?agent=<id>}. */
    @WithDefault("http://localhost:8084/")
    String alertsUrl();
}
