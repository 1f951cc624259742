package dev.agentspend.alerts.grpc;

import dev.agentspend.alerts.config.AuthConfig;
import dev.agentspend.alerts.domain.AgentPolicy;
import dev.agentspend.common.api.WorkingSchedule;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.MutinyIdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.WatchPoliciesRequest;
import dev.agentspend.proto.identity.v1.WatchPoliciesResponse;
import dev.agentspend.proto.identity.v1.WorkingInterval;
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

import java.time.DateTimeException;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps every agent's caps, team and working hours from identity's WatchPolicies feed, resuming
 * after the last version applied when the feed drops. The rules read it through {@link #policy}.
 * Policies are not persisted: at start the feed's snapshot rebuilds them, and evaluation waits
 * for that snapshot ({@link #ready}).
 */
@ApplicationScoped
public class PolicyWatcher {
    private static final Logger LOG = Logger.getLogger(PolicyWatcher.class);
    private static final long MIN_BACKOFF_MS = 200;
    private static final long MAX_BACKOFF_MS = 10_000;

    @Inject
    @GrpcClient("identity")
    MutinyIdentityServiceGrpc.MutinyIdentityServiceStub identity;
    @Inject
    AuthConfig auth;
    @Inject
    Vertx vertx;

    private final Map<String, AgentPolicy> agents = new ConcurrentHashMap<>();
    private volatile long appliedVersion;
    private volatile boolean ready;
    private volatile boolean stopped;
    private volatile int generation;
    private volatile Cancellable subscription;
    private long backoffMillis = MIN_BACKOFF_MS;

    void onStart(@Observes StartupEvent event) {
        connect();
    }

    void onStop(@Observes ShutdownEvent event) {
        stopped = true;
        Cancellable s = subscription;
        if (s != null) {
            s.cancel();
        }
    }

    /** Whether the first snapshot has been received. */
    public boolean ready() {
        return ready;
    }

    public AgentPolicy policy(String agentId) {
        return agents.get(agentId);
    }

    private synchronized void connect() {
        if (stopped) {
            return;
        }
        int gen = ++generation;
        var stub = GrpcClientUtils.attachHeaders(identity, ServiceCredentials.headers(auth));
        subscription = stub.watchPolicies(WatchPoliciesRequest.newBuilder().setAfterVersion(appliedVersion).build())
                .subscribe().with(e -> onEvent(gen, e), f -> onEnd(gen, f), () -> onEnd(gen, null));
    }

    private void onEvent(int gen, WatchPoliciesResponse e) {
        if (gen != generation) {
            return;
        }
        backoffMillis = MIN_BACKOFF_MS;
        switch (e.getEventCase()) {
            case AGENT_POLICY -> agents.put(e.getAgentPolicy().getAgentId(), toDomain(e.getAgentPolicy()));
            case SNAPSHOT_COMPLETE -> {
                if (!ready) {
                    LOG.infof("policy snapshot received: %d agents", e.getSnapshotComplete().getAgentCount());
                }
                ready = true;
            }
            default -> {
                // team policies and heartbeats: team caps are not evaluated here (see README)
            }
        }
        // Snapshot events carry the snapshot's version; resuming from it replays at most the snapshot.
        if (e.getEventCase() != WatchPoliciesResponse.EventCase.AGENT_POLICY
                && e.getEventCase() != WatchPoliciesResponse.EventCase.TEAM_POLICY) {
            appliedVersion = Math.max(appliedVersion, e.getVersion());
        }
    }

    private void onEnd(int gen, Throwable failure) {
        if (gen != generation || stopped) {
            return;
        }
        long delay = backoffMillis;
        backoffMillis = Math.min(MAX_BACKOFF_MS, backoffMillis * 2);
        LOG.warnf("policy feed %s; reconnecting after version %d in %d ms",
                failure == null ? "ended" : "lost (" + failure.getMessage() + ")", appliedVersion, delay);
        vertx.setTimer(delay, id -> {
            if (gen == generation) {
                connect();
            }
        });
    }

    static AgentPolicy toDomain(dev.agentspend.proto.identity.v1.AgentPolicy p) {
        List<AgentPolicy.CapLimit> caps = new ArrayList<>();
        for (Cap c : p.getPolicy().getCapsList()) {
            AgentPolicy.CapWindow w = switch (c.getWindow()) {
                case CAP_WINDOW_HOUR -> AgentPolicy.CapWindow.HOUR;
                case CAP_WINDOW_DAY -> AgentPolicy.CapWindow.DAY;
                case CAP_WINDOW_WEEK -> AgentPolicy.CapWindow.WEEK;
                case CAP_WINDOW_MONTH -> AgentPolicy.CapWindow.MONTH;
                case CAP_WINDOW_LIFETIME -> AgentPolicy.CapWindow.LIFETIME;
                default -> null; // payment and task caps bound single payments, not utilization over time
            };
            if (w != null) {
                Instant expiry = c.hasTemporaryRaise()
                        ? Instant.ofEpochSecond(c.getTemporaryRaise().getExpireTime().getSeconds()) : null;
                caps.add(new AgentPolicy.CapLimit(w, c.getLimitMicros(), c.getTool(),
                        c.hasTemporaryRaise() ? c.getTemporaryRaise().getLimitMicros() : 0, expiry));
            }
        }
        WorkingSchedule hours = WorkingSchedule.none();
        if (p.hasWorkingHours() && p.getWorkingHours().getIntervalsCount() > 0) {
            try {
                List<WorkingSchedule.Interval> intervals = new ArrayList<>();
                for (WorkingInterval i : p.getWorkingHours().getIntervalsList()) {
                    intervals.add(new WorkingSchedule.Interval(i.getDayOfWeek(), i.getStartMinute(), i.getEndMinute()));
                }
                hours = new WorkingSchedule(ZoneId.of(p.getWorkingHours().getTimeZone()), intervals);
            } catch (DateTimeException e) {
                LOG.warnf("agent %s has an unknown time zone; off-hours are not evaluated for it", p.getAgentId());
            }
        }
        return new AgentPolicy(p.getAgentId(), p.getTeamId(), p.getCurrencyCode(), caps, hours);
    }
}
