package dev.agentspend.analytics.it;

import dev.agentspend.analytics.support.AnalyticsTestResource;
import dev.agentspend.proto.analytics.v1.FleetSortField;
import dev.agentspend.proto.analytics.v1.GetFleetOverviewRequest;
import dev.agentspend.proto.analytics.v1.GetFleetOverviewResponse;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.Arrays;
import java.util.Map;

import static dev.agentspend.analytics.support.Platform.analyticsAdmin;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Benchmark, not a unit test (excluded from the normal test run): the fleet overview over 1,000
 * agents and the aggregates of 10 million entries (one entry per agent, tool and minute over the
 * last ~7 days, rolled up into the day tables as ingestion would), loaded directly with set-based
 * SQL. Prints the latency of GetFleetOverview over gRPC after a warm-up.
 *
 * <p>Run: {@code mvn -B -q test -pl analytics-service -Dtest=FleetOverviewBenchmark}
 * (optionally {@code -Dbench.agents=1000 -Dbench.entries=10000000}).
 */
@QuarkusTest
@TestProfile(FleetOverviewBenchmark.Quiet.class)
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class FleetOverviewBenchmark {
    /** No gauge refresh competing with the measured calls. */
    public static class Quiet implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("agentspend.analytics.metrics.refresh", "1h");
        }
    }

    @Test
    void fleetOverviewLatency() throws Exception {
        int agents = Integer.getInteger("bench.agents", 1_000);
        long entries = Long.getLong("bench.entries", 10_000_000L);
        int perAgent = (int) (entries / agents);
        byte[] capped = SpendingPolicy.newBuilder().addCaps(Cap.newBuilder().setWindow(CapWindow.CAP_WINDOW_DAY)
                .setLimitMicros(50_000_000).setCurrencyCode("USD").setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD)).build().toByteArray();
        long loadStart = System.nanoTime();
        try (Connection db = DriverManager.getConnection(AnalyticsTestResource.analyticsJdbcUrl(), "postgres", "")) {
            try (PreparedStatement p = db.prepareStatement("""
                    INSERT INTO analytics.agent (agent_id, handle, team_id, labels, currency_code, status, policy, working_hours, agent_version)
                    SELECT 'agt_bench' || a, 'bench-' || lpad(a::text, 5, '0'), 'team_' || (a % 20),
                           jsonb_build_object('env', CASE WHEN a % 2 = 0 THEN 'prod' ELSE 'dev' END), 'USD', 1,
                           CASE WHEN a % 2 = 0 THEN ?::bytea END, NULL, 1
                    FROM generate_series(1, ?) a
                    """)) {
                p.setBytes(1, capped);
                p.setInt(2, agents);
                p.execute();
            }
            try (Statement s = db.createStatement()) {
                s.execute("SET synchronous_commit = off");
                s.execute("ALTER TABLE analytics.agent_tool_minute SET UNLOGGED");
                s.execute("INSERT INTO analytics.agent_tool_minute (agent_id, minute, tool, team_id, spend_micros, call_count, "
                        + "retry_call_count, retry_spend_micros, decline_count, declined_micros, rolled) "
                        + "SELECT 'agt_bench' || a, date_trunc('minute', now()) - m * interval '1 minute', 'tool-' || ((a + m) % 5), "
                        + "'team_' || (a % 20), 1000 + (a * 7 + m * 13) % 50000, 1, (m % 10 = 0)::int, "
                        + "CASE WHEN m % 10 = 0 THEN 1000 + (a * 7 + m * 13) % 50000 ELSE 0 END, 0, 0, m >= 2 "
                        + "FROM generate_series(1, " + agents + ") a, generate_series(0, " + (perAgent - 1) + ") m "
                        // in time order, as ingestion writes them: a minute's rows share pages
                        + "ORDER BY m DESC, a");
                s.execute("ALTER TABLE analytics.agent_tool_minute SET LOGGED");
                s.execute("INSERT INTO analytics.agent_tool_day SELECT agent_id, (minute AT TIME ZONE 'UTC')::date, tool, team_id, "
                        + "SUM(spend_micros), SUM(call_count), SUM(retry_call_count), SUM(retry_spend_micros), SUM(decline_count), "
                        + "SUM(declined_micros) FROM analytics.agent_tool_minute WHERE rolled GROUP BY 1, 2, 3, 4");
                s.execute("INSERT INTO analytics.agent_day SELECT agent_id, day, SUM(spend_micros), SUM(call_count), SUM(decline_count), "
                        + "SUM(call_count) / 10, SUM(spend_micros) / 2 FROM analytics.agent_tool_day GROUP BY 1, 2");
                // as ingestion leaves them: the current and the previous minute not rolled up yet
                s.execute("UPDATE analytics.day_rollup SET through_minute = date_trunc('minute', now()) - interval '1 minute'");
                s.execute("ANALYZE");
            }
        }
        System.out.printf("loaded %d agents and the aggregates of %d entries in %.1f s%n", agents, (long) agents * perAgent,
                (System.nanoTime() - loadStart) / 1e9);

        GetFleetOverviewRequest request = GetFleetOverviewRequest.newBuilder().setPageSize(100)
                .setSortField(FleetSortField.FLEET_SORT_FIELD_VELOCITY).setDescending(true).build();
        for (int i = 0; i < 5; i++) {
            analyticsAdmin().getFleetOverview(request);
        }
        int runs = 30;
        long[] nanos = new long[runs];
        GetFleetOverviewResponse last = null;
        for (int i = 0; i < runs; i++) {
            long t = System.nanoTime();
            last = analyticsAdmin().getFleetOverview(request);
            nanos[i] = System.nanoTime() - t;
        }
        assertEquals(agents, last.getTotalCount() >= agents ? agents : last.getTotalCount());
        Arrays.sort(nanos);
        System.out.printf("GetFleetOverview over %d agents: p50 %.1f ms, p90 %.1f ms, max %.1f ms (%d runs)%n",
                last.getTotalCount(), nanos[runs / 2] / 1e6, nanos[(int) Math.ceil(runs * 0.9) - 1] / 1e6,
                nanos[runs - 1] / 1e6, runs);
    }
}
