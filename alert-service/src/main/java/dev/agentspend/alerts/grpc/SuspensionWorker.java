package dev.agentspend.alerts.grpc;

import dev.agentspend.alerts.config.AlertsConfig;
import dev.agentspend.alerts.config.AuthConfig;
import dev.agentspend.alerts.domain.Backoff;
import dev.agentspend.alerts.domain.SuspensionRefusal;
import dev.agentspend.alerts.store.FeedSignal;
import dev.agentspend.alerts.store.SuspensionStore;
import dev.agentspend.proto.identity.v1.MutinyIdentityServiceGrpc;
import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.proto.identity.v1.SuspendAgentRequest;
import io.grpc.Status;
import io.quarkus.grpc.GrpcClient;
import io.quarkus.grpc.GrpcClientUtils;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.vertx.mutiny.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Works off the suspension outbox: calls identity's SuspendAgent with the service token, the
 * request_id {@code alert-<alert id>-<agent id>} (a retry never suspends twice) and the alert id in
 * the reason (identity's audit log records it). Transient failures are retried with backoff;
 * refusals that a retry cannot change (the agent is gone or already revoked) end it.
 */
@ApplicationScoped
public class SuspensionWorker {
    private static final Logger LOG = Logger.getLogger(SuspensionWorker.class);

    @Inject
    @GrpcClient("identity")
    MutinyIdentityServiceGrpc.MutinyIdentityServiceStub identity;
    @Inject
    SuspensionStore store;
    @Inject
    AuthConfig auth;
    @Inject
    AlertsConfig config;
    @Inject
    FeedSignal signal;
    @Inject
    Vertx vertx;

    private final AtomicBoolean running = new AtomicBoolean();
    private long timer;
    private Runnable unlisten;

    void onStart(@Observes StartupEvent event) {
        timer = vertx.setPeriodic(config.suspensions().pollInterval().toMillis(), id -> tick());
        unlisten = signal.listen(this::tick);
    }

    void onStop(@Observes ShutdownEvent event) {
        vertx.cancelTimer(timer);
        if (unlisten != null) {
            unlisten.run();
        }
    }

    void tick() {
        if (!running.compareAndSet(false, true)) {
            return;
        }
        store.claimDue(Instant.now(), Duration.ofSeconds(30), 32).subscribe().with(due -> {
            running.set(false);
            due.forEach(this::suspend);
        }, failure -> {
            running.set(false);
            LOG.warnf("suspension outbox unavailable: %s", failure.getMessage());
        });
    }

    private void suspend(SuspensionStore.Pending p) {
        var stub = GrpcClientUtils.attachHeaders(identity, ServiceCredentials.headers(auth));
        String requestId = "alert-" + p.alertId() + "-" + p.agentId();
        if (requestId.length() > 128) {
            requestId = requestId.substring(0, 128);
        }
        stub.suspendAgent(SuspendAgentRequest.newBuilder()
                        .setRequestId(requestId)
                        .setAgentId(p.agentId())
                        .setReason("alert " + p.alertId() + ": " + p.rule())
                        .build())
                .ifNoItem().after(Duration.ofSeconds(10)).fail()
                .subscribe().with(
                        ok -> store.done(p, Instant.now()).subscribe().with(
                                done -> LOG.infof("agent %s suspended for alert %s", p.agentId(), p.alertId()),
                                f -> LOG.warnf("suspension of %s recorded late: %s", p.agentId(), f.getMessage())),
                        failure -> {
                            Status.Code code = Status.fromThrowable(failure).getCode();
                            SuspensionRefusal refusal = SuspensionRefusal.of(code.name(), GrpcErrors.reasonOf(failure));
                            if (refusal == SuspensionRefusal.ALREADY_SUSPENDED) {
                                store.alreadySuspended(p).subscribe().with(
                                        done -> LOG.infof("agent %s was already suspended when alert %s asked", p.agentId(), p.alertId()),
                                        f -> LOG.warnf("suspension of %s recorded late: %s", p.agentId(), f.getMessage()));
                                return;
                            }
                            int attempts = p.attempts() + 1;
                            Optional<Instant> next = refusal == SuspensionRefusal.FINAL || attempts >= config.suspensions().maxAttempts()
                                    ? Optional.empty()
                                    : Optional.of(Instant.now().plus(Backoff.after(attempts, config.suspensions().baseBackoff(),
                                    config.suspensions().maxBackoff())));
                            LOG.warnf("suspending agent %s for alert %s failed (%s)%s", p.agentId(), p.alertId(), code,
                                    next.isEmpty() ? "; giving up" : "; retrying");
                            store.failed(p, code + ": " + failure.getMessage(), next).subscribe().with(x -> {
                            }, f -> LOG.warnf("could not record failed suspension: %s", f.getMessage()));
                        });
    }
}
