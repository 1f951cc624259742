package dev.agentspend.analytics.grpc;

import dev.agentspend.analytics.config.AnalyticsConfig;
import dev.agentspend.proto.analytics.v1.FleetAgent;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Per-agent Prometheus gauges with bounded cardinality: the {@code top-agents} agents by 7-day
 * spend get series of their own ({@code agent="<agent id>"}); every other agent is folded into one
 * {@code agent="other"} series (spend and velocity summed, utilization the highest among them).
 * So each gauge has at most top-agents + 1 series whatever the fleet size, and series of agents
 * that leave the top are removed. Recomputed every {@code metrics.refresh}.
 *
 * <ul>
 *   <li>{@code agentspend_agent_spend_7d_micros}: spend over the last 7 UTC days</li>
 *   <li>{@code agentspend_agent_velocity_hour_micros}: spend over the last 60 minutes</li>
 *   <li>{@code agentspend_agent_cap_utilization_7d}: average daily cap utilization (ratio)</li>
 * </ul>
 */
@ApplicationScoped
public class SpendGauges {
    static final String OTHER = "other";
    private static final Logger LOG = Logger.getLogger(SpendGauges.class);

    @Inject
    AnalyticsApi api;

    @Inject
    AnalyticsConfig config;

    @Inject
    MeterRegistry registry;

    private MultiGauge spend;
    private MultiGauge velocity;
    private MultiGauge utilization;

    @Scheduled(every = "${agentspend.analytics.metrics.refresh:15s}", delayed = "1s",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    Uni<Void> refresh() {
        return api.fleet("", "", Map.of()).invoke(this::publish).replaceWithVoid()
                .onFailure().recoverWithUni(t -> {
                    LOG.warnf("per-agent gauges not refreshed: %s", t.getMessage());
                    return Uni.createFrom().voidItem();
                });
    }

    synchronized void publish(List<FleetAgent> fleet) {
        if (spend == null) {
            spend = MultiGauge.builder("agentspend.agent.spend.7d.micros")
                    .description("Spend over the last 7 UTC days, top agents and other").register(registry);
            velocity = MultiGauge.builder("agentspend.agent.velocity.hour.micros")
                    .description("Spend over the last 60 minutes, top agents and other").register(registry);
            utilization = MultiGauge.builder("agentspend.agent.cap.utilization.7d")
                    .description("Average daily cap utilization over 7 days, top agents and the highest of the others")
                    .register(registry);
        }
        List<FleetAgent> sorted = new ArrayList<>(fleet);
        sorted.sort(Comparator.comparingLong(FleetAgent::getSpend7DMicros).reversed().thenComparing(FleetAgent::getAgentId));
        int top = Math.min(config.metrics().topAgents(), sorted.size());
        List<MultiGauge.Row<?>> spendRows = new ArrayList<>();
        List<MultiGauge.Row<?>> velocityRows = new ArrayList<>();
        List<MultiGauge.Row<?>> utilizationRows = new ArrayList<>();
        for (FleetAgent a : sorted.subList(0, top)) {
            Tags tags = Tags.of("agent", a.getAgentId());
            spendRows.add(MultiGauge.Row.of(tags, a.getSpend7DMicros()));
            velocityRows.add(MultiGauge.Row.of(tags, a.getVelocityPerHourMicros()));
            utilizationRows.add(MultiGauge.Row.of(tags, a.getCapUtilization7D()));
        }
        if (sorted.size() > top) {
            long otherSpend = 0;
            long otherVelocity = 0;
            double otherUtilization = 0;
            for (FleetAgent a : sorted.subList(top, sorted.size())) {
                otherSpend += a.getSpend7DMicros();
                otherVelocity += a.getVelocityPerHourMicros();
                otherUtilization = Math.max(otherUtilization, a.getCapUtilization7D());
            }
            Tags other = Tags.of("agent", OTHER);
            spendRows.add(MultiGauge.Row.of(other, otherSpend));
            velocityRows.add(MultiGauge.Row.of(other, otherVelocity));
            utilizationRows.add(MultiGauge.Row.of(other, otherUtilization));
        }
        spend.register(spendRows, true);
        velocity.register(velocityRows, true);
        utilization.register(utilizationRows, true);
    }
}
