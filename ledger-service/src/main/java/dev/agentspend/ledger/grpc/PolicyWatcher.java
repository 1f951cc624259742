package dev.agentspend.ledger.grpc;

import dev.agentspend.common.auth.BearerTokens;
import dev.agentspend.ledger.config.LedgerConfig;
import dev.agentspend.ledger.domain.PolicyFeedVersions;
import dev.agentspend.proto.identity.v1.MutinyIdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.WatchPoliciesRequest;
import dev.agentspend.proto.identity.v1.WatchPoliciesResponse;
import io.grpc.Metadata;
import io.quarkus.grpc.GrpcClient;
import io.quarkus.grpc.GrpcClientUtils;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.mutiny.subscription.Cancellable;
import io.vertx.mutiny.core.Vertx;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

/**
 * Keeps {@link PolicyCache} in step with identity's WatchPolicies feed: subscribes at start,
 * resumes from the last version fully applied after any disconnect (bounded exponential
 * backoff), and reconnects when a connected feed goes silent for longer than the staleness
 * bound (identity sends heartbeats when idle, so silence means a lost feed).
 *
 * <p>Where a stream resumes is {@link PolicyFeedVersions}'s to say: a version counts as applied
 * only once it is known complete on its stream.
 */
@ApplicationScoped
public class PolicyWatcher {
    private static final Logger LOG = Logger.getLogger(PolicyWatcher.class);

    @Inject
    @GrpcClient("identity")
    MutinyIdentityServiceGrpc.MutinyIdentityServiceStub identity;

    @Inject
    PolicyCache cache;

    @Inject
    LedgerConfig config;

    @Inject
    Vertx vertx;

    private final PolicyFeedVersions versions = new PolicyFeedVersions();
    private ReconnectBackoff backoff;
    private volatile Cancellable subscription;
    private volatile boolean stopped;
    private volatile int generation;
    /** The generation whose feed ended last: its reconnect is scheduled. */
    private int lostGeneration = -1;
    private long watchdog;

    void onStart(@Observes StartupEvent event) {
        backoff = new ReconnectBackoff(config.ledger().policyReconnectMinBackoff(),
                config.ledger().policyReconnectMaxBackoff(), config.ledger().policyStaleness());
        long staleness = config.ledger().policyStaleness().toMillis();
        // only a subscribed feed that went silent is restarted here; a lost one has its reconnect
        // scheduled already, and restarting it would postpone that reconnect by a whole delay
        watchdog = vertx.setPeriodic(Math.max(250, staleness / 4), id -> {
            if (!stopped && subscription != null && !cache.fresh() && cache.ready()) {
                LOG.warnf("policy feed silent for longer than %d ms; reconnecting", staleness);
                reconnectNow();
            }
        });
        connect();
    }

    void onStop(@Observes ShutdownEvent event) {
        stopped = true;
        vertx.cancelTimer(watchdog);
        Cancellable s = subscription;
        if (s != null) {
            s.cancel();
        }
    }

    /** The last feed version fully applied (0 before the first snapshot completes). */
    public synchronized long appliedVersion() {
        return versions.applied();
    }

    private synchronized void reconnectNow() {
        generation++;
        Cancellable s = subscription;
        subscription = null;
        if (s != null) {
            s.cancel();
        }
        scheduleReconnect(generation);
    }

    private synchronized void connect() {
        if (stopped) {
            return;
        }
        int gen = ++generation;
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of(BearerTokens.METADATA_KEY, Metadata.ASCII_STRING_MARSHALLER),
                "Bearer " + config.auth().serviceToken());
        MutinyIdentityServiceGrpc.MutinyIdentityServiceStub stub = GrpcClientUtils.attachHeaders(identity, headers);
        versions.streamStarted();
        WatchPoliciesRequest request = WatchPoliciesRequest.newBuilder().setAfterVersion(versions.applied()).build();
        Cancellable s = stub.watchPolicies(request).subscribe().with(
                event -> onEvent(gen, event),
                failure -> onEnd(gen, failure),
                () -> onEnd(gen, null));
        // a feed that failed at once has ended already: it must not look subscribed to the watchdog
        subscription = lostGeneration == gen ? null : s;
    }

    private synchronized void onEvent(int gen, WatchPoliciesResponse event) {
        if (gen != generation) {
            return;
        }
        backoff.reset();
        switch (event.getEventCase()) {
            case HEARTBEAT -> versions.heartbeat();
            case SNAPSHOT_COMPLETE -> {
                versions.snapshotComplete(event.getVersion());
                cache.snapshotComplete();
            }
            case AGENT_POLICY -> {
                versions.policy(event.getVersion());
                cache.applyAgent(event.getAgentPolicy());
            }
            case TEAM_POLICY -> {
                versions.policy(event.getVersion());
                cache.applyTeam(event.getTeamPolicy());
            }
            default -> {
                // an event kind this ledger does not know: still proof the feed is alive
            }
        }
        cache.heard();
    }

    private synchronized void onEnd(int gen, Throwable failure) {
        if (gen != generation || stopped) {
            return;
        }
        lostGeneration = gen;
        subscription = null;
        long delay = scheduleReconnect(gen);
        if (failure != null) {
            LOG.warnf("policy feed lost (%s); reconnecting after version %d in %d ms", failure.getMessage(),
                    versions.applied(), delay);
        } else {
            LOG.infof("policy feed ended; reconnecting after version %d in %d ms", versions.applied(), delay);
        }
    }

    private long scheduleReconnect(int gen) {
        long delay = backoff.next();
        vertx.setTimer(delay, id -> {
            if (gen == generation && !stopped) {
                connect();
            }
        });
        return delay;
    }
}
