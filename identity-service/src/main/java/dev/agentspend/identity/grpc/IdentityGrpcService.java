package dev.agentspend.identity.grpc;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.common.grpc.StreamDrain;
import dev.agentspend.identity.domain.Credential;
import dev.agentspend.identity.store.StoreErrors;
import dev.agentspend.proto.identity.v1.*;
import io.quarkus.grpc.GrpcService;
import io.quarkus.grpc.RegisterInterceptor;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

/** The gRPC transport: reads the caller's credential and maps refusals to google.rpc.Status. */
@GrpcService
@RegisterInterceptor(AuthInterceptor.class)
public class IdentityGrpcService implements IdentityService {
    public static final String DOMAIN = "identity.agentspend.dev";
    private static final Logger LOG = Logger.getLogger(IdentityGrpcService.class);

    @Inject
    IdentityApi api;
    @Inject
    StreamDrain streams;

    @Override
    public Uni<CreateAgentResponse> createAgent(CreateAgentRequest request) {
        return unary("CreateAgent", api.createAgent(credential(), request));
    }

    @Override
    public Uni<GetAgentResponse> getAgent(GetAgentRequest request) {
        return unary("GetAgent", api.getAgent(credential(), request));
    }

    @Override
    public Uni<ListAgentsResponse> listAgents(ListAgentsRequest request) {
        return unary("ListAgents", api.listAgents(credential(), request));
    }

    @Override
    public Uni<UpdateAgentResponse> updateAgent(UpdateAgentRequest request) {
        return unary("UpdateAgent", api.updateAgent(credential(), request));
    }

    @Override
    public Uni<SuspendAgentResponse> suspendAgent(SuspendAgentRequest request) {
        return unary("SuspendAgent", api.suspendAgent(credential(), request));
    }

    @Override
    public Uni<ReinstateAgentResponse> reinstateAgent(ReinstateAgentRequest request) {
        return unary("ReinstateAgent", api.reinstateAgent(credential(), request));
    }

    @Override
    public Uni<RevokeAgentResponse> revokeAgent(RevokeAgentRequest request) {
        return unary("RevokeAgent", api.revokeAgent(credential(), request));
    }

    @Override
    public Uni<SetAgentPolicyResponse> setAgentPolicy(SetAgentPolicyRequest request) {
        return unary("SetAgentPolicy", api.setAgentPolicy(credential(), request));
    }

    @Override
    public Uni<CreateTeamResponse> createTeam(CreateTeamRequest request) {
        return unary("CreateTeam", api.createTeam(credential(), request));
    }

    @Override
    public Uni<GetTeamResponse> getTeam(GetTeamRequest request) {
        return unary("GetTeam", api.getTeam(credential(), request));
    }

    @Override
    public Uni<ListTeamsResponse> listTeams(ListTeamsRequest request) {
        return unary("ListTeams", api.listTeams(credential(), request));
    }

    @Override
    public Uni<SetTeamPolicyResponse> setTeamPolicy(SetTeamPolicyRequest request) {
        return unary("SetTeamPolicy", api.setTeamPolicy(credential(), request));
    }

    @Override
    public Uni<CreateApiKeyResponse> createApiKey(CreateApiKeyRequest request) {
        return unary("CreateApiKey", api.createApiKey(credential(), request));
    }

    @Override
    public Uni<ListApiKeysResponse> listApiKeys(ListApiKeysRequest request) {
        return unary("ListApiKeys", api.listApiKeys(credential(), request));
    }

    @Override
    public Uni<RevokeApiKeyResponse> revokeApiKey(RevokeApiKeyRequest request) {
        return unary("RevokeApiKey", api.revokeApiKey(credential(), request));
    }

    @Override
    public Uni<AuthenticateResponse> authenticate(AuthenticateRequest request) {
        return unary("Authenticate", api.authenticate(credential(), request));
    }

    @Override
    public Uni<ListAuditEventsResponse> listAuditEvents(ListAuditEventsRequest request) {
        return unary("ListAuditEvents", api.listAuditEvents(credential(), request));
    }

    @Override
    public Multi<WatchPoliciesResponse> watchPolicies(WatchPoliciesRequest request) {
        return streams.drainable(api.watchPolicies(credential(), request)
                .onFailure().transform(t -> toStatus("WatchPolicies", t)));
    }

    /** Read synchronously at method entry, while the interceptor's gRPC context is current. */
    private static Credential credential() {
        return AuthInterceptor.current();
    }

    private static <T> Uni<T> unary(String method, Uni<T> call) {
        return call.onFailure().transform(t -> toStatus(method, t));
    }

    private static Throwable toStatus(String method, Throwable failure) {
        Throwable t = StoreErrors.translate(failure);
        if (!(t instanceof ApiException)) {
            LOG.errorf(t, "%s failed unexpectedly", method);
        }
        return GrpcErrors.toStatus(t, DOMAIN);
    }
}
