package dev.agentspend.ledger.grpc;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import io.smallrye.health.api.Wellness;

/**
 * The policy feed's state at {@code /q/health/well}: DOWN while the ledger fails closed (no snapshot
 * yet, or nothing heard within the staleness bound). A wellness check, not a readiness one: a ledger
 * that fails closed still answers, and records every decline, so it stays in rotation.
 */
@Wellness
@ApplicationScoped
public class PolicyFeedHealth implements HealthCheck {
    @Inject
    PolicyCache cache;

    @Inject
    PolicyWatcher watcher;

    @Override
    public HealthCheckResponse call() {
        return HealthCheckResponse.named("policy-feed")
                .status(cache.fresh())
                .withData("snapshot_complete", cache.ready())
                .withData("applied_version", watcher.appliedVersion())
                .build();
    }
}
