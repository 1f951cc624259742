package dev.agentspend.identity.grpc;

import com.google.protobuf.util.Timestamps;
import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.identity.support.Database;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.proto.identity.v1.*;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

import static dev.agentspend.identity.support.Fixtures.*;
import static dev.agentspend.identity.support.Grpc.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every RPC of {@code agentspend.identity.v1.IdentityService} against every kind of credential,
 * over a real socket, with the expected status of each cell taken from the access rules in the
 * proto and the README: the admin token everything; the service token Authenticate,
 * WatchPolicies and SuspendAgent; agent keys nothing (PERMISSION_DENIED for a valid key);
 * no credential or one that does not authenticate (revoked, expired, wrong secret)
 * UNAUTHENTICATED. Refused calls must change nothing: the identity schema is compared before and
 * after all of them.
 */
@QuarkusTest
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
class AuthorizationMatrixTest {
    /** The credentials of the matrix, in column order. */
    enum Cred {
        NONE, OWN_KEY, OTHER_KEY, REVOKED_KEY, EXPIRED_KEY, FORGED_KEY, SERVICE, ADMIN
    }

    private static final Status.Code OK = Status.Code.OK;
    private static final Status.Code UNAUTH = Status.Code.UNAUTHENTICATED;
    private static final Status.Code DENIED = Status.Code.PERMISSION_DENIED;

    /** What a call acts on. The refused cells act on agent A, whose keys are the credentials. */
    record Subject(String agentId, String teamId, String keyId, String agentKey) {
    }

    record Rpc(String name, boolean writes, Status.Code[] expected,
               BiFunction<IdentityServiceGrpc.IdentityServiceBlockingStub, Subject, Object> call) {
    }

    private static Rpc rpc(String name, boolean writes, BiFunction<IdentityServiceGrpc.IdentityServiceBlockingStub, Subject, Object> call,
                           Status.Code... expected) {
        assertEquals(Cred.values().length, expected.length, name);
        return new Rpc(name, writes, expected, call);
    }

    // @formatter:off
    private static final List<Rpc> MATRIX = List.of(
        //                                                                                          NONE    OWN     OTHER   REVOKED EXPIRED FORGED  SERVICE ADMIN
        rpc("CreateAgent", true, (s, x) -> s.createAgent(agentRequest().build()),                   UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("GetAgent", false, (s, x) -> s.getAgent(GetAgentRequest.newBuilder().setAgent(x.agentId()).build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("ListAgents", false, (s, x) -> s.listAgents(ListAgentsRequest.newBuilder().setTeamId(x.teamId()).build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("UpdateAgent", true, (s, x) -> s.updateAgent(UpdateAgentRequest.newBuilder().setRequestId(requestId())
                .setAgentId(x.agentId()).addUpdateMask("display_name").setDisplayName("renamed").build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("SuspendAgent", true, (s, x) -> s.suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(requestId())
                .setAgentId(x.agentId()).setReason("matrix").build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, OK,     OK),
        rpc("ReinstateAgent", true, (s, x) -> s.reinstateAgent(ReinstateAgentRequest.newBuilder().setRequestId(requestId())
                .setAgentId(x.agentId()).setReason("matrix").build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("RevokeAgent", true, (s, x) -> s.revokeAgent(RevokeAgentRequest.newBuilder().setRequestId(requestId())
                .setAgentId(x.agentId()).setReason("matrix").build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("SetAgentPolicy", true, (s, x) -> s.setAgentPolicy(SetAgentPolicyRequest.newBuilder().setRequestId(requestId())
                .setAgentId(x.agentId()).setPolicy(SpendingPolicy.newBuilder().addCaps(cap(CapWindow.CAP_WINDOW_DAY, 1))).build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("CreateTeam", true, (s, x) -> s.createTeam(CreateTeamRequest.newBuilder().setRequestId(requestId())
                .setName(unique("team")).setDisplayName("matrix").setCurrencyCode("USD").build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("GetTeam", false, (s, x) -> s.getTeam(GetTeamRequest.newBuilder().setTeam(x.teamId()).build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("ListTeams", false, (s, x) -> s.listTeams(ListTeamsRequest.getDefaultInstance()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("SetTeamPolicy", true, (s, x) -> s.setTeamPolicy(SetTeamPolicyRequest.newBuilder().setRequestId(requestId())
                .setTeamId(x.teamId()).addCaps(cap(CapWindow.CAP_WINDOW_DAY, 1)).build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("CreateApiKey", true, (s, x) -> s.createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(requestId())
                .setAgentId(x.agentId()).setDescription("matrix").build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("ListApiKeys", false, (s, x) -> s.listApiKeys(ListApiKeysRequest.newBuilder().setAgentId(x.agentId()).build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("RevokeApiKey", true, (s, x) -> s.revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(requestId())
                .setKeyId(x.keyId()).setReason("matrix").build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("Authenticate", false, (s, x) -> s.authenticate(AuthenticateRequest.newBuilder().setApiKey(x.agentKey()).build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, OK,     OK),
        rpc("ListAuditEvents", false, (s, x) -> s.listAuditEvents(ListAuditEventsRequest.newBuilder().setSubjectId(x.agentId()).build()),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("WatchPolicies", false, (s, x) -> firstEvent(s),
                                                                                                    UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, OK,     OK));
    // @formatter:on

    @Test
    void everyRpcAgainstEveryCredential() throws Exception {
        assertEquals(18, MATRIX.size(), "one row per RPC of the contract");
        assertEquals(IdentityServiceGrpc.getServiceDescriptor().getMethods().size(), MATRIX.size(),
                "the matrix covers every RPC of the contract");

        // Agent A and its keys: its own, a revoked one, one about to expire, one with a forged secret.
        Team teamA = createTeam();
        CreateAgentResponse a = admin().createAgent(agentRequest().setTeamId(teamA.getId()).build());
        String aId = a.getAgent().getId();
        CreateApiKeyResponse expiring = admin().createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(requestId())
                .setAgentId(aId).setDescription("expires in 2 s")
                .setExpireTime(Timestamps.fromMillis(System.currentTimeMillis() + 2_000)).build());
        CreateApiKeyResponse revoked = admin().createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(requestId())
                .setAgentId(aId).setDescription("to revoke").build());
        admin().revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(requestId())
                .setKeyId(revoked.getApiKey().getKeyId()).setReason("matrix").build());
        CreateApiKeyResponse spare = admin().createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(requestId())
                .setAgentId(aId).setDescription("target of RevokeApiKey").build());
        String forged = "as_" + a.getApiKey().getKeyId() + "_"
                + ApiKeys.parse(ApiKeys.generate().fullKey()).orElseThrow().secret();
        CreateAgentResponse b = createAgent();

        Map<Cred, String> token = new EnumMap<>(Cred.class);
        token.put(Cred.OWN_KEY, a.getApiKeySecret());
        token.put(Cred.OTHER_KEY, b.getApiKeySecret());
        token.put(Cred.REVOKED_KEY, revoked.getApiKeySecret());
        token.put(Cred.EXPIRED_KEY, expiring.getApiKeySecret());
        token.put(Cred.FORGED_KEY, forged);
        token.put(Cred.SERVICE, SERVICE_TOKEN);
        token.put(Cred.ADMIN, ADMIN_TOKEN);
        // the keys the matrix relies on really are what they claim, before and after expiry
        service().authenticate(AuthenticateRequest.newBuilder().setApiKey(expiring.getApiKeySecret()).build());
        awaitExpiry(expiring.getApiKey().getExpireTime());
        for (Cred c : List.of(Cred.REVOKED_KEY, Cred.EXPIRED_KEY, Cred.FORGED_KEY)) {
            fails(UNAUTH, () -> service().authenticate(AuthenticateRequest.newBuilder().setApiKey(token.get(c)).build()));
        }
        Subject subjectA = new Subject(aId, teamA.getId(), spare.getApiKey().getKeyId(), a.getApiKeySecret());

        List<String> mismatches = new ArrayList<>();
        Map<String, Map<Cred, String>> observed = new LinkedHashMap<>();

        // 1. Every refused cell, against agent A: the schema must be the same afterwards.
        String before = identitySchemaFingerprint();
        for (Rpc rpc : MATRIX) {
            for (Cred c : Cred.values()) {
                if (rpc.expected()[c.ordinal()] != OK) {
                    check(rpc, c, token.get(c), subjectA, mismatches, observed);
                }
            }
        }
        assertEquals(before, identitySchemaFingerprint(), "refused calls changed the identity schema");

        // 2. Every allowed cell, each writing call on a subject of its own (suspended for ReinstateAgent).
        for (Rpc rpc : MATRIX) {
            for (Cred c : Cred.values()) {
                if (rpc.expected()[c.ordinal()] == OK) {
                    Subject s = rpc.writes() ? freshSubject(rpc.name().equals("ReinstateAgent")) : subjectA;
                    check(rpc, c, token.get(c), s, mismatches, observed);
                }
            }
        }
        print(observed);
        if (!mismatches.isEmpty()) {
            fail(mismatches.size() + " cells differ from the access rules:\n" + String.join("\n", mismatches));
        }
    }

    private static void check(Rpc rpc, Cred c, String token, Subject s, List<String> mismatches,
                              Map<String, Map<Cred, String>> observed) {
        Status.Code expected = rpc.expected()[c.ordinal()];
        Status.Code actual;
        try {
            rpc.call().apply(as(token), s);
            actual = OK;
        } catch (StatusRuntimeException e) {
            actual = e.getStatus().getCode();
            if (token != null && e.getStatus().getDescription() != null) {
                assertTrue(!e.getStatus().getDescription().contains(token), "a refusal echoes the credential");
            }
        }
        observed.computeIfAbsent(rpc.name(), k -> new EnumMap<>(Cred.class)).put(c, actual.name());
        if (actual != expected) {
            mismatches.add(rpc.name() + " with " + c + ": expected " + expected + ", got " + actual);
        }
    }

    /** Opens the stream, waits for its first event (or its refusal), and cancels it. */
    private static Object firstEvent(IdentityServiceGrpc.IdentityServiceBlockingStub stub) {
        Context.CancellableContext context = Context.current().withCancellation();
        Context previous = context.attach();
        try {
            Iterator<WatchPoliciesResponse> events = stub.watchPolicies(WatchPoliciesRequest.getDefaultInstance());
            return events.next();
        } finally {
            context.detach(previous);
            context.cancel(null);
        }
    }

    private static Subject freshSubject(boolean suspended) {
        Team team = createTeam();
        CreateAgentResponse created = admin().createAgent(agentRequest().setTeamId(team.getId()).build());
        String id = created.getAgent().getId();
        CreateApiKeyResponse key = admin().createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(requestId())
                .setAgentId(id).setDescription("spare").build());
        if (suspended) {
            admin().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(id).build());
        }
        return new Subject(id, team.getId(), key.getApiKey().getKeyId(), created.getApiKeySecret());
    }

    private static void awaitExpiry(com.google.protobuf.Timestamp expireTime) throws InterruptedException {
        long wait = Timestamps.toMillis(expireTime) - System.currentTimeMillis() + 50;
        if (wait > 0) {
            // expiry is judged on the service's clock: nothing to poll, only time to let pass
            Thread.sleep(wait);
        }
    }

    /** Row counts of every table and the text of every row that an access decision could touch. */
    private static String identitySchemaFingerprint() throws Exception {
        StringBuilder out = new StringBuilder();
        try (Connection c = Database.connect(); Statement st = c.createStatement()) {
            for (String table : List.of("agents", "teams", "api_keys", "audit_events", "idempotency_records", "policy_changes")) {
                try (ResultSet rs = st.executeQuery("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                        + " FROM identity." + table + " t")) {
                    rs.next();
                    out.append(table).append(' ').append(rs.getLong(1)).append(' ').append(rs.getString(2)).append('\n');
                }
            }
        }
        return out.toString();
    }

    private static void print(Map<String, Map<Cred, String>> observed) {
        StringBuilder table = new StringBuilder(String.format("%-16s", "identity"));
        for (Cred c : Cred.values()) {
            table.append(String.format(" %-17s", c));
        }
        observed.forEach((rpc, row) -> {
            table.append(String.format("%n%-16s", rpc));
            for (Cred c : Cred.values()) {
                table.append(String.format(" %-17s", row.get(c)));
            }
        });
        System.out.println(table);
    }
}
