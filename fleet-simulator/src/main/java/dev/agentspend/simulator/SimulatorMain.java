package dev.agentspend.simulator;

import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.analytics.v1.FleetAgent;

import java.io.PrintStream;
import java.time.Duration;
import java.util.List;

/**
 * {@code ./agentspend demo}: creates a simulated fleet on a running platform, runs it, and prints
 * the fleet overview and every alert raised.
 *
 * <pre>
 *   java -cp ... dev.agentspend.simulator.SimulatorMain [--duration 60] [--host localhost]
 *        [--bucket-seconds 60] [--dashboard http://localhost:8083/]
 * </pre>
 * The admin token comes from {@code AGENTSPEND_ADMIN_TOKEN}. Ports are the local defaults 8081..8084
 * ({@code AGENTSPEND_IDENTITY_PORT}, {@code _LEDGER_PORT}, {@code _ANALYTICS_PORT}, {@code _ALERTS_PORT}
 * override them). Exit status 0 when every misbehaving agent was alerted, 1 otherwise.
 */
public final class SimulatorMain {
    private SimulatorMain() {
    }

    public static void main(String[] args) throws Exception {
        long durationSeconds = 60;
        int bucketSeconds = 60;
        String host = "localhost";
        String dashboard = "http://localhost:8083/";
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--duration" -> durationSeconds = Long.parseLong(require(args[i], value));
                case "--bucket-seconds" -> bucketSeconds = Integer.parseInt(require(args[i], value));
                case "--host" -> host = require(args[i], value);
                case "--dashboard" -> dashboard = require(args[i], value);
                default -> {
                    System.err.println("unknown option " + args[i]
                            + " (options: --duration <s>, --bucket-seconds <s>, --host <host>, --dashboard <url>)");
                    System.exit(2);
                }
            }
            i++;
        }
        String token = System.getenv("AGENTSPEND_ADMIN_TOKEN");
        if (token == null || token.isEmpty()) {
            System.err.println("AGENTSPEND_ADMIN_TOKEN is not set (./agentspend demo reads it from .agentspend/credentials.env)");
            System.exit(2);
        }
        PrintStream out = System.out;
        FleetSimulator.Settings settings = new FleetSimulator.Settings(Duration.ofSeconds(durationSeconds), bucketSeconds,
                FleetSimulator.Settings.newRunId(), out);
        try (Platform platform = Platform.local(host, port("AGENTSPEND_IDENTITY_PORT", 8081),
                port("AGENTSPEND_LEDGER_PORT", 8082), port("AGENTSPEND_ANALYTICS_PORT", 8083),
                port("AGENTSPEND_ALERTS_PORT", 8084), token)) {
            FleetSimulator sim = new FleetSimulator(platform, settings);
            FleetSimulator.Fleet fleet = sim.createFleet();
            sim.run(fleet);
            List<Alert> alerts = sim.awaitAlerts(fleet, Duration.ofSeconds(30));
            sim.awaitAnalytics(Duration.ofSeconds(30));
            List<FleetAgent> overview = Report.overview(platform, fleet);
            Report.print(out, fleet, overview, alerts, Report.statuses(platform, fleet));
            List<SimAgent> missing = sim.notYetAlerted(fleet, alerts);
            out.println("Dashboard: open " + dashboard + " and paste the admin token (AGENTSPEND_ADMIN_TOKEN in"
                    + " .agentspend/credentials.env); Team filter: " + fleet.teamId() + " (" + fleet.teamName() + ").");
            out.println("Alerts page: http://" + host + ":" + port("AGENTSPEND_ALERTS_PORT", 8084) + "/?agent=<agent id>");
            if (!missing.isEmpty()) {
                out.println("NOT alerted as expected: " + missing);
                System.exit(1);
            }
        }
    }

    private static String require(String option, String value) {
        if (value == null) {
            System.err.println(option + " needs a value");
            System.exit(2);
        }
        return value;
    }

    private static int port(String env, int fallback) {
        String v = System.getenv(env);
        return v == null || v.isEmpty() ? fallback : Integer.parseInt(v);
    }
}
