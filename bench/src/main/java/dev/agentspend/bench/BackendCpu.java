package dev.agentspend.bench;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * PostgreSQL's CPU split by the client each backend serves, for the report's one PostgreSQL line:
 * which service's statements the database's time goes to. A backend is named by its
 * {@code application_name} (every service names its connections: "ledger-service",
 * "alert-service-consumer", ...) or else its {@code backend_type} ("checkpointer", ...). Only
 * processes alive at both ends of a window are counted; the rest of PostgreSQL's CPU (processes
 * that started or ended inside it, such as autovacuum workers, and the postmaster) is "other".
 */
final class BackendCpu {
    /** One process of PostgreSQL at one moment: whose it is and its CPU seconds so far. */
    record Backend(String client, double cpuSeconds) {
    }

    private BackendCpu() {
    }

    /** Every process pg_stat_activity lists, by pid, with its CPU from /proc. */
    static Map<Long, Backend> sample(Connection c) throws SQLException {
        Map<Long, Backend> out = new HashMap<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT pid, coalesce(nullif(application_name, ''), backend_type, 'unknown')"
                     + " FROM pg_stat_activity")) {
            while (rs.next()) {
                double cpu = ProcessStats.cpuSeconds(rs.getLong(1));
                if (!Double.isNaN(cpu)) {
                    out.put(rs.getLong(1), new Backend(rs.getString(2), cpu));
                }
            }
        }
        return out;
    }

    /** CPU seconds per client between two samples, of the processes in both with the same client. */
    static Map<String, Double> byClient(Map<Long, Backend> start, Map<Long, Backend> end) {
        Map<String, Double> out = new TreeMap<>();
        start.forEach((pid, s) -> {
            Backend e = end.get(pid);
            if (e != null && e.client().equals(s.client())) {
                out.merge(s.client(), Math.max(0, e.cpuSeconds() - s.cpuSeconds()), Double::sum);
            }
        });
        return out;
    }
}
