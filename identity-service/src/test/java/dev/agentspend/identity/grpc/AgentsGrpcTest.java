package dev.agentspend.identity.grpc;

import dev.agentspend.identity.support.Fixtures;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.proto.identity.v1.*;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.agentspend.identity.support.Fixtures.*;
import static dev.agentspend.identity.support.Grpc.*;
import static org.junit.jupiter.api.Assertions.*;

/** Agents over real gRPC against a real PostgreSQL: every agent RPC and its error statuses. */
@QuarkusTest
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
class AgentsGrpcTest {

    @Test
    void createReturnsTheAgentAndItsFirstKeyOnce() {
        CreateAgentRequest request = agentRequest().build();
        CreateAgentResponse created = admin().createAgent(request);

        Agent agent = created.getAgent();
        assertTrue(agent.getId().matches("agt_[a-z2-7]{26}"), agent.getId());
        assertEquals(request.getHandle(), agent.getHandle());
        assertEquals(AgentStatus.AGENT_STATUS_ACTIVE, agent.getStatus());
        assertEquals(AgentMode.AGENT_MODE_PRODUCTION, agent.getMode());
        assertEquals(request.getPolicy(), agent.getPolicy());
        assertEquals(request.getWorkingHours(), agent.getWorkingHours());
        assertEquals("test", agent.getLabelsOrThrow("env"));
        assertEquals(1, agent.getVersion());
        assertTrue(agent.hasCreateTime() && agent.hasUpdateTime());
        assertTrue(created.getApiKeySecret().startsWith("as_" + created.getApiKey().getKeyId() + "_"));
        assertEquals(agent.getId(), created.getApiKey().getAgentId());

        assertEquals(agent, admin().getAgent(GetAgentRequest.newBuilder().setAgent(agent.getId()).build()).getAgent());
        assertEquals(agent, admin().getAgent(GetAgentRequest.newBuilder().setAgent(agent.getHandle()).build()).getAgent());
    }

    @Test
    void retryWithSameRequestIdReplaysWithoutTheSecretAndChangesNothing() {
        CreateAgentRequest request = agentRequest().build();
        CreateAgentResponse first = admin().createAgent(request);
        CreateAgentResponse replay = admin().createAgent(request);

        assertEquals(first.getAgent(), replay.getAgent());
        assertEquals(first.getApiKey(), replay.getApiKey());
        assertEquals("", replay.getApiKeySecret());
        ListApiKeysResponse keys = admin().listApiKeys(ListApiKeysRequest.newBuilder()
                .setAgentId(first.getAgent().getId()).build());
        assertEquals(1, keys.getApiKeysCount());

        StatusRuntimeException reused = fails(Status.Code.ALREADY_EXISTS, () -> admin().createAgent(
                request.toBuilder().setDisplayName("something else").build()));
        assertEquals("REQUEST_ID_REUSED", reason(reused));
        fails(Status.Code.ALREADY_EXISTS, () -> admin().suspendAgent(SuspendAgentRequest.newBuilder()
                .setRequestId(request.getRequestId()).setAgentId(first.getAgent().getId()).build()));
        assertEquals(AgentStatus.AGENT_STATUS_ACTIVE, get(first.getAgent().getId()).getStatus());
    }

    @Test
    void concurrentDuplicatesOfOneRequestCreateOneAgent() throws Exception {
        CreateAgentRequest request = agentRequest().build();
        List<Thread> threads = new ArrayList<>();
        List<CreateAgentResponse> responses = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < 6; i++) {
            Thread t = new Thread(() -> responses.add(admin().createAgent(request)));
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join(30_000);
        }
        assertEquals(6, responses.size());
        assertEquals(1, responses.stream().map(r -> r.getAgent().getId()).distinct().count());
        assertEquals(1, responses.stream().filter(r -> !r.getApiKeySecret().isEmpty()).count());
    }

    @Test
    void duplicateHandleIsAlreadyExists() {
        CreateAgentResponse existing = createAgent();
        StatusRuntimeException e = fails(Status.Code.ALREADY_EXISTS, () -> admin().createAgent(
                agentRequest().setHandle(existing.getAgent().getHandle()).build()));
        assertEquals("HANDLE_TAKEN", reason(e));
    }

    @Test
    void invalidInputListsEveryViolationAndCreatesNothing() {
        String handle = "Bad_Handle";
        CreateAgentRequest bad = agentRequest().setRequestId("").setHandle(handle).setCurrencyCode("usd")
                .setDisplayName("line\nbreak").setMode(AgentMode.AGENT_MODE_UNSPECIFIED)
                .putLabels("Not A Key", "x")
                .setPolicy(SpendingPolicy.newBuilder()
                        .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 10_000_000))
                        .addCaps(cap(CapWindow.CAP_WINDOW_HOUR, 20_000_000))
                        .addCaps(cap(CapWindow.CAP_WINDOW_MONTH, -1))
                        .setSandboxCeilingMicros(-5))
                .setWorkingHours(WorkingHours.newBuilder().setTimeZone("Mars/Olympus")
                        .addIntervals(WorkingInterval.newBuilder().setDayOfWeek(8).setStartMinute(0).setEndMinute(10)))
                .build();
        StatusRuntimeException e = fails(Status.Code.INVALID_ARGUMENT, () -> admin().createAgent(bad));
        List<String> fields = violatedFields(e);
        for (String expected : List.of("request_id", "handle", "display_name", "labels", "mode", "currency_code",
                "policy.caps[1].limit_micros", "policy.caps[2].limit_micros", "policy.sandbox_ceiling_micros",
                "working_hours.time_zone", "working_hours.intervals[0].day_of_week")) {
            assertTrue(fields.contains(expected), () -> expected + " missing from " + fields);
        }
        fails(Status.Code.NOT_FOUND, () -> admin().getAgent(GetAgentRequest.newBuilder().setAgent(handle).build()));
    }

    @Test
    void capCurrencyMustBeTheAgentsAndInvertedWindowsNeedTheFlag() {
        CreateAgentResponse created = createAgent();
        String id = created.getAgent().getId();
        SpendingPolicy inverted = SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_MONTH, 10_000_000))
                .addCaps(cap(CapWindow.CAP_WINDOW_WEEK, 20_000_000))
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 5_000_000).toBuilder().setCurrencyCode("EUR")).build();
        StatusRuntimeException e = fails(Status.Code.INVALID_ARGUMENT, () -> admin().setAgentPolicy(
                SetAgentPolicyRequest.newBuilder().setRequestId(requestId()).setAgentId(id).setPolicy(inverted).build()));
        assertEquals(List.of("policy.caps[1].limit_micros", "policy.caps[2].currency_code"),
                violatedFields(e).stream().sorted().toList());
        assertEquals(1, get(id).getVersion());

        SpendingPolicy allowed = inverted.toBuilder().removeCaps(2).setAllowInvertedWindows(true).build();
        Agent updated = admin().setAgentPolicy(SetAgentPolicyRequest.newBuilder().setRequestId(requestId())
                .setAgentId(id).setPolicy(allowed).setExpectedVersion(1).build()).getAgent();
        assertEquals(allowed, updated.getPolicy());
        assertEquals(2, updated.getVersion());
    }

    @Test
    void updateReplacesOnlyMaskedFieldsAndChecksTheVersion() {
        Agent agent = createAgent().getAgent();
        Team team = createTeam();
        UpdateAgentResponse updated = admin().updateAgent(UpdateAgentRequest.newBuilder().setRequestId(requestId())
                .setAgentId(agent.getId()).addUpdateMask("display_name").addUpdateMask("team_id")
                .addUpdateMask("mode").setDisplayName("Renamed").setTeamId(team.getId())
                .setMode(AgentMode.AGENT_MODE_SANDBOX).putLabels("ignored", "because-not-masked")
                .setExpectedVersion(1).build());
        Agent after = updated.getAgent();
        assertEquals("Renamed", after.getDisplayName());
        assertEquals(team.getId(), after.getTeamId());
        assertEquals(AgentMode.AGENT_MODE_SANDBOX, after.getMode());
        assertEquals(agent.getLabelsMap(), after.getLabelsMap());
        assertEquals(agent.getWorkingHours(), after.getWorkingHours());
        assertEquals(2, after.getVersion());

        StatusRuntimeException stale = fails(Status.Code.ABORTED, () -> admin().updateAgent(UpdateAgentRequest.newBuilder()
                .setRequestId(requestId()).setAgentId(agent.getId()).addUpdateMask("display_name")
                .setDisplayName("Lost update").setExpectedVersion(1).build()));
        assertEquals("VERSION_MISMATCH", reason(stale));
        assertEquals("Renamed", get(agent.getId()).getDisplayName());

        StatusRuntimeException badMask = fails(Status.Code.INVALID_ARGUMENT, () -> admin().updateAgent(
                UpdateAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(agent.getId())
                        .addUpdateMask("status").build()));
        assertEquals(List.of("update_mask[0]"), violatedFields(badMask));
        fails(Status.Code.NOT_FOUND, () -> admin().updateAgent(UpdateAgentRequest.newBuilder().setRequestId(requestId())
                .setAgentId(agent.getId()).addUpdateMask("team_id").setTeamId("team_doesnotexist").build()));
        fails(Status.Code.NOT_FOUND, () -> admin().updateAgent(UpdateAgentRequest.newBuilder().setRequestId(requestId())
                .setAgentId("agt_doesnotexist").addUpdateMask("display_name").setDisplayName("x").build()));
    }

    @Test
    void suspendReinstateRevokeFollowTheStatusMachine() {
        Agent agent = createAgent().getAgent();
        String id = agent.getId();
        Agent suspended = admin().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(requestId())
                .setAgentId(id).setReason("alert alr_123").build()).getAgent();
        assertEquals(AgentStatus.AGENT_STATUS_SUSPENDED, suspended.getStatus());
        assertEquals("AGENT_NOT_ACTIVE", reason(fails(Status.Code.FAILED_PRECONDITION, () -> admin().suspendAgent(
                SuspendAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(id).build()))));

        Agent reinstated = admin().reinstateAgent(ReinstateAgentRequest.newBuilder().setRequestId(requestId())
                .setAgentId(id).build()).getAgent();
        assertEquals(AgentStatus.AGENT_STATUS_ACTIVE, reinstated.getStatus());
        assertEquals("AGENT_NOT_SUSPENDED", reason(fails(Status.Code.FAILED_PRECONDITION, () -> admin().reinstateAgent(
                ReinstateAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(id).build()))));

        Agent revoked = admin().revokeAgent(RevokeAgentRequest.newBuilder().setRequestId(requestId())
                .setAgentId(id).setReason("compromised").build()).getAgent();
        assertEquals(AgentStatus.AGENT_STATUS_REVOKED, revoked.getStatus());
        assertEquals(4, revoked.getVersion());
        for (var call : List.<org.junit.jupiter.api.function.Executable>of(
                () -> admin().reinstateAgent(ReinstateAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(id).build()),
                () -> admin().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(id).build()),
                () -> admin().revokeAgent(RevokeAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(id).build()),
                () -> admin().createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(requestId()).setAgentId(id).build()),
                () -> admin().setAgentPolicy(SetAgentPolicyRequest.newBuilder().setRequestId(requestId()).setAgentId(id).build()))) {
            assertEquals("AGENT_REVOKED", reason(fails(Status.Code.FAILED_PRECONDITION, call)));
        }
        ListApiKeysResponse keys = admin().listApiKeys(ListApiKeysRequest.newBuilder().setAgentId(id)
                .setShowInactive(true).build());
        assertTrue(keys.getApiKeysList().stream().allMatch(ApiKey::hasRevokeTime), keys.toString());
        assertEquals(0, admin().listApiKeys(ListApiKeysRequest.newBuilder().setAgentId(id).build()).getApiKeysCount());
        fails(Status.Code.NOT_FOUND, () -> admin().suspendAgent(SuspendAgentRequest.newBuilder()
                .setRequestId(requestId()).setAgentId("agt_unknown").build()));
    }

    @Test
    void listPagesThroughAgentsInHandleOrderWithFilters() {
        Team team = createTeam();
        List<String> handles = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            handles.add(admin().createAgent(agentRequest().setTeamId(team.getId()).build()).getAgent().getHandle());
        }
        String suspendedId = admin().getAgent(GetAgentRequest.newBuilder().setAgent(handles.get(2)).build())
                .getAgent().getId();
        admin().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(suspendedId).build());

        List<String> seen = new ArrayList<>();
        String token = "";
        int pages = 0;
        do {
            ListAgentsResponse page = admin().listAgents(ListAgentsRequest.newBuilder().setTeamId(team.getId())
                    .setPageSize(2).setPageToken(token).build());
            page.getAgentsList().forEach(a -> seen.add(a.getHandle()));
            token = page.getNextPageToken();
            pages++;
        } while (!token.isEmpty() && pages < 10);
        assertEquals(handles.stream().sorted().toList(), seen);
        assertEquals(3, pages);

        ListAgentsResponse suspended = admin().listAgents(ListAgentsRequest.newBuilder().setTeamId(team.getId())
                .setStatus(AgentStatus.AGENT_STATUS_SUSPENDED).build());
        assertEquals(List.of(handles.get(2)), suspended.getAgentsList().stream().map(Agent::getHandle).toList());

        assertEquals(List.of("page_size"), violatedFields(fails(Status.Code.INVALID_ARGUMENT,
                () -> admin().listAgents(ListAgentsRequest.newBuilder().setPageSize(501).build()))));
        assertEquals(List.of("page_token"), violatedFields(fails(Status.Code.INVALID_ARGUMENT,
                () -> admin().listAgents(ListAgentsRequest.newBuilder().setPageToken("garbage!").build()))));
    }

    @Test
    void agentInATeamMustShareItsCurrency() {
        Team team = createTeam();
        StatusRuntimeException e = fails(Status.Code.INVALID_ARGUMENT, () -> admin().createAgent(agentRequest()
                .setTeamId(team.getId()).setCurrencyCode("EUR").setPolicy(SpendingPolicy.getDefaultInstance()).build()));
        assertEquals(List.of("team_id"), violatedFields(e));
        fails(Status.Code.NOT_FOUND, () -> admin().createAgent(agentRequest().setTeamId("team_missing").build()));
    }

    private static Agent get(String id) {
        return admin().getAgent(GetAgentRequest.newBuilder().setAgent(id).build()).getAgent();
    }
}
