package dev.agentspend.alerts.support;

import org.eclipse.microprofile.config.ConfigProvider;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * A fingerprint (row count and digest per query) of everything the alert service's API writes, for
 * tests that refused calls wrote nothing. What the background workers own is left out, because
 * they keep running during such a test and other test classes leave them work: the consumer's
 * alerts, FIRED and RESOLVED events and suspensions (a sweep may resolve an alert at any moment),
 * and the dispatcher's delivery progress (a dead endpoint left by another class is retried every
 * max-backoff, 4 s in the test profile). An acknowledgement is the one alert write the API makes.
 */
public final class ApiWrites {
    private static final String ACKNOWLEDGED = "'ALERT_EVENT_TYPE_ACKNOWLEDGED'";
    private static final List<String> QUERIES = List.of(
            "SELECT t::text FROM alerts.rule_configs t",
            "SELECT t::text FROM alerts.webhooks t",
            "SELECT concat_ws('|', alert_id, acknowledge_time, acknowledge_note) FROM alerts.alerts"
                    + " WHERE acknowledge_time IS NOT NULL OR acknowledge_note <> ''",
            "SELECT concat_ws('|', event_id, alert_id, agent_id, event_time) FROM alerts.alert_events"
                    + " WHERE event_type = " + ACKNOWLEDGED,
            "SELECT concat_ws('|', d.delivery_id, d.webhook_id, d.event_id) FROM alerts.webhook_deliveries d"
                    + " JOIN alerts.alert_events e USING (event_id) WHERE e.event_type = " + ACKNOWLEDGED);

    private ApiWrites() {
    }

    public static String fingerprint() throws SQLException {
        var config = ConfigProvider.getConfig();
        StringBuilder out = new StringBuilder();
        try (Connection c = DriverManager.getConnection(config.getValue("quarkus.datasource.jdbc.url", String.class),
                config.getValue("quarkus.datasource.username", String.class), "");
             Statement st = c.createStatement()) {
            for (String query : QUERIES) {
                try (ResultSet rs = st.executeQuery("SELECT count(*), md5(coalesce(string_agg(r, '|' ORDER BY r), ''))"
                        + " FROM (" + query + ") AS q(r)")) {
                    rs.next();
                    out.append(rs.getLong(1)).append(' ').append(rs.getString(2)).append("  ").append(query).append('\n');
                }
            }
        }
        return out.toString();
    }
}
