package dev.agentspend.alerts.it;

import com.google.protobuf.util.Timestamps;
import dev.agentspend.alerts.support.ApiWrites;
import dev.agentspend.alerts.support.Clients;
import dev.agentspend.alerts.support.Clients.TestAgent;
import dev.agentspend.alerts.support.Platform;
import dev.agentspend.alerts.support.PlatformTest;
import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.proto.alerts.v1.*;
import dev.agentspend.proto.identity.v1.AuthenticateRequest;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CreateApiKeyRequest;
import dev.agentspend.proto.identity.v1.CreateApiKeyResponse;
import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.RevokeApiKeyRequest;
import dev.agentspend.proto.ledger.v1.Entry;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every RPC of {@code agentspend.alerts.v1.AlertService} against every kind of credential, over a
 * real socket, with the expected status of each cell from the access rules of the proto and the
 * README: the admin token everything; the service token WatchAlerts, ListAlerts, GetAlert,
 * ListRuleConfigs and GetEffectiveRuleConfig; agent keys nothing (PERMISSION_DENIED, whatever the
 * key's state: this service accepts no agent key, so it does not look keys up); no credential
 * UNAUTHENTICATED. Refused calls change nothing: the tables the API writes (alerts, their events,
 * rule configurations, webhooks and their deliveries, suspensions) are compared before and after.
 */
@QuarkusTest
@WithTestResource(value = Platform.class, scope = TestResourceScope.MATCHING_RESOURCES)
class AuthorizationMatrixTest extends PlatformTest {
    enum Cred {
        NONE, OWN_KEY, OTHER_KEY, REVOKED_KEY, EXPIRED_KEY, FORGED_KEY, SERVICE, ADMIN
    }

    private static final Status.Code OK = Status.Code.OK;
    private static final Status.Code UNAUTH = Status.Code.UNAUTHENTICATED;
    private static final Status.Code DENIED = Status.Code.PERMISSION_DENIED;

    /** What a call names: agent A, an alert about A, a webhook. */
    record Subject(String agentId, String alertId, String webhookId) {
    }

    record Rpc(String name, Status.Code[] expected, BiFunction<AlertServiceGrpc.AlertServiceBlockingStub, Subject, Object> call) {
    }

    private static Rpc rpc(String name, BiFunction<AlertServiceGrpc.AlertServiceBlockingStub, Subject, Object> call,
                           Status.Code... expected) {
        assertEquals(Cred.values().length, expected.length, name);
        return new Rpc(name, expected, call);
    }

    private static RuleConfig agentConfig(String agentId) {
        return RuleConfig.newBuilder().setScope(ConfigScope.CONFIG_SCOPE_AGENT).setScopeId(agentId)
                .setRule(Rule.RULE_RETRY_RATE).putParameters("min_payments", 50).build();
    }

    // @formatter:off
    private static final List<Rpc> MATRIX = List.of(
        //                                                                                     NONE    OWN     OTHER   REVOKED EXPIRED FORGED  SERVICE ADMIN
        rpc("WatchAlerts", (s, x) -> firstEvent(s, x.agentId()),                               UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("ListAlerts", (s, x) -> s.listAlerts(ListAlertsRequest.newBuilder().setAgentId(x.agentId()).build()),
                                                                                               UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("GetAlert", (s, x) -> s.getAlert(GetAlertRequest.newBuilder().setAlertId(x.alertId()).build()),
                                                                                               UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("AcknowledgeAlert", (s, x) -> s.acknowledgeAlert(AcknowledgeAlertRequest.newBuilder().setRequestId(Clients.rid())
                .setAlertId(x.alertId()).setNote("matrix").build()),                           UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, DENIED, OK),
        rpc("SetRuleConfig", (s, x) -> s.setRuleConfig(SetRuleConfigRequest.newBuilder().setRequestId(Clients.rid())
                .setConfig(agentConfig(x.agentId())).build()),                                 UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, DENIED, OK),
        rpc("DeleteRuleConfig", (s, x) -> s.deleteRuleConfig(DeleteRuleConfigRequest.newBuilder().setRequestId(Clients.rid())
                .setScope(ConfigScope.CONFIG_SCOPE_AGENT).setScopeId(x.agentId()).setRule(Rule.RULE_RETRY_RATE).build()),
                                                                                               UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, DENIED, OK),
        rpc("ListRuleConfigs", (s, x) -> s.listRuleConfigs(ListRuleConfigsRequest.newBuilder()
                .setScope(ConfigScope.CONFIG_SCOPE_AGENT).setScopeId(x.agentId()).build()),    UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("GetEffectiveRuleConfig", (s, x) -> s.getEffectiveRuleConfig(GetEffectiveRuleConfigRequest.newBuilder()
                .setAgentId(x.agentId()).setRule(Rule.RULE_RETRY_RATE).build()),               UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, OK,     OK),
        rpc("CreateWebhook", (s, x) -> s.createWebhook(CreateWebhookRequest.newBuilder().setRequestId(Clients.rid())
                .setUrl("http://127.0.0.1:9/matrix").setFormat(WebhookFormat.WEBHOOK_FORMAT_GENERIC).build()),
                                                                                               UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, DENIED, OK),
        rpc("ListWebhooks", (s, x) -> s.listWebhooks(ListWebhooksRequest.getDefaultInstance()),
                                                                                               UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, DENIED, OK),
        rpc("DeleteWebhook", (s, x) -> s.deleteWebhook(DeleteWebhookRequest.newBuilder().setRequestId(Clients.rid())
                .setWebhookId(x.webhookId()).build()),                                         UNAUTH, DENIED, DENIED, DENIED, DENIED, DENIED, DENIED, OK));
    // @formatter:on

    @Test
    void everyRpcAgainstEveryCredential() throws Exception {
        assertEquals(AlertServiceGrpc.getServiceDescriptor().getMethods().size(), MATRIX.size(),
                "the matrix covers every RPC of the contract");
        // agent A with a DECLINE_BURST alert (five declines over its daily cap), agent B
        TestAgent a = clients.agent(null, Clients.dailyCap(1_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
        TestAgent b = clients.agent();
        clients.pay(a, 900_000, "t/matrix");
        Entry last = null;
        for (int i = 0; i < 5; i++) {
            last = clients.pay(a, 500_000, "t/matrix");
        }
        Alert alert = clients.awaitAlert(a.id(), Rule.RULE_DECLINE_BURST);
        awaitEvaluated(last);

        IdentityServiceGrpc.IdentityServiceBlockingStub identity = clients.identity();
        CreateApiKeyResponse expiring = identity.createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(Clients.rid())
                .setAgentId(a.id()).setDescription("expires in 2 s")
                .setExpireTime(Timestamps.fromMillis(System.currentTimeMillis() + 2_000)).build());
        CreateApiKeyResponse revoked = identity.createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(Clients.rid())
                .setAgentId(a.id()).setDescription("to revoke").build());
        identity.revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(Clients.rid())
                .setKeyId(revoked.getApiKey().getKeyId()).setReason("matrix").build());
        String forged = "as_" + ApiKeys.parse(a.key()).orElseThrow().keyId() + "_"
                + ApiKeys.parse(ApiKeys.generate().fullKey()).orElseThrow().secret();

        Map<Cred, String> token = new EnumMap<>(Cred.class);
        token.put(Cred.OWN_KEY, a.key());
        token.put(Cred.OTHER_KEY, b.key());
        token.put(Cred.REVOKED_KEY, revoked.getApiKeySecret());
        token.put(Cred.EXPIRED_KEY, expiring.getApiKeySecret());
        token.put(Cred.FORGED_KEY, forged);
        token.put(Cred.SERVICE, Platform.SERVICE);
        token.put(Cred.ADMIN, Platform.ADMIN);
        // the expired-key column needs a key past its expiry: wait until it is (a few hundred ms)
        Thread.sleep(Math.max(0, Timestamps.toMillis(expiring.getApiKey().getExpireTime()) - System.currentTimeMillis() + 50));
        IdentityServiceGrpc.IdentityServiceBlockingStub service = Clients.as(IdentityServiceGrpc.newBlockingStub(clients.identityChannel),
                Platform.SERVICE);
        for (Cred k : List.of(Cred.REVOKED_KEY, Cred.EXPIRED_KEY, Cred.FORGED_KEY)) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> service.authenticate(AuthenticateRequest.newBuilder().setApiKey(token.get(k)).build()));
            assertEquals(UNAUTH, e.getStatus().getCode(), k + " does not authenticate at identity");
        }

        List<String> mismatches = new ArrayList<>();
        Map<String, Map<Cred, String>> observed = new LinkedHashMap<>();
        // refused cells first; no webhook exists yet, so DeleteWebhook names one that could exist
        Subject refusedSubject = new Subject(a.id(), alert.getAlertId(), "whk_aaaaaaaaaaaaaaaaaaaaaaaaaa");
        String before = ApiWrites.fingerprint();
        for (Rpc rpc : MATRIX) {
            for (Cred k : Cred.values()) {
                if (rpc.expected()[k.ordinal()] != OK) {
                    check(rpc, k, token.get(k), refusedSubject, mismatches, observed);
                }
            }
        }
        assertEquals(before, ApiWrites.fingerprint(), "refused calls changed the alert service's data");

        for (Rpc rpc : MATRIX) {
            for (Cred k : Cred.values()) {
                if (rpc.expected()[k.ordinal()] == OK) {
                    String webhook = clients.admin().createWebhook(CreateWebhookRequest.newBuilder().setRequestId(Clients.rid())
                            .setUrl("http://127.0.0.1:9/matrix").setFormat(WebhookFormat.WEBHOOK_FORMAT_GENERIC).build())
                            .getWebhook().getWebhookId();
                    check(rpc, k, token.get(k), new Subject(a.id(), alert.getAlertId(), webhook), mismatches, observed);
                    clients.admin().deleteWebhook(DeleteWebhookRequest.newBuilder().setRequestId(Clients.rid())
                            .setWebhookId(webhook).build());
                }
            }
        }
        print(observed);
        if (!mismatches.isEmpty()) {
            fail(mismatches.size() + " cells differ from the access rules:\n" + String.join("\n", mismatches));
        }
    }

    private static void check(Rpc rpc, Cred k, String token, Subject s, List<String> mismatches,
                              Map<String, Map<Cred, String>> observed) {
        Status.Code expected = rpc.expected()[k.ordinal()];
        Status.Code actual;
        try {
            rpc.call().apply(clients.alerts(token), s);
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

    private static Object firstEvent(AlertServiceGrpc.AlertServiceBlockingStub stub, String agentId) {
        Context.CancellableContext context = Context.current().withCancellation();
        Context previous = context.attach();
        try {
            return stub.watchAlerts(WatchAlertsRequest.newBuilder().setAgentId(agentId).build()).next();
        } finally {
            context.detach(previous);
            context.cancel(null);
        }
    }

    private static void print(Map<String, Map<Cred, String>> observed) {
        StringBuilder table = new StringBuilder(String.format("%-23s", "alerts"));
        for (Cred c : Cred.values()) {
            table.append(String.format(" %-17s", c));
        }
        observed.forEach((rpc, row) -> {
            table.append(String.format("%n%-23s", rpc));
            for (Cred c : Cred.values()) {
                table.append(String.format(" %-17s", row.get(c)));
            }
        });
        System.out.println(table);
    }
}
