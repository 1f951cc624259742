package dev.agentspend.alerts.it;

import dev.agentspend.alerts.support.Await;
import dev.agentspend.alerts.support.Clients;
import dev.agentspend.alerts.support.Clients.TestAgent;
import dev.agentspend.alerts.support.Platform;
import dev.agentspend.alerts.support.PlatformTest;
import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.AlertEvent;
import dev.agentspend.proto.alerts.v1.AlertEventType;
import dev.agentspend.proto.alerts.v1.AlertServiceGrpc;
import dev.agentspend.proto.alerts.v1.Rule;
import dev.agentspend.proto.alerts.v1.RuleAction;
import dev.agentspend.proto.alerts.v1.WatchAlertsRequest;
import dev.agentspend.proto.identity.v1.AgentStatus;
import dev.agentspend.proto.identity.v1.AuditEvent;
import dev.agentspend.proto.identity.v1.GetAgentRequest;
import dev.agentspend.proto.identity.v1.ListAuditEventsRequest;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The revocation path, end to end: a single-tool spike (SUSPEND by default) fires, the alert
 * service suspends the agent through identity with the alert id in the audited reason, and the
 * ledger declines the agent's next payment.
 */
@QuarkusTest
@WithTestResource(value = Platform.class, scope = TestResourceScope.MATCHING_RESOURCES)
class SuspensionTest extends PlatformTest {

    @Test
    void aSpikeSuspendsTheAgentAndTheLedgerDeclinesItsNextPayment() {
        TestAgent a = clients.agent();
        clients.configure(a, Rule.RULE_TOOL_SPEND_SPIKE, Map.of("window_seconds", 3L, "baseline_window_seconds", 60L));
        for (int i = 0; i < 3; i++) {
            clients.pay(a, 50_000, "premium/endpoint");
        }
        Instant baselineDone = Instant.now().plusSeconds(4);
        Await.until(Duration.ofSeconds(10), "the baseline to age out of the window",
                () -> Instant.now().isAfter(baselineDone) ? Optional.of(true) : Optional.empty());
        for (int i = 0; i < 5; i++) {
            clients.pay(a, 400_000, "premium/endpoint");
        }
        Alert alert = clients.awaitAlert(a.id(), Rule.RULE_TOOL_SPEND_SPIKE);
        assertEquals(RuleAction.RULE_ACTION_SUSPEND, alert.getAction());

        Await.until(Duration.ofSeconds(20), "identity to suspend " + a.id(), () ->
                clients.identity().getAgent(GetAgentRequest.newBuilder().setAgent(a.id()).build()).getAgent().getStatus()
                        == AgentStatus.AGENT_STATUS_SUSPENDED ? Optional.of(true) : Optional.empty());
        AuditEvent audit = clients.identity().listAuditEvents(ListAuditEventsRequest.newBuilder().setSubjectId(a.id()).build())
                .getAuditEventsList().stream().filter(e -> e.getAction().contains("suspend")).findFirst().orElseThrow();
        assertTrue(audit.getReason().contains(alert.getAlertId()), "audited with the alert id: " + audit.getReason());

        Entry declined = Await.until(Duration.ofSeconds(20), "the ledger to decline the suspended agent", () -> {
            try {
                Entry e = clients.pay(a, 10_000, "premium/endpoint");
                return e.getDecision() == Decision.DECISION_DECLINED ? Optional.of(e) : Optional.empty();
            } catch (io.grpc.StatusRuntimeException e) {
                return Optional.empty();
            }
        });
        assertEquals(DeclineReason.DECLINE_REASON_AGENT_SUSPENDED, declined.getDeclineReason());

        // the feed says so too
        Iterator<dev.agentspend.proto.alerts.v1.WatchAlertsResponse> feed = Clients.as(
                AlertServiceGrpc.newBlockingStub(clients.alertsChannel), Platform.SERVICE)
                .withDeadlineAfter(20, java.util.concurrent.TimeUnit.SECONDS)
                .watchAlerts(WatchAlertsRequest.newBuilder().setAgentId(a.id()).setRule(Rule.RULE_TOOL_SPEND_SPIKE).build());
        AlertEvent suspended = null;
        while (suspended == null) {
            AlertEvent e = feed.next().getEvent();
            if (e.getEventType() == AlertEventType.ALERT_EVENT_TYPE_AGENT_SUSPENDED) {
                suspended = e;
            }
        }
        assertEquals(a.id(), suspended.getAgentId());
        assertEquals(alert.getAlertId(), suspended.getAlert().getAlertId());
    }
}
