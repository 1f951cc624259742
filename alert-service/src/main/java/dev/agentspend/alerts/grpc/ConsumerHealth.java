package dev.agentspend.alerts.grpc;

import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

/**
 * Readiness of the evaluation side: up once identity's policy snapshot arrived (reads and
 * deliveries work on any replica; only one replica evaluates, shown as `leader`).
 */
@Readiness
@ApplicationScoped
public class ConsumerHealth implements HealthCheck {
    @Inject
    LedgerConsumer consumer;
    @Inject
    PolicyWatcher policies;

    @Override
    public HealthCheckResponse call() {
        return HealthCheckResponse.named("alert-evaluation")
                .status(policies.ready())
                .withData("policies", policies.ready())
                .withData("leader", consumer.leader())
                .withData("position", consumer.committedPosition())
                .build();
    }
}
