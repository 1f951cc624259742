package dev.agentspend.identity.rest;

import com.google.protobuf.MessageOrBuilder;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.identity.config.AuthConfig;
import dev.agentspend.identity.domain.AccessRules;
import dev.agentspend.identity.domain.Credential;
import dev.agentspend.identity.grpc.IdentityApi;
import dev.agentspend.proto.identity.v1.*;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SecuritySchemeType;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.security.SecurityScheme;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.Locale;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The REST/JSON admin API: the same operations and rules as the gRPC service (both call
 * {@link IdentityApi}). Bodies and responses are the proto messages as JSON with snake_case
 * names; path parameters override the matching body field.
 */
@Path("/v1")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
@Tag(name = "identity", description = "Agents, teams, API keys, spending policies and the audit log")
@SecurityScheme(securitySchemeName = "bearer", type = SecuritySchemeType.HTTP, scheme = "bearer")
@SecurityRequirement(name = "bearer")
public class AdminResource {
    @Inject
    IdentityApi api;
    @Inject
    AuthConfig auth;

    @POST
    @Path("/agents")
    @Operation(summary = "Create an agent with its first API key (the secret is returned once)")
    public Uni<String> createAgent(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization, String body) {
        return call(authorization, c -> api.createAgent(c, ProtoJson.parse(body, CreateAgentRequest.newBuilder()).build()));
    }

    @GET
    @Path("/agents/{agent}")
    @Operation(summary = "Get an agent by id or handle")
    public Uni<String> getAgent(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                @PathParam("agent") String agent) {
        return call(authorization, c -> api.getAgent(c, GetAgentRequest.newBuilder().setAgent(agent).build()));
    }

    @GET
    @Path("/agents")
    @Operation(summary = "List agents ordered by handle, optionally by team and status")
    public Uni<String> listAgents(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                  @QueryParam("page_size") Integer pageSize, @QueryParam("page_token") String pageToken,
                                  @QueryParam("team_id") String teamId, @QueryParam("status") String status) {
        return call(authorization, c -> api.listAgents(c, ListAgentsRequest.newBuilder()
                .setPageSize(pageSize == null ? 0 : pageSize).setPageToken(orEmpty(pageToken))
                .setTeamId(orEmpty(teamId)).setStatus(status(status)).build()));
    }

    @PATCH
    @Path("/agents/{agent_id}")
    @Operation(summary = "Replace the agent fields named in update_mask")
    public Uni<String> updateAgent(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                   @PathParam("agent_id") String agentId, String body) {
        return call(authorization, c -> api.updateAgent(c,
                ProtoJson.parse(body, UpdateAgentRequest.newBuilder()).setAgentId(agentId).build()));
    }

    @POST
    @Path("/agents/{agent_id}/suspend")
    @Operation(summary = "Suspend an agent: reversible, its keys stop working at once")
    public Uni<String> suspendAgent(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                    @PathParam("agent_id") String agentId, String body) {
        return call(authorization, c -> api.suspendAgent(c,
                ProtoJson.parse(body, SuspendAgentRequest.newBuilder()).setAgentId(agentId).build()));
    }

    @POST
    @Path("/agents/{agent_id}/reinstate")
    @Operation(summary = "Reinstate a suspended agent")
    public Uni<String> reinstateAgent(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                      @PathParam("agent_id") String agentId, String body) {
        return call(authorization, c -> api.reinstateAgent(c,
                ProtoJson.parse(body, ReinstateAgentRequest.newBuilder()).setAgentId(agentId).build()));
    }

    @POST
    @Path("/agents/{agent_id}/revoke")
    @Operation(summary = "Revoke an agent: permanent, every key dies")
    public Uni<String> revokeAgent(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                   @PathParam("agent_id") String agentId, String body) {
        return call(authorization, c -> api.revokeAgent(c,
                ProtoJson.parse(body, RevokeAgentRequest.newBuilder()).setAgentId(agentId).build()));
    }

    @PUT
    @Path("/agents/{agent_id}/policy")
    @Operation(summary = "Replace an agent's spending policy")
    public Uni<String> setAgentPolicy(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                      @PathParam("agent_id") String agentId, String body) {
        return call(authorization, c -> api.setAgentPolicy(c,
                ProtoJson.parse(body, SetAgentPolicyRequest.newBuilder()).setAgentId(agentId).build()));
    }

    @POST
    @Path("/agents/{agent_id}/keys")
    @Operation(summary = "Create an additional API key (rotation); the secret is returned once")
    public Uni<String> createApiKey(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                    @PathParam("agent_id") String agentId, String body) {
        return call(authorization, c -> api.createApiKey(c,
                ProtoJson.parse(body, CreateApiKeyRequest.newBuilder()).setAgentId(agentId).build()));
    }

    @GET
    @Path("/agents/{agent_id}/keys")
    @Operation(summary = "List an agent's keys (never their secrets)")
    public Uni<String> listApiKeys(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                   @PathParam("agent_id") String agentId, @QueryParam("page_size") Integer pageSize,
                                   @QueryParam("page_token") String pageToken,
                                   @QueryParam("show_inactive") boolean showInactive) {
        return call(authorization, c -> api.listApiKeys(c, ListApiKeysRequest.newBuilder().setAgentId(agentId)
                .setPageSize(pageSize == null ? 0 : pageSize).setPageToken(orEmpty(pageToken))
                .setShowInactive(showInactive).build()));
    }

    @POST
    @Path("/keys/{key_id}/revoke")
    @Operation(summary = "Revoke one API key")
    public Uni<String> revokeApiKey(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                    @PathParam("key_id") String keyId, String body) {
        return call(authorization, c -> api.revokeApiKey(c,
                ProtoJson.parse(body, RevokeApiKeyRequest.newBuilder()).setKeyId(keyId).build()));
    }

    @POST
    @Path("/teams")
    @Operation(summary = "Create a team, which can carry caps of its own")
    public Uni<String> createTeam(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization, String body) {
        return call(authorization, c -> api.createTeam(c, ProtoJson.parse(body, CreateTeamRequest.newBuilder()).build()));
    }

    @GET
    @Path("/teams/{team}")
    @Operation(summary = "Get a team by id or name")
    public Uni<String> getTeam(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                               @PathParam("team") String team) {
        return call(authorization, c -> api.getTeam(c, GetTeamRequest.newBuilder().setTeam(team).build()));
    }

    @GET
    @Path("/teams")
    @Operation(summary = "List teams ordered by name")
    public Uni<String> listTeams(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                 @QueryParam("page_size") Integer pageSize, @QueryParam("page_token") String pageToken) {
        return call(authorization, c -> api.listTeams(c, ListTeamsRequest.newBuilder()
                .setPageSize(pageSize == null ? 0 : pageSize).setPageToken(orEmpty(pageToken)).build()));
    }

    @PUT
    @Path("/teams/{team_id}/policy")
    @Operation(summary = "Replace a team's caps")
    public Uni<String> setTeamPolicy(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                     @PathParam("team_id") String teamId, String body) {
        return call(authorization, c -> api.setTeamPolicy(c,
                ProtoJson.parse(body, SetTeamPolicyRequest.newBuilder()).setTeamId(teamId).build()));
    }

    @POST
    @Path("/authenticate")
    @Operation(summary = "Map an agent API key to its agent (service or admin token)")
    public Uni<String> authenticate(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization, String body) {
        return call(authorization, c -> api.authenticate(c, ProtoJson.parse(body, AuthenticateRequest.newBuilder()).build()));
    }

    @GET
    @Path("/audit-events")
    @Operation(summary = "List the audit log, newest first")
    public Uni<String> listAuditEvents(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                       @QueryParam("page_size") Integer pageSize,
                                       @QueryParam("page_token") String pageToken,
                                       @QueryParam("subject_id") String subjectId) {
        return call(authorization, c -> api.listAuditEvents(c, ListAuditEventsRequest.newBuilder()
                .setPageSize(pageSize == null ? 0 : pageSize).setPageToken(orEmpty(pageToken))
                .setSubjectId(orEmpty(subjectId)).build()));
    }

    private Uni<String> call(String authorization, Function<Credential, Uni<? extends MessageOrBuilder>> operation) {
        Credential credential = Credential.fromAuthorizationHeader(authorization, auth.adminToken(), auth.serviceToken());
        if (credential instanceof Credential.Missing || credential instanceof Credential.Unknown) {
            // refused before the body is read, as the gRPC interceptor does
            return Uni.createFrom().failure(AccessRules.unauthenticated());
        }
        return Uni.createFrom().deferred((Supplier<Uni<? extends MessageOrBuilder>>) () -> operation.apply(credential))
                .map(ProtoJson::print)
                .onFailure().transform(RestErrors::toRefusal);
    }

    private static String orEmpty(String value) {
        return value == null ? "" : value;
    }

    private static AgentStatus status(String value) {
        if (value == null || value.isEmpty()) {
            return AgentStatus.AGENT_STATUS_UNSPECIFIED;
        }
        String name = value.toUpperCase(Locale.ROOT);
        try {
            return AgentStatus.valueOf(name.startsWith("AGENT_STATUS_") ? name : "AGENT_STATUS_" + name);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("status", "must be ACTIVE, SUSPENDED or REVOKED");
        }
    }
}
