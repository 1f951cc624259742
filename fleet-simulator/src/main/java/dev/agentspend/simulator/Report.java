package dev.agentspend.simulator;

import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.analytics.v1.FleetAgent;
import dev.agentspend.proto.analytics.v1.GetFleetOverviewRequest;
import dev.agentspend.proto.analytics.v1.GetFleetOverviewResponse;
import dev.agentspend.proto.analytics.v1.Trigger;

import java.io.PrintStream;
import dev.agentspend.proto.identity.v1.AgentStatus;
import dev.agentspend.proto.identity.v1.ListAgentsRequest;
import dev.agentspend.proto.identity.v1.ListAgentsResponse;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.List;
import java.util.Locale;

/** What the demo prints at the end: analytics' fleet overview of the team, and every alert raised. */
public final class Report {
    private Report() {
    }

    /** The team's agents from analytics' fleet overview (bounded pages). */
    public static List<FleetAgent> overview(Platform platform, FleetSimulator.Fleet fleet) {
        List<FleetAgent> agents = new ArrayList<>();
        String token = "";
        for (int page = 0; page < 20; page++) {
            GetFleetOverviewResponse r = platform.analyticsAdmin().getFleetOverview(GetFleetOverviewRequest.newBuilder()
                    .setTeamId(fleet.teamId()).setPageSize(100).setPageToken(token).build());
            agents.addAll(r.getAgentsList());
            token = r.getNextPageToken();
            if (token.isEmpty()) {
                break;
            }
        }
        return agents;
    }

    /** Each agent's status in identity (ACTIVE, or SUSPENDED by an alert), by agent id. */
    public static Map<String, AgentStatus> statuses(Platform platform, FleetSimulator.Fleet fleet) {
        Map<String, AgentStatus> statuses = new HashMap<>();
        String token = "";
        for (int page = 0; page < 20; page++) {
            ListAgentsResponse r = platform.identityAdmin().listAgents(ListAgentsRequest.newBuilder()
                    .setTeamId(fleet.teamId()).setPageSize(100).setPageToken(token).build());
            r.getAgentsList().forEach(a -> statuses.put(a.getId(), a.getStatus()));
            token = r.getNextPageToken();
            if (token.isEmpty()) {
                break;
            }
        }
        return statuses;
    }

    public static void print(PrintStream out, FleetSimulator.Fleet fleet, List<FleetAgent> overview, List<Alert> alerts,
                             Map<String, AgentStatus> statuses) {
        out.println();
        out.println("Fleet overview (analytics, team " + fleet.teamName() + "; the four numbers per agent):");
        out.printf(Locale.ROOT, "  %-22s %-9s %12s %7s %12s %-34s %7s  %s%n", "agent", "status", "cost/task", "WoW",
                "velocity/h", "top tool (share of 7 days)", "cap 7d", "analytics triggers");
        for (FleetAgent a : overview) {
            String wow = a.getHasCostChange() ? String.format(Locale.ROOT, "%+.0f%%", a.getCostPerTaskChangePercent()) : "-";
            String top = a.getTopTool().isEmpty() ? "-"
                    : String.format(Locale.ROOT, "%s (%.0f%%)", a.getTopTool(), a.getTopToolShare() * 100);
            List<String> triggers = new ArrayList<>();
            for (Trigger t : a.getTriggersList()) {
                triggers.add(t.name().replace("TRIGGER_", "").toLowerCase(Locale.ROOT));
            }
            AgentStatus status = statuses.getOrDefault(a.getAgentId(), AgentStatus.AGENT_STATUS_UNSPECIFIED);
            out.printf(Locale.ROOT, "  %-22s %-9s %12s %7s %12s %-34s %6.0f%%  %s%n", a.getHandle(),
                    status.name().replace("AGENT_STATUS_", "").toLowerCase(Locale.ROOT),
                    a.getCostPerTaskMicros() == 0 ? "-" : usd(a.getCostPerTaskMicros()), wow, usd(a.getVelocityPerHourMicros()), top,
                    a.getCapUtilization7D() * 100, String.join(", ", triggers));
        }
        out.println();
        out.println("Alerts raised (alert service), " + alerts.size() + ":");
        for (Alert al : alerts) {
            out.printf(Locale.ROOT, "  %-9s %-22s %-10s %s%n      %s%n", al.getSeverity().name().replace("SEVERITY_", ""),
                    al.getRule().name().replace("RULE_", ""), al.getState().name().replace("ALERT_STATE_", ""),
                    FleetSimulator.handles(fleet, al) + (al.getActionValue() == 2 ? "  (suspends)" : ""),
                    al.getEvidence().getSummary());
        }
        out.println();
    }

    static String usd(long micros) {
        return String.format(Locale.ROOT, "%.4f USD", micros / 1_000_000.0);
    }
}
