package dev.agentspend.identity.grpc;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.common.error.Violations;
import dev.agentspend.identity.domain.AccessRules;
import dev.agentspend.identity.domain.Caller;
import dev.agentspend.identity.domain.Credential;
import dev.agentspend.identity.domain.FieldRules;
import dev.agentspend.identity.domain.Paging;
import dev.agentspend.identity.domain.Operation;
import dev.agentspend.identity.domain.RequestRules;
import dev.agentspend.identity.store.AgentCommands;
import dev.agentspend.identity.store.IdentityQueries;
import dev.agentspend.identity.store.KeyCommands;
import dev.agentspend.identity.store.KeyVerification;
import dev.agentspend.identity.store.PolicyFeed;
import dev.agentspend.identity.store.TeamCommands;
import dev.agentspend.identity.store.Times;
import dev.agentspend.proto.identity.v1.*;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.Locale;
import java.util.function.Supplier;

/**
 * The identity API, independent of transport: gRPC and REST both call it with the caller's
 * credential, so both apply exactly the same access rules, validation and store operations.
 * Order of checks: access first (an unauthenticated caller learns nothing about its input), then
 * the request on its own, then rules that need stored state.
 */
@ApplicationScoped
public class IdentityApi {
    private static final Logger LOG = Logger.getLogger(IdentityApi.class);
    private static final String AGENTS_PAGE = "agents";
    private static final String TEAMS_PAGE = "teams";
    private static final String KEYS_PAGE = "keys";
    private static final String AUDIT_PAGE = "audit";

    @Inject
    AgentCommands agents;
    @Inject
    TeamCommands teams;
    @Inject
    KeyCommands keys;
    @Inject
    IdentityQueries queries;
    @Inject
    KeyVerification keyVerification;
    @Inject
    PolicyFeed policyFeed;
    @Inject
    MeterRegistry meters;

    public Uni<CreateAgentResponse> createAgent(Credential credential, CreateAgentRequest r) {
        return admin(credential, caller -> {
            RequestRules.createAgent(r, Times.now());
            return agents.create(caller, r).invoke(resp -> LOG.debugf("agent %s (%s) created with key %s",
                    resp.getAgent().getId(), resp.getAgent().getHandle(), resp.getApiKey().getKeyId()));
        });
    }

    public Uni<GetAgentResponse> getAgent(Credential credential, GetAgentRequest r) {
        return admin(credential, caller -> {
            Violations v = new Violations();
            FieldRules.reference(r.getAgent(), "agent", v);
            v.throwIfAny();
            return queries.agent(r.getAgent()).map(a -> GetAgentResponse.newBuilder().setAgent(a).build());
        });
    }

    public Uni<ListAgentsResponse> listAgents(Credential credential, ListAgentsRequest r) {
        return admin(credential, caller -> {
            Violations v = new Violations();
            Paging.Page page = Paging.of(r.getPageSize(), r.getPageToken(), AGENTS_PAGE, v);
            FieldRules.optionalReference(r.getTeamId(), "team_id", v);
            v.check(r.getStatus() != AgentStatus.UNRECOGNIZED, "status", "is not a known agent status");
            v.throwIfAny();
            return queries.agents(page.cursor().orElse(""), r.getTeamId(), r.getStatus(), page.size() + 1)
                    .map(found -> {
                        boolean more = found.size() > page.size();
                        var shown = more ? found.subList(0, page.size()) : found;
                        return ListAgentsResponse.newBuilder().addAllAgents(shown)
                                .setNextPageToken(Paging.nextToken(AGENTS_PAGE, more,
                                        more ? shown.get(shown.size() - 1).getHandle() : ""))
                                .build();
                    });
        });
    }

    public Uni<UpdateAgentResponse> updateAgent(Credential credential, UpdateAgentRequest r) {
        return admin(credential, caller -> {
            RequestRules.updateAgent(r);
            return agents.update(caller, r).map(a -> UpdateAgentResponse.newBuilder().setAgent(a).build());
        });
    }

    public Uni<SuspendAgentResponse> suspendAgent(Credential credential, SuspendAgentRequest r) {
        return authorized(credential, Operation.SUSPEND_AGENT, caller -> {
            RequestRules.statusChange(r.getRequestId(), r.getAgentId(), r.getReason());
            return agents.suspend(caller, r.getRequestId(), r, r.getAgentId(), r.getReason())
                    .invoke(a -> LOG.infof("agent %s suspended", a.getId()))
                    .map(a -> SuspendAgentResponse.newBuilder().setAgent(a).build());
        });
    }

    public Uni<ReinstateAgentResponse> reinstateAgent(Credential credential, ReinstateAgentRequest r) {
        return admin(credential, caller -> {
            RequestRules.statusChange(r.getRequestId(), r.getAgentId(), r.getReason());
            return agents.reinstate(caller, r.getRequestId(), r, r.getAgentId(), r.getReason())
                    .invoke(a -> LOG.infof("agent %s reinstated", a.getId()))
                    .map(a -> ReinstateAgentResponse.newBuilder().setAgent(a).build());
        });
    }

    public Uni<RevokeAgentResponse> revokeAgent(Credential credential, RevokeAgentRequest r) {
        return admin(credential, caller -> {
            RequestRules.statusChange(r.getRequestId(), r.getAgentId(), r.getReason());
            return agents.revoke(caller, r.getRequestId(), r, r.getAgentId(), r.getReason())
                    .invoke(a -> LOG.infof("agent %s revoked with all its keys", a.getId()))
                    .map(a -> RevokeAgentResponse.newBuilder().setAgent(a).build());
        });
    }

    public Uni<SetAgentPolicyResponse> setAgentPolicy(Credential credential, SetAgentPolicyRequest r) {
        return admin(credential, caller -> {
            RequestRules.setAgentPolicy(r);
            return agents.setPolicy(caller, r).map(a -> SetAgentPolicyResponse.newBuilder().setAgent(a).build());
        });
    }

    public Uni<CreateTeamResponse> createTeam(Credential credential, CreateTeamRequest r) {
        return admin(credential, caller -> {
            RequestRules.createTeam(r, Times.now());
            return teams.create(caller, r).map(t -> CreateTeamResponse.newBuilder().setTeam(t).build());
        });
    }

    public Uni<GetTeamResponse> getTeam(Credential credential, GetTeamRequest r) {
        return admin(credential, caller -> {
            Violations v = new Violations();
            FieldRules.reference(r.getTeam(), "team", v);
            v.throwIfAny();
            return queries.team(r.getTeam()).map(t -> GetTeamResponse.newBuilder().setTeam(t).build());
        });
    }

    public Uni<ListTeamsResponse> listTeams(Credential credential, ListTeamsRequest r) {
        return admin(credential, caller -> {
            Violations v = new Violations();
            Paging.Page page = Paging.of(r.getPageSize(), r.getPageToken(), TEAMS_PAGE, v);
            v.throwIfAny();
            return queries.teams(page.cursor().orElse(""), page.size() + 1).map(found -> {
                boolean more = found.size() > page.size();
                var shown = more ? found.subList(0, page.size()) : found;
                return ListTeamsResponse.newBuilder().addAllTeams(shown)
                        .setNextPageToken(Paging.nextToken(TEAMS_PAGE, more,
                                more ? shown.get(shown.size() - 1).getName() : ""))
                        .build();
            });
        });
    }

    public Uni<SetTeamPolicyResponse> setTeamPolicy(Credential credential, SetTeamPolicyRequest r) {
        return admin(credential, caller -> {
            RequestRules.setTeamPolicy(r);
            return teams.setPolicy(caller, r).map(t -> SetTeamPolicyResponse.newBuilder().setTeam(t).build());
        });
    }

    public Uni<CreateApiKeyResponse> createApiKey(Credential credential, CreateApiKeyRequest r) {
        return admin(credential, caller -> {
            RequestRules.createApiKey(r, Times.now());
            return keys.create(caller, r).invoke(resp -> LOG.debugf("key %s created for agent %s",
                    resp.getApiKey().getKeyId(), resp.getApiKey().getAgentId()));
        });
    }

    public Uni<ListApiKeysResponse> listApiKeys(Credential credential, ListApiKeysRequest r) {
        return admin(credential, caller -> {
            Violations v = new Violations();
            FieldRules.reference(r.getAgentId(), "agent_id", v);
            Paging.Page page = Paging.of(r.getPageSize(), r.getPageToken(), KEYS_PAGE, v);
            v.throwIfAny();
            return queries.keys(r.getAgentId(), page.cursor().orElse(""), r.getShowInactive(), page.size() + 1)
                    .map(found -> {
                        boolean more = found.size() > page.size();
                        var shown = more ? found.subList(0, page.size()) : found;
                        return ListApiKeysResponse.newBuilder().addAllApiKeys(shown)
                                .setNextPageToken(Paging.nextToken(KEYS_PAGE, more,
                                        more ? shown.get(shown.size() - 1).getKeyId() : ""))
                                .build();
                    });
        });
    }

    public Uni<RevokeApiKeyResponse> revokeApiKey(Credential credential, RevokeApiKeyRequest r) {
        return admin(credential, caller -> {
            RequestRules.revokeApiKey(r.getRequestId(), r.getKeyId(), r.getReason());
            return keys.revoke(caller, r).invoke(k -> LOG.infof("key %s of agent %s revoked", k.getKeyId(), k.getAgentId()))
                    .map(k -> RevokeApiKeyResponse.newBuilder().setApiKey(k).build());
        });
    }

    /** Every refusal looks the same to the caller; the metric and the debug log tell operators why. */
    public Uni<AuthenticateResponse> authenticate(Credential credential, AuthenticateRequest r) {
        return authorized(credential, Operation.AUTHENTICATE, caller -> keyVerification.verify(r.getApiKey())
                .map(outcome -> {
                    meters.counter("identity.authentications", "result",
                            outcome.result().name().toLowerCase(Locale.ROOT)).increment();
                    if (outcome.response() == null) {
                        LOG.debugf("authentication refused: %s", outcome.result());
                        throw ApiException.of(ErrorCode.UNAUTHENTICATED, "INVALID_API_KEY",
                                "the API key is not valid: unknown, revoked, expired, or its agent is not active");
                    }
                    return outcome.response();
                }));
    }

    public Uni<ListAuditEventsResponse> listAuditEvents(Credential credential, ListAuditEventsRequest r) {
        return admin(credential, caller -> {
            Violations v = new Violations();
            Paging.Page page = Paging.of(r.getPageSize(), r.getPageToken(), AUDIT_PAGE, v);
            FieldRules.optionalReference(r.getSubjectId(), "subject_id", v);
            v.throwIfAny();
            long before = page.cursor().isPresent() ? Paging.cursorAsLong(page, "page_token") : 0;
            return queries.auditEvents(before, r.getSubjectId(), page.size() + 1).map(found -> {
                boolean more = found.size() > page.size();
                var shown = more ? found.subList(0, page.size()) : found;
                return ListAuditEventsResponse.newBuilder().addAllAuditEvents(shown)
                        .setNextPageToken(Paging.nextToken(AUDIT_PAGE, more,
                                more ? Long.toString(shown.get(shown.size() - 1).getSequence()) : ""))
                        .build();
            });
        });
    }

    public Multi<WatchPoliciesResponse> watchPolicies(Credential credential, WatchPoliciesRequest r) {
        return authorized(credential, Operation.WATCH_POLICIES, caller -> {
            if (r.getAfterVersion() < 0) {
                throw ApiException.invalid("after_version", "must be 0 (snapshot) or a version from the feed");
            }
            return Uni.createFrom().item(caller);
        }).onItem().transformToMulti(caller -> policyFeed.watch(r.getAfterVersion()));
    }

    /** A caller-facing action that may throw refusals synchronously; they become failures of the Uni. */
    interface Action<T> {
        Uni<T> run(Caller caller);
    }

    private <T> Uni<T> admin(Credential credential, Action<T> action) {
        return authorized(credential, Operation.ADMIN, action);
    }

    private <T> Uni<T> authorized(Credential credential, Operation operation, Action<T> action) {
        return authorize(credential, operation).chain(caller -> Uni.createFrom().deferred(
                (Supplier<Uni<? extends T>>) () -> action.run(caller)));
    }

    private Uni<Caller> authorize(Credential credential, Operation operation) {
        return switch (AccessRules.decide(credential, operation)) {
            case ALLOW_ADMIN -> Uni.createFrom().item(Caller.ADMIN);
            case ALLOW_SERVICE -> Uni.createFrom().item(Caller.SERVICE);
            case PERMISSION_DENIED -> Uni.createFrom().failure(AccessRules.permissionDenied(operation));
            case UNAUTHENTICATED -> Uni.createFrom().failure(AccessRules.unauthenticated());
            case DENY_AGENT_KEY -> keyVerification.isValid(((Credential.AgentKey) credential).key())
                    .map(valid -> {
                        throw valid ? AccessRules.permissionDenied(operation) : AccessRules.unauthenticated();
                    });
        };
    }
}
