package dev.agentspend.alerts.it;

import dev.agentspend.alerts.support.Clients;
import dev.agentspend.alerts.support.Clients.TestAgent;
import dev.agentspend.alerts.support.Platform;
import dev.agentspend.alerts.support.PlatformTest;
import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.proto.alerts.v1.*;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.*;

/** Credentials, acknowledgement, rule configuration and the alerts page. */
@QuarkusTest
@WithTestResource(value = Platform.class, scope = TestResourceScope.MATCHING_RESOURCES)
class AccessTest extends PlatformTest {

    private static Status.Code code(Executable call) {
        return assertThrows(StatusRuntimeException.class, call).getStatus().getCode();
    }

    @Test
    void credentialsDecideWhatACallerMayDo() {
        TestAgent agent = clients.agent();
        ListAlertsRequest list = ListAlertsRequest.getDefaultInstance();
        assertEquals(Status.Code.UNAUTHENTICATED, code(() -> clients.alerts(null).listAlerts(list)));
        assertEquals(Status.Code.UNAUTHENTICATED, code(() -> clients.alerts("not-a-token").listAlerts(list)));
        assertEquals(Status.Code.PERMISSION_DENIED, code(() -> clients.alerts(agent.key()).listAlerts(list)));
        clients.alerts(Platform.SERVICE).listAlerts(list);
        clients.alerts(Platform.ADMIN).listAlerts(list);
        AcknowledgeAlertRequest ack = AcknowledgeAlertRequest.newBuilder().setRequestId("r1").setAlertId("alt_x").build();
        assertEquals(Status.Code.PERMISSION_DENIED, code(() -> clients.alerts(Platform.SERVICE).acknowledgeAlert(ack)));
        StatusRuntimeException denied = assertThrows(StatusRuntimeException.class, () -> clients.alerts(Platform.SERVICE)
                .setRuleConfig(SetRuleConfigRequest.getDefaultInstance()));
        assertEquals("PERMISSION_DENIED", GrpcErrors.reasonOf(denied));
        assertEquals(Status.Code.PERMISSION_DENIED, code(() -> clients.alerts(Platform.SERVICE)
                .createWebhook(CreateWebhookRequest.getDefaultInstance())));
        assertEquals(Status.Code.NOT_FOUND, code(() -> clients.admin().acknowledgeAlert(ack)));
    }

    @Test
    void acknowledgingKeepsTheAlertOpenUntilItResolves() {
        TestAgent a = clients.agent(null, Clients.dailyCap(1_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
        clients.pay(a, 900_000, "t");
        for (int i = 0; i < 5; i++) {
            clients.pay(a, 500_000, "t");
        }
        Alert alert = clients.awaitAlert(a.id(), Rule.RULE_DECLINE_BURST);
        Alert acked = clients.admin().acknowledgeAlert(AcknowledgeAlertRequest.newBuilder().setRequestId(Clients.rid())
                .setAlertId(alert.getAlertId()).setNote("looking").build()).getAlert();
        assertEquals(AlertState.ALERT_STATE_ACKNOWLEDGED, acked.getState());
        assertTrue(acked.hasAcknowledgeTime());
        // acknowledging again is harmless
        assertEquals(AlertState.ALERT_STATE_ACKNOWLEDGED, clients.admin().acknowledgeAlert(AcknowledgeAlertRequest.newBuilder()
                .setRequestId(Clients.rid()).setAlertId(alert.getAlertId()).build()).getAlert().getState());
        assertEquals(alert, clients.alerts(Platform.SERVICE).getAlert(GetAlertRequest.newBuilder().setAlertId(alert.getAlertId())
                .build()).getAlert().toBuilder().setState(AlertState.ALERT_STATE_FIRING).clearAcknowledgeTime()
                .setAcknowledgeNote("").setLastSeenTime(alert.getLastSeenTime()).setEvidence(alert.getEvidence()).build());
    }

    @Test
    void ruleConfigurationIsValidatedStoredAndMerged() {
        TestAgent a = clients.agent();
        StatusRuntimeException bad = assertThrows(StatusRuntimeException.class, () -> clients.admin().setRuleConfig(
                SetRuleConfigRequest.newBuilder().setRequestId(Clients.rid()).setConfig(RuleConfig.newBuilder()
                        .setScope(ConfigScope.CONFIG_SCOPE_AGENT).setScopeId(a.id()).setRule(Rule.RULE_RETRY_RATE)
                        .putParameters("no_such_parameter", 1).putParameters("window_seconds", 0)).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, bad.getStatus().getCode());
        assertTrue(bad.getStatus().getDescription().startsWith("2 invalid fields"));

        String team = "team_" + Clients.rid().replace('-', 'x');
        clients.admin().setRuleConfig(SetRuleConfigRequest.newBuilder().setRequestId(Clients.rid()).setConfig(RuleConfig.newBuilder()
                .setScope(ConfigScope.CONFIG_SCOPE_TEAM).setScopeId(team).setRule(Rule.RULE_RETRY_RATE)
                .setSeverity(Severity.SEVERITY_CRITICAL).putParameters("rate_permille", 100)).build());
        clients.admin().setRuleConfig(SetRuleConfigRequest.newBuilder().setRequestId(Clients.rid()).setConfig(RuleConfig.newBuilder()
                .setScope(ConfigScope.CONFIG_SCOPE_AGENT).setScopeId(a.id()).setRule(Rule.RULE_RETRY_RATE)
                .setAction(RuleAction.RULE_ACTION_SUSPEND).putParameters("min_payments", 7)).build());
        RuleConfig effective = clients.alerts(Platform.SERVICE).getEffectiveRuleConfig(GetEffectiveRuleConfigRequest.newBuilder()
                .setAgentId(a.id()).setTeamId(team).setRule(Rule.RULE_RETRY_RATE).build()).getConfig();
        assertEquals(100, effective.getParametersOrThrow("rate_permille"));
        assertEquals(7, effective.getParametersOrThrow("min_payments"));
        assertEquals(3600, effective.getParametersOrThrow("window_seconds"));
        assertEquals(Severity.SEVERITY_CRITICAL, effective.getSeverity());
        assertEquals(RuleAction.RULE_ACTION_SUSPEND, effective.getAction());
        assertTrue(effective.getEnabled());

        ListRuleConfigsResponse listed = clients.admin().listRuleConfigs(ListRuleConfigsRequest.newBuilder()
                .setScope(ConfigScope.CONFIG_SCOPE_TEAM).setScopeId(team).build());
        assertEquals(1, listed.getConfigsCount());
        assertTrue(clients.admin().deleteRuleConfig(DeleteRuleConfigRequest.newBuilder().setRequestId(Clients.rid())
                .setScope(ConfigScope.CONFIG_SCOPE_TEAM).setScopeId(team).setRule(Rule.RULE_RETRY_RATE).build()).getDeleted());
        assertEquals(150, clients.admin().getEffectiveRuleConfig(GetEffectiveRuleConfigRequest.newBuilder()
                .setAgentId(a.id()).setTeamId(team).setRule(Rule.RULE_RETRY_RATE).build()).getConfig()
                .getParametersOrThrow("rate_permille"));
    }

    @Test
    void thePageIsStaticAndTheApiBehindItNeedsAToken() {
        given().get("/").then().statusCode(200).body(containsString("AgentSpend alerts"))
                .body(not(containsString(Platform.ADMIN))).body(not(containsString(Platform.SERVICE)));
        given().get("/alerts.js").then().statusCode(200).body(containsString("sessionStorage"));
        given().get("/api/alerts").then().statusCode(401);
        TestAgent a = clients.agent(null, Clients.dailyCap(1_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
        clients.pay(a, 900_000, "t");
        for (int i = 0; i < 5; i++) {
            clients.pay(a, 500_000, "t");
        }
        Alert alert = clients.awaitAlert(a.id(), Rule.RULE_DECLINE_BURST);
        given().header("Authorization", "Bearer " + Platform.SERVICE).queryParam("agent", a.id()).get("/api/alerts")
                .then().statusCode(200).body(containsString(alert.getAlertId()));
        given().header("Authorization", "Bearer " + Platform.SERVICE).post("/api/alerts/" + alert.getAlertId() + "/acknowledge")
                .then().statusCode(403);
        given().header("Authorization", "Bearer " + Platform.ADMIN).post("/api/alerts/" + alert.getAlertId() + "/acknowledge")
                .then().statusCode(200).body(containsString("ALERT_STATE_ACKNOWLEDGED"));
    }
}
