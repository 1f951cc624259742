package dev.agentspend.analytics.it;

import com.google.protobuf.util.Timestamps;
import dev.agentspend.analytics.support.AnalyticsTestResource;
import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.proto.analytics.v1.*;
import dev.agentspend.proto.identity.v1.AuthenticateRequest;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CreateApiKeyRequest;
import dev.agentspend.proto.identity.v1.CreateApiKeyResponse;
import dev.agentspend.proto.identity.v1.GetAgentRequest;
import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.RevokeApiKeyRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.ledger.v1.PayRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BiFunction;

import static dev.agentspend.analytics.support.Platform.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every RPC of {@code agentspend.analytics.v1.AnalyticsService} against every kind of credential,
 * over a real socket, with the expected status of each cell from the access rules of the proto and
 * the README: the admin token everything, the service token every read, agent keys nothing
 * (PERMISSION_DENIED, whatever the key's state: this service accepts no agent key, so it does not
 * look keys up), no credential UNAUTHENTICATED. Refused calls change nothing: analytics' schema
 * and the agent's policy in identity are compared before and after all of them.
 *
 * <p>ApplyCapAdvice with the admin token passes the access check and is then refused by its own
 * rule (FAILED_PRECONDITION: the agent has fewer than 7 days of history), which is what the cell
 * expects.
 */
@QuarkusTest
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class AuthorizationMatrixTest {
    enum Cred {
        NONE, OWN_KEY, OTHER_KEY, REVOKED_KEY, EXPIRED_KEY, FORGED_KEY, SERVICE, ADMIN
    }

    private static final Status.Code OK = Status.Code.OK;
    private static final Status.Code UNAUTH = Status.Code.UNAUTHENTICATED;
    private static final Status.Code DENIED = Status.Code.PERMISSION_DENIED;
    private static final Status.Code PRECONDITION = Status.Code.FAILED_PRECONDITION;

    record Subject(String agentId, String invoiceId) {
    }

    record Rpc(String name, Status.Code[] expected,
               BiFunction<AnalyticsServiceGrpc.AnalyticsServiceBlockingStub, Subject, Object> call) {
    }

    private static Rpc rpc(String name, BiFunction<AnalyticsServiceGrpc.AnalyticsServiceBlockingStub, Subject, Object> call,
                           Status.Code... expected) {
        assertEquals(Cred.values().length, expected.length, name);
        return new Rpc(name, expected, call);
    }

    private static String rid() {
        return "matrix-" + UUID.randomUUID();
    }

    /** A whole minute (windows must start and end on one), {@code hours} before the current one. */
    private static com.google.protobuf.Timestamp hoursAgo(int hours) {
        return ts(Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MINUTES).minus(Duration.ofHours(hours)));
    }

    private static final String CSV = "tool,period_start,period_end,amount\nllm/matrix,2026-01-01,2026-01-31,1.00\n";

    // @formatter:off
    private static final List<Rpc> MATRIX = List.of(
        //                                                                                   NONE    OWN     OTHER   REVOKED EXPIRED FORGED  SERVICE ADMIN
        rpc("GetCostPerTask", (s, x) -> s.getCostPerTask(GetCostPerTaskRequest.newBuilder().setAgentId(x.agentId()).build()),
                                                                                             UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("GetSpendVelocity", (s, x) -> s.getSpendVelocity(GetSpendVelocityRequest.newBuilder().setAgentId(x.agentId()).build()),
                                                                                             UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("GetToolAttribution", (s, x) -> s.getToolAttribution(GetToolAttributionRequest.newBuilder().setAgentId(x.agentId())
                .setStartTime(hoursAgo(24)).setEndTime(hoursAgo(-1)).build()),                UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("GetCapUtilization", (s, x) -> s.getCapUtilization(GetCapUtilizationRequest.newBuilder().setAgentId(x.agentId()).build()),
                                                                                             UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("GetRetryCost", (s, x) -> s.getRetryCost(GetRetryCostRequest.newBuilder().setAgentId(x.agentId())
                .setStartTime(hoursAgo(24)).setEndTime(hoursAgo(-1)).build()),                UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("GetOffHoursSpend", (s, x) -> s.getOffHoursSpend(GetOffHoursSpendRequest.newBuilder().setAgentId(x.agentId())
                .setStartTime(hoursAgo(24)).setEndTime(hoursAgo(-1)).build()),                UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("ListAgentFlows", (s, x) -> s.listAgentFlows(ListAgentFlowsRequest.newBuilder().setAgentId(x.agentId())
                .setStartTime(hoursAgo(24)).setEndTime(hoursAgo(-1)).build()),                UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("GetFleetOverview", (s, x) -> s.getFleetOverview(GetFleetOverviewRequest.newBuilder().setPageSize(5).build()),
                                                                                             UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("GetTimeSeries", (s, x) -> s.getTimeSeries(GetTimeSeriesRequest.newBuilder().setAgentId(x.agentId())
                .setMetric(SeriesMetric.SERIES_METRIC_SPEND).setStartTime(hoursAgo(2)).setEndTime(hoursAgo(0))
                .setStepSeconds(3600).build()),                                              UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("GetCapAdvice", (s, x) -> s.getCapAdvice(GetCapAdviceRequest.newBuilder().setAgentId(x.agentId()).build()),
                                                                                             UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("ApplyCapAdvice", (s, x) -> s.applyCapAdvice(ApplyCapAdviceRequest.newBuilder().setRequestId(rid())
                .setAgentId(x.agentId()).setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD).build()),
                                                                                             UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, DENIED, PRECONDITION),
        rpc("ImportInvoice", (s, x) -> s.importInvoice(ImportInvoiceRequest.newBuilder().setRequestId(rid()).setVendor("matrix")
                .setCurrencyCode("USD").setCsv(CSV).build()),                               UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, DENIED, OK),
        rpc("GetReconciliation", (s, x) -> s.getReconciliation(GetReconciliationRequest.newBuilder().setInvoiceId(x.invoiceId()).build()),
                                                                                             UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("GetIngestionStatus", (s, x) -> s.getIngestionStatus(GetIngestionStatusRequest.getDefaultInstance()),
                                                                                             UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK));
    // @formatter:on

    @Test
    void everyRpcAgainstEveryCredential() throws Exception {
        assertEquals(AnalyticsServiceGrpc.getServiceDescriptor().getMethods().size(), MATRIX.size(),
                "the matrix covers every RPC of the contract");
        IdentityServiceGrpc.IdentityServiceBlockingStub identity = identityAdmin();
        Agent a = createAgent("matrix-a", "", Map.of(), SpendingPolicy.getDefaultInstance(), WorkingHours.getDefaultInstance(), 1_000_000);
        Agent b = createAgent("matrix-b", "", Map.of(), SpendingPolicy.getDefaultInstance(), WorkingHours.getDefaultInstance(), 0);
        CreateApiKeyResponse expiring = identity.createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(rid())
                .setAgentId(a.id()).setDescription("expires in 2 s")
                .setExpireTime(Timestamps.fromMillis(System.currentTimeMillis() + 2_000)).build());
        CreateApiKeyResponse revoked = identity.createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(rid())
                .setAgentId(a.id()).setDescription("to revoke").build());
        identity.revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(rid())
                .setKeyId(revoked.getApiKey().getKeyId()).setReason("matrix").build());
        String forged = "as_" + ApiKeys.parse(a.key()).orElseThrow().keyId() + "_"
                + ApiKeys.parse(ApiKeys.generate().fullKey()).orElseThrow().secret();
        long last = ledgerAs(a).pay(PayRequest.newBuilder().setRequestId(rid()).setAmountMicros(1_000).setCurrencyCode("USD")
                .setTool("llm/matrix").setTaskId("task-1").build()).getEntry().getPosition();
        String invoice = analyticsAdmin().importInvoice(ImportInvoiceRequest.newBuilder().setRequestId(rid())
                .setVendor("matrix").setCurrencyCode("USD").setCsv(CSV).build()).getInvoiceId();
        awaitIngested(last);

        Map<Cred, String> token = new EnumMap<>(Cred.class);
        token.put(Cred.OWN_KEY, a.key());
        token.put(Cred.OTHER_KEY, b.key());
        token.put(Cred.REVOKED_KEY, revoked.getApiKeySecret());
        token.put(Cred.EXPIRED_KEY, expiring.getApiKeySecret());
        token.put(Cred.FORGED_KEY, forged);
        token.put(Cred.SERVICE, AnalyticsTestResource.SERVICE_TOKEN);
        token.put(Cred.ADMIN, AnalyticsTestResource.ADMIN_TOKEN);
        // the revoked, expired and forged keys really do not authenticate anywhere on the platform
        // the expired-key column needs a key past its expiry: wait until it is (a few hundred ms)
        Thread.sleep(Math.max(0, Timestamps.toMillis(expiring.getApiKey().getExpireTime()) - System.currentTimeMillis() + 50));
        IdentityServiceGrpc.IdentityServiceBlockingStub service = withToken(IdentityServiceGrpc.newBlockingStub(
                dev.agentspend.analytics.support.Platform.identity()), AnalyticsTestResource.SERVICE_TOKEN);
        for (Cred k : List.of(Cred.REVOKED_KEY, Cred.EXPIRED_KEY, Cred.FORGED_KEY)) {
            StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                    () -> service.authenticate(AuthenticateRequest.newBuilder().setApiKey(token.get(k)).build()));
            assertEquals(UNAUTH, e.getStatus().getCode(), k.name());
        }
        Subject subject = new Subject(a.id(), invoice);

        List<String> mismatches = new ArrayList<>();
        Map<String, Map<Cred, String>> observed = new LinkedHashMap<>();
        String before = analyticsSchemaFingerprint();
        long agentVersion = identity.getAgent(GetAgentRequest.newBuilder().setAgent(a.id()).build()).getAgent().getVersion();
        for (Rpc rpc : MATRIX) {
            for (Cred k : Cred.values()) {
                if (!allowedByAccess(rpc.expected()[k.ordinal()])) {
                    check(rpc, k, token.get(k), subject, mismatches, observed);
                }
            }
        }
        assertEquals(before, analyticsSchemaFingerprint(), "refused calls changed analytics' data");
        assertEquals(agentVersion, identity.getAgent(GetAgentRequest.newBuilder().setAgent(a.id()).build()).getAgent().getVersion(),
                "refused calls changed the agent's policy in identity");
        for (Rpc rpc : MATRIX) {
            for (Cred k : Cred.values()) {
                if (allowedByAccess(rpc.expected()[k.ordinal()])) {
                    check(rpc, k, token.get(k), subject, mismatches, observed);
                }
            }
        }
        print(observed);
        if (!mismatches.isEmpty()) {
            fail(mismatches.size() + " cells differ from the access rules:\n" + String.join("\n", mismatches));
        }
    }

    private static boolean allowedByAccess(Status.Code expected) {
        return expected != UNAUTH && expected != DENIED;
    }

    private static void check(Rpc rpc, Cred k, String token, Subject s, List<String> mismatches,
                              Map<String, Map<Cred, String>> observed) {
        Status.Code expected = rpc.expected()[k.ordinal()];
        Status.Code actual;
        try {
            rpc.call().apply(analyticsAs(token), s);
            actual = OK;
        } catch (StatusRuntimeException e) {
            actual = e.getStatus().getCode();
            if (token != null) {
                assertFalse(String.valueOf(e.getStatus().getDescription()).contains(token), "a refusal echoes the credential");
            }
        }
        observed.computeIfAbsent(rpc.name(), n -> new EnumMap<>(Cred.class)).put(k, actual.name());
        if (actual != expected) {
            mismatches.add(rpc.name() + " with " + k + ": expected " + expected + ", got " + actual);
        }
    }

    /** Row count and a digest of the rows of every table of analytics' schema but the feed consumers' positions. */
    private static String analyticsSchemaFingerprint() throws Exception {
        StringBuilder out = new StringBuilder();
        try (Connection c = DriverManager.getConnection(AnalyticsTestResource.analyticsJdbcUrl(), "postgres", "");
             Statement st = c.createStatement()) {
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("SELECT table_name FROM information_schema.tables"
                    + " WHERE table_schema = 'analytics' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'flyway%'"
                    // the feed consumers' own bookkeeping (positions, versions) moves with identity's heartbeats
                    + " AND table_name <> 'feed_state'"
                    + " ORDER BY table_name")) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
            assertFalse(tables.isEmpty(), "analytics' schema has tables");
            for (String table : tables) {
                try (ResultSet rs = st.executeQuery("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                        + " FROM analytics.\"" + table + "\" t")) {
                    rs.next();
                    out.append(table).append(' ').append(rs.getLong(1)).append(' ').append(rs.getString(2)).append('\n');
                }
            }
        }
        return out.toString();
    }

    private static void print(Map<String, Map<Cred, String>> observed) {
        StringBuilder table = new StringBuilder(String.format("%-19s", "analytics"));
        for (Cred c : Cred.values()) {
            table.append(String.format(" %-19s", c));
        }
        observed.forEach((rpc, row) -> {
            table.append(String.format("%n%-19s", rpc));
            for (Cred c : Cred.values()) {
                table.append(String.format(" %-19s", row.get(c)));
            }
        });
        System.out.println(table);
    }
}
