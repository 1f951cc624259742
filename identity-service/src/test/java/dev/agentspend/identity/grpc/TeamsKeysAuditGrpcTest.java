package dev.agentspend.identity.grpc;

import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.proto.identity.v1.*;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.agentspend.identity.support.Fixtures.*;
import static dev.agentspend.identity.support.Grpc.*;
import static org.junit.jupiter.api.Assertions.*;

/** Teams, keys, the audit log and access rules over real gRPC. */
@QuarkusTest
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
class TeamsKeysAuditGrpcTest {

    @Test
    void teamsAreCreatedListedAndCarryTheirOwnCaps() {
        Team team = createTeam();
        assertTrue(team.getId().startsWith("team_"));
        assertEquals(1, team.getVersion());
        assertEquals(team, admin().getTeam(GetTeamRequest.newBuilder().setTeam(team.getId()).build()).getTeam());
        assertEquals(team, admin().getTeam(GetTeamRequest.newBuilder().setTeam(team.getName()).build()).getTeam());

        StatusRuntimeException dup = fails(Status.Code.ALREADY_EXISTS, () -> admin().createTeam(CreateTeamRequest
                .newBuilder().setRequestId(requestId()).setName(team.getName()).setCurrencyCode("USD").build()));
        assertEquals("TEAM_NAME_TAKEN", reason(dup));
        fails(Status.Code.NOT_FOUND, () -> admin().getTeam(GetTeamRequest.newBuilder().setTeam("team_nope").build()));

        List<Cap> caps = List.of(cap(CapWindow.CAP_WINDOW_HOUR, 2_000_000), cap(CapWindow.CAP_WINDOW_DAY, 1_000_000));
        StatusRuntimeException inverted = fails(Status.Code.INVALID_ARGUMENT, () -> admin().setTeamPolicy(
                SetTeamPolicyRequest.newBuilder().setRequestId(requestId()).setTeamId(team.getId()).addAllCaps(caps).build()));
        assertEquals(List.of("caps[0].limit_micros"), violatedFields(inverted));
        Team updated = admin().setTeamPolicy(SetTeamPolicyRequest.newBuilder().setRequestId(requestId())
                .setTeamId(team.getId()).addAllCaps(caps).setAllowInvertedWindows(true).setExpectedVersion(1).build()).getTeam();
        assertEquals(caps, updated.getCapsList());
        assertEquals(2, updated.getVersion());
        fails(Status.Code.ABORTED, () -> admin().setTeamPolicy(SetTeamPolicyRequest.newBuilder().setRequestId(requestId())
                .setTeamId(team.getId()).setExpectedVersion(1).build()));
        fails(Status.Code.NOT_FOUND, () -> admin().setTeamPolicy(SetTeamPolicyRequest.newBuilder()
                .setRequestId(requestId()).setTeamId("team_nope").build()));

        Team second = createTeam();
        List<String> names = new ArrayList<>();
        String token = "";
        int pages = 0;
        do {
            ListTeamsResponse page = admin().listTeams(ListTeamsRequest.newBuilder().setPageSize(1).setPageToken(token).build());
            page.getTeamsList().forEach(t -> names.add(t.getName()));
            token = page.getNextPageToken();
        } while (!token.isEmpty() && ++pages < 1000);
        assertTrue(names.contains(team.getName()) && names.contains(second.getName()));
        assertEquals(names.stream().sorted().toList(), names);
    }

    @Test
    void keysRotateAndRevokeOneAtATime() {
        CreateAgentResponse created = createAgent();
        String agentId = created.getAgent().getId();
        CreateApiKeyResponse second = admin().createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(requestId())
                .setAgentId(agentId).setDescription("rotation").setExpireTime(inFuture(3600)).build());
        assertTrue(ApiKeys.parse(second.getApiKeySecret()).isPresent());
        assertEquals("rotation", second.getApiKey().getDescription());
        assertTrue(second.getApiKey().hasExpireTime());

        ListApiKeysResponse listed = admin().listApiKeys(ListApiKeysRequest.newBuilder().setAgentId(agentId).build());
        assertEquals(2, listed.getApiKeysCount());

        ApiKey revoked = admin().revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(requestId())
                .setKeyId(created.getApiKey().getKeyId()).setReason("rotated").build()).getApiKey();
        assertTrue(revoked.hasRevokeTime());
        assertEquals("KEY_ALREADY_REVOKED", reason(fails(Status.Code.FAILED_PRECONDITION, () -> admin().revokeApiKey(
                RevokeApiKeyRequest.newBuilder().setRequestId(requestId()).setKeyId(revoked.getKeyId()).build()))));
        fails(Status.Code.NOT_FOUND, () -> admin().revokeApiKey(RevokeApiKeyRequest.newBuilder()
                .setRequestId(requestId()).setKeyId("key_aaaaaaaaaaaaaaaa").build()));
        fails(Status.Code.NOT_FOUND, () -> admin().createApiKey(CreateApiKeyRequest.newBuilder()
                .setRequestId(requestId()).setAgentId("agt_nope").build()));
        fails(Status.Code.NOT_FOUND, () -> admin().listApiKeys(ListApiKeysRequest.newBuilder().setAgentId("agt_nope").build()));
        assertEquals(List.of("expire_time"), violatedFields(fails(Status.Code.INVALID_ARGUMENT, () -> admin().createApiKey(
                CreateApiKeyRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId)
                        .setExpireTime(inFuture(-10)).build()))));

        assertEquals(List.of(second.getApiKey().getKeyId()), admin().listApiKeys(ListApiKeysRequest.newBuilder()
                .setAgentId(agentId).build()).getApiKeysList().stream().map(ApiKey::getKeyId).toList());
        assertEquals(2, admin().listApiKeys(ListApiKeysRequest.newBuilder().setAgentId(agentId).setShowInactive(true)
                .build()).getApiKeysCount());
        assertEquals(3, admin().getAgent(GetAgentRequest.newBuilder().setAgent(agentId).build()).getAgent().getVersion(),
                "each key change bumps the agent version, because the feed carries the keys");
    }

    @Test
    void keyCountPerAgentIsBounded() {
        String agentId = createAgent().getAgent().getId();
        for (int i = 1; i < 20; i++) {
            admin().createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId).build());
        }
        assertEquals("TOO_MANY_KEYS", reason(fails(Status.Code.FAILED_PRECONDITION, () -> admin().createApiKey(
                CreateApiKeyRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId).build()))));
    }

    @Test
    void auditLogRecordsEveryChangeNewestFirstWithPagination() {
        CreateAgentResponse created = createAgent();
        String agentId = created.getAgent().getId();
        String suspendRequest = requestId();
        admin().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(suspendRequest).setAgentId(agentId)
                .setReason("alert alr_42").build());
        admin().reinstateAgent(ReinstateAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId).build());

        ListAuditEventsResponse page1 = admin().listAuditEvents(ListAuditEventsRequest.newBuilder()
                .setSubjectId(agentId).setPageSize(2).build());
        assertEquals(List.of("agent.reinstate", "agent.suspend"),
                page1.getAuditEventsList().stream().map(AuditEvent::getAction).toList());
        AuditEvent suspend = page1.getAuditEvents(1);
        assertEquals("admin", suspend.getActor());
        assertEquals("agent", suspend.getSubjectType());
        assertEquals("alert alr_42", suspend.getReason());
        assertEquals(suspendRequest, suspend.getRequestId());
        assertTrue(suspend.getOldValueJson().contains("AGENT_STATUS_ACTIVE"), suspend.getOldValueJson());
        assertTrue(suspend.getNewValueJson().contains("AGENT_STATUS_SUSPENDED"), suspend.getNewValueJson());
        assertTrue(page1.getAuditEvents(0).getSequence() > suspend.getSequence());

        ListAuditEventsResponse page2 = admin().listAuditEvents(ListAuditEventsRequest.newBuilder()
                .setSubjectId(agentId).setPageSize(2).setPageToken(page1.getNextPageToken()).build());
        assertEquals(List.of("agent.create"), page2.getAuditEventsList().stream().map(AuditEvent::getAction).toList());
        assertEquals("", page2.getNextPageToken());
        assertEquals("", page2.getAuditEvents(0).getOldValueJson());

        ListAuditEventsResponse keyEvents = admin().listAuditEvents(ListAuditEventsRequest.newBuilder()
                .setSubjectId(created.getApiKey().getKeyId()).build());
        assertEquals(List.of("key.create"), keyEvents.getAuditEventsList().stream().map(AuditEvent::getAction).toList());
        createTeam();
        createTeam();
        String teamsToken = admin().listTeams(ListTeamsRequest.newBuilder().setPageSize(1).build()).getNextPageToken();
        assertEquals(List.of("page_token"), violatedFields(fails(Status.Code.INVALID_ARGUMENT, () -> admin()
                .listAuditEvents(ListAuditEventsRequest.newBuilder().setPageToken(teamsToken).build()))));
    }

    @Test
    void onlyTheAdminTokenMayAdministerAndAgentKeysMayCallNothing() {
        CreateAgentResponse created = createAgent();
        String agentKey = created.getApiKeySecret();
        Map<String, Executable> adminCalls = Map.of(
                "CreateAgent", () -> as(agentKey).createAgent(agentRequest().build()),
                "GetAgent", () -> as(agentKey).getAgent(GetAgentRequest.newBuilder().setAgent(created.getAgent().getId()).build()),
                "ListAgents", () -> as(agentKey).listAgents(ListAgentsRequest.getDefaultInstance()),
                "ListAuditEvents", () -> as(agentKey).listAuditEvents(ListAuditEventsRequest.getDefaultInstance()),
                "Authenticate", () -> as(agentKey).authenticate(AuthenticateRequest.newBuilder().setApiKey(agentKey).build()));
        adminCalls.forEach((name, call) -> assertEquals("PERMISSION_DENIED",
                reason(fails(Status.Code.PERMISSION_DENIED, call)), name));

        assertEquals("PERMISSION_DENIED", reason(fails(Status.Code.PERMISSION_DENIED,
                () -> service().listAgents(ListAgentsRequest.getDefaultInstance()))));
        fails(Status.Code.PERMISSION_DENIED, () -> service().reinstateAgent(ReinstateAgentRequest.newBuilder()
                .setRequestId(requestId()).setAgentId(created.getAgent().getId()).build()));
        fails(Status.Code.PERMISSION_DENIED, () -> service().revokeAgent(RevokeAgentRequest.newBuilder()
                .setRequestId(requestId()).setAgentId(created.getAgent().getId()).build()));

        fails(Status.Code.UNAUTHENTICATED, () -> anonymous().listAgents(ListAgentsRequest.getDefaultInstance()));
        fails(Status.Code.UNAUTHENTICATED, () -> as("not-a-token").listAgents(ListAgentsRequest.getDefaultInstance()));
        String forgedKey = ApiKeys.generate().fullKey();
        fails(Status.Code.UNAUTHENTICATED, () -> as(forgedKey).listAgents(ListAgentsRequest.getDefaultInstance()));
        fails(Status.Code.UNAUTHENTICATED, () -> anonymous().authenticate(AuthenticateRequest.newBuilder()
                .setApiKey(agentKey).build()));
        assertEquals(AgentStatus.AGENT_STATUS_ACTIVE,
                admin().getAgent(GetAgentRequest.newBuilder().setAgent(created.getAgent().getId()).build())
                        .getAgent().getStatus(), "refused calls change nothing");

        // the service token may suspend (the alert service's revocation path), audited with its reason
        assertEquals(AgentStatus.AGENT_STATUS_SUSPENDED, service().suspendAgent(SuspendAgentRequest.newBuilder()
                .setRequestId(requestId()).setAgentId(created.getAgent().getId()).setReason("alert alt_test: RULE").build())
                .getAgent().getStatus());
        assertTrue(admin().listAuditEvents(ListAuditEventsRequest.newBuilder().setSubjectId(created.getAgent().getId()).build())
                .getAuditEventsList().stream().anyMatch(e -> e.getActor().equals("service") && e.getReason().contains("alt_test")));
    }
}
