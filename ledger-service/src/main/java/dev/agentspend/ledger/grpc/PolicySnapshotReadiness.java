package dev.agentspend.ledger.grpc;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Not ready until the first complete policy snapshot from identity: before it, every call with an
 * agent key is refused (UNAVAILABLE, POLICY_NOT_LOADED), so a pod taking traffic then only fails
 * it, and a rollout that counted such pods as ready could replace every pod that has policies
 * (identity unreachable, a rotated service token) and stop all payments. Once loaded it stays
 * ready: a feed lost later is {@link PolicyFeedHealth}'s business (the ledger then declines, and
 * records, every payment: still an answer).
 */
@Readiness
@ApplicationScoped
public class PolicySnapshotReadiness implements HealthCheck {
    @Inject
    PolicyCache cache;

    private volatile boolean loaded;

    @Override
    public HealthCheckResponse call() {
        if (!loaded && cache.ready()) {
            loaded = true;
        }
        return HealthCheckResponse.named("policy-snapshot").status(loaded).build();
    }
}
