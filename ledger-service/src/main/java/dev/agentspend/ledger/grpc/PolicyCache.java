package dev.agentspend.ledger.grpc;

import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.ledger.config.LedgerConfig;
import dev.agentspend.ledger.domain.AgentStatus;
import dev.agentspend.ledger.domain.CapRule;
import dev.agentspend.ledger.domain.PolicyView;
import dev.agentspend.ledger.domain.Scope;
import dev.agentspend.ledger.domain.Window;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.AgentPolicy;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.KeyVerifier;
import dev.agentspend.proto.identity.v1.TeamPolicy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The ledger's in-memory copy of every agent's and team's policy, fed by identity's
 * WatchPolicies stream: payments never call identity. Agent keys are verified here, against the
 * SHA-256 verifiers the feed carries.
 *
 * <p>Freshness: the copy is fresh once a snapshot is complete and while the feed was heard from
 * (any event, heartbeats included) within the staleness bound. Measured on a monotonic clock.
 */
@ApplicationScoped
public class PolicyCache {
    private final Map<String, AgentPolicy> agents = new ConcurrentHashMap<>();
    private final Map<String, TeamPolicy> teams = new ConcurrentHashMap<>();
    private final Map<String, String> agentByKey = new ConcurrentHashMap<>();
    private volatile boolean snapshotComplete;
    private volatile long lastHeardNanos;
    LongSupplier nanoTime = System::nanoTime;

    @Inject
    LedgerConfig config;

    void applyAgent(AgentPolicy p) {
        agents.put(p.getAgentId(), p);
        for (KeyVerifier k : p.getKeysList()) {
            agentByKey.put(k.getKeyId(), p.getAgentId());
        }
    }

    void applyTeam(TeamPolicy t) {
        teams.put(t.getTeamId(), t);
    }

    void snapshotComplete() {
        snapshotComplete = true;
    }

    void heard() {
        lastHeardNanos = nanoTime.getAsLong();
    }

    /** Whether the ledger may enforce this copy: a full snapshot, heard from within the bound. */
    public boolean fresh() {
        return snapshotComplete
                && nanoTime.getAsLong() - lastHeardNanos <= config.ledger().policyStaleness().toNanos();
    }

    public boolean ready() {
        return snapshotComplete;
    }

    public Optional<AgentPolicy> agent(String agentId) {
        return Optional.ofNullable(agents.get(agentId));
    }

    /**
     * The agent of a presented key when the key is one of its active keys, its secret matches and
     * it has not expired at {@code now}.
     */
    public Optional<AgentPolicy> authenticate(ApiKeys.PresentedKey key, Instant now) {
        String agentId = agentByKey.get(key.keyId());
        if (agentId == null) {
            return Optional.empty();
        }
        AgentPolicy p = agents.get(agentId);
        if (p == null) {
            return Optional.empty();
        }
        for (KeyVerifier k : p.getKeysList()) {
            if (k.getKeyId().equals(key.keyId())) {
                if (!ApiKeys.verify(key, k.getSecretSha256().toByteArray())) {
                    return Optional.empty();
                }
                if (k.hasExpireTime() && !now.isBefore(Instant.ofEpochSecond(k.getExpireTime().getSeconds(), k.getExpireTime().getNanos()))) {
                    return Optional.empty();
                }
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** The domain view of an agent's policy, with its team's caps. */
    /** The caps of team {@code teamId} as this replica knows them (none for no team or an unknown one). */
    public List<CapRule> teamCaps(String teamId) {
        TeamPolicy team = teamId.isEmpty() ? null : teams.get(teamId);
        return team == null ? List.of() : caps(Scope.TEAM, team.getCapsList());
    }

    public PolicyView view(AgentPolicy p) {
        TeamPolicy team = p.getTeamId().isEmpty() ? null : teams.get(p.getTeamId());
        AgentStatus status = switch (p.getStatus()) {
            case AGENT_STATUS_ACTIVE -> AgentStatus.ACTIVE;
            case AGENT_STATUS_REVOKED -> AgentStatus.REVOKED;
            default -> AgentStatus.SUSPENDED;
        };
        return new PolicyView(p.getAgentId(), p.getTeamId(), status, p.getMode() == AgentMode.AGENT_MODE_SANDBOX,
                p.getCurrencyCode(), caps(Scope.AGENT, p.getPolicy().getCapsList()),
                team == null ? List.of() : caps(Scope.TEAM, team.getCapsList()),
                p.getPolicy().getMaxConcurrentHolds(), p.getPolicy().getSandboxCeilingMicros());
    }

    static List<CapRule> caps(Scope scope, List<Cap> caps) {
        List<CapRule> out = new ArrayList<>(caps.size());
        for (Cap c : caps) {
            Window w = switch (c.getWindow()) {
                case CAP_WINDOW_PAYMENT -> Window.PAYMENT;
                case CAP_WINDOW_TASK -> Window.TASK;
                case CAP_WINDOW_HOUR -> Window.HOUR;
                case CAP_WINDOW_DAY -> Window.DAY;
                case CAP_WINDOW_WEEK -> Window.WEEK;
                case CAP_WINDOW_MONTH -> Window.MONTH;
                case CAP_WINDOW_LIFETIME -> Window.LIFETIME;
                default -> null;
            };
            if (w == null) {
                continue;
            }
            Instant raiseExpire = c.hasTemporaryRaise() && c.getTemporaryRaise().hasExpireTime()
                    ? Instant.ofEpochSecond(c.getTemporaryRaise().getExpireTime().getSeconds(), c.getTemporaryRaise().getExpireTime().getNanos())
                    : null;
            out.add(new CapRule(scope, w, c.getLimitMicros(), c.getEnforcement() != CapEnforcement.CAP_ENFORCEMENT_SOFT,
                    c.getTool(), c.hasTemporaryRaise() ? c.getTemporaryRaise().getLimitMicros() : 0, raiseExpire));
        }
        return out;
    }
}
