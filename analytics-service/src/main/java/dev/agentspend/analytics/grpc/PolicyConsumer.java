package dev.agentspend.analytics.grpc;

import dev.agentspend.analytics.config.AnalyticsConfig;
import dev.agentspend.analytics.config.AuthConfig;
import dev.agentspend.analytics.store.PolicyStore;
import dev.agentspend.common.auth.BearerTokens;
import dev.agentspend.proto.identity.v1.MutinyIdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.WatchPoliciesRequest;
import dev.agentspend.proto.identity.v1.WatchPoliciesResponse;
import io.grpc.Metadata;
import io.quarkus.grpc.GrpcClient;
import io.quarkus.grpc.GrpcClientUtils;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.Cancellable;
import io.vertx.mutiny.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

/**
 * Keeps the latest policy of every agent and team (caps, team, labels, working hours) from
 * identity's WatchPolicies feed in the analytics schema. Events are applied one after another,
 * each upsert guarded by the agent's or team's own version (idempotent, safe with replicas). The
 * feed version stored only advances when a version is known complete (a later version, a
 * heartbeat, or the end of the snapshot, whose events all carry one version), so a resumed feed
 * never skips a change. Lost feeds reconnect with bounded exponential backoff.
 */
@ApplicationScoped
public class PolicyConsumer {
    private static final Logger LOG = Logger.getLogger(PolicyConsumer.class);

    @Inject
    @GrpcClient("identity")
    MutinyIdentityServiceGrpc.MutinyIdentityServiceStub identity;

    @Inject
    PolicyStore store;

    @Inject
    AnalyticsConfig config;

    @Inject
    AuthConfig auth;

    @Inject
    Vertx vertx;

    private volatile boolean stopped = true;
    private volatile int generation;
    private volatile long backoffMillis;
    private volatile long pendingVersion;
    private volatile Cancellable subscription;

    void onStart(@Observes StartupEvent event) {
        if (config.ingest().enabled()) {
            stopped = false;
            backoffMillis = config.ingest().minBackoff().toMillis();
            connect(++generation);
        }
    }

    void onStop(@Observes ShutdownEvent event) {
        stopped = true;
        generation++;
        Cancellable s = subscription;
        if (s != null) {
            s.cancel();
        }
    }

    private void connect(int gen) {
        store.version().subscribe().with(version -> watch(gen, version), failure -> onEnd(gen, failure));
    }

    private void watch(int gen, long after) {
        if (gen != generation || stopped) {
            return;
        }
        pendingVersion = after;
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of(BearerTokens.METADATA_KEY, Metadata.ASCII_STRING_MARSHALLER),
                "Bearer " + auth.serviceToken());
        MutinyIdentityServiceGrpc.MutinyIdentityServiceStub stub = GrpcClientUtils.attachHeaders(identity, headers);
        subscription = stub.watchPolicies(WatchPoliciesRequest.newBuilder().setAfterVersion(after).build())
                .onItem().transformToUniAndConcatenate(this::apply)
                .subscribe().with(v -> backoffMillis = config.ingest().minBackoff().toMillis(),
                        failure -> onEnd(gen, failure), () -> onEnd(gen, null));
    }

    private Uni<Void> apply(WatchPoliciesResponse event) {
        return switch (event.getEventCase()) {
            case AGENT_POLICY -> advance(event.getVersion()).chain(() -> store.applyAgent(event.getAgentPolicy()));
            case TEAM_POLICY -> advance(event.getVersion()).chain(() -> store.applyTeam(event.getTeamPolicy()));
            case SNAPSHOT_COMPLETE -> store.commitVersion(Math.max(event.getVersion(), pendingVersion));
            case HEARTBEAT -> store.commitVersion(pendingVersion);
            default -> Uni.createFrom().voidItem();
        };
    }

    /** A later version proves every event of the earlier one arrived: commit the earlier one. */
    private Uni<Void> advance(long version) {
        if (version > pendingVersion) {
            long complete = pendingVersion;
            pendingVersion = version;
            return store.commitVersion(complete);
        }
        return Uni.createFrom().voidItem();
    }

    private void onEnd(int gen, Throwable failure) {
        if (gen != generation || stopped) {
            return;
        }
        int next = ++generation;
        long delay = backoffMillis;
        backoffMillis = Math.min(config.ingest().maxBackoff().toMillis(), Math.max(1, backoffMillis * 2));
        LOG.warnf("policy feed ended (%s); reconnecting in %d ms", failure == null ? "completed" : failure.getMessage(),
                delay);
        vertx.setTimer(Math.max(1, delay), id -> {
            if (next == generation && !stopped) {
                connect(next);
            }
        });
    }
}
