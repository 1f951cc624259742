package dev.agentspend.alerts.it;

import dev.agentspend.alerts.support.Clients;
import dev.agentspend.alerts.support.Clients.TestAgent;
import dev.agentspend.alerts.support.Platform;
import dev.agentspend.alerts.support.PlatformTest;
import dev.agentspend.proto.alerts.v1.AcknowledgeAlertRequest;
import dev.agentspend.proto.alerts.v1.AlertEvent;
import dev.agentspend.proto.alerts.v1.AlertEventType;
import dev.agentspend.proto.alerts.v1.AlertServiceGrpc;
import dev.agentspend.proto.alerts.v1.Rule;
import dev.agentspend.proto.alerts.v1.WatchAlertsRequest;
import dev.agentspend.proto.alerts.v1.WatchAlertsResponse;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** WatchAlerts: filtered, and resumable across a disconnect without loss or repetition. */
@QuarkusTest
@WithTestResource(value = Platform.class, scope = TestResourceScope.MATCHING_RESOURCES)
class WatchAlertsTest extends PlatformTest {

    /** A subscription whose events land in a queue; cancelled to simulate a disconnect. */
    static final class Subscription {
        final BlockingQueue<AlertEvent> events = new LinkedBlockingQueue<>();
        final Context.CancellableContext context = Context.current().withCancellation();

        Subscription(long after, String agentId, Rule rule) {
            context.run(() -> Clients.as(AlertServiceGrpc.newStub(clients.alertsChannel), Platform.SERVICE)
                    .withDeadline(null)
                    .watchAlerts(WatchAlertsRequest.newBuilder().setAfterEventId(after).setAgentId(agentId).setRule(rule).build(),
                            new StreamObserver<>() {
                                @Override
                                public void onNext(WatchAlertsResponse value) {
                                    events.add(value.getEvent());
                                }

                                @Override
                                public void onError(Throwable t) {
                                }

                                @Override
                                public void onCompleted() {
                                }
                            }));
        }

        AlertEvent next() throws InterruptedException {
            AlertEvent e = events.poll(20, TimeUnit.SECONDS);
            assertNotNull(e, "an event within 20 s");
            return e;
        }

        void disconnect() {
            context.cancel(null);
        }
    }

    @Test
    void anAlertResolvesByItselfWhenItsConditionClearsAndAReturnIsANewAlert() throws Exception {
        TestAgent a = clients.agent(null, Clients.dailyCap(1_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
        clients.configure(a, Rule.RULE_DECLINE_BURST, java.util.Map.of("window_seconds", 4L));
        Subscription feed = new Subscription(0, a.id(), Rule.RULE_DECLINE_BURST);
        clients.pay(a, 900_000, "t");
        for (int i = 0; i < 5; i++) {
            clients.pay(a, 500_000, "t");
        }
        AlertEvent fired = feed.next();
        assertEquals(AlertEventType.ALERT_EVENT_TYPE_FIRED, fired.getEventType());
        // no new entry: the sweep sees the 4 s window pass and resolves it
        AlertEvent resolved = feed.next();
        assertEquals(AlertEventType.ALERT_EVENT_TYPE_RESOLVED, resolved.getEventType());
        assertEquals(fired.getAlert().getAlertId(), resolved.getAlert().getAlertId());
        assertEquals(dev.agentspend.proto.alerts.v1.AlertState.ALERT_STATE_RESOLVED, resolved.getAlert().getState());
        assertTrue(resolved.getAlert().hasResolveTime());
        // what the sweep resolved is stored with it, for a consumer that starts after this one
        io.vertx.mutiny.sqlclient.RowSet<io.vertx.mutiny.sqlclient.Row> swept = pool.preparedQuery(
                        "select s.judged_at from sweep_resolutions s join alerts a on a.dedupe_key = s.dedupe_key where a.alert_id = $1")
                .execute(io.vertx.mutiny.sqlclient.Tuple.of(fired.getAlert().getAlertId())).await().atMost(java.time.Duration.ofSeconds(10));
        assertEquals(1, swept.size(), "the sweep's resolution is stored");
        // the condition comes back: a new alert, not the old one reopened
        for (int i = 0; i < 5; i++) {
            clients.pay(a, 500_000, "t");
        }
        AlertEvent again = feed.next();
        assertEquals(AlertEventType.ALERT_EVENT_TYPE_FIRED, again.getEventType());
        assertNotEquals(fired.getAlert().getAlertId(), again.getAlert().getAlertId());
        feed.disconnect();
    }

    @jakarta.inject.Inject
    dev.agentspend.alerts.store.AlertStore store;

    @jakarta.inject.Inject
    io.vertx.mutiny.sqlclient.Pool pool;

    @Test
    void aFilteredReadSaysHowFarItLookedSoTheStreamMovesPastWhatDoesNotMatch() throws Exception {
        TestAgent a = clients.agent(null, Clients.dailyCap(1_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
        Subscription feed = new Subscription(0, a.id(), Rule.RULE_DECLINE_BURST);
        clients.pay(a, 900_000, "t");
        for (int i = 0; i < 5; i++) {
            clients.pay(a, 500_000, "t");
        }
        AlertEvent fired = feed.next();
        feed.disconnect();
        var nobody = new dev.agentspend.alerts.store.AlertStore.Filter("agt_nobody", "", Rule.RULE_UNSPECIFIED,
                dev.agentspend.proto.alerts.v1.Severity.SEVERITY_UNSPECIFIED,
                dev.agentspend.proto.alerts.v1.AlertState.ALERT_STATE_UNSPECIFIED);
        var none = store.eventsAfter(0, nobody, 500).await().atMost(java.time.Duration.ofSeconds(10));
        assertTrue(none.events().isEmpty());
        assertTrue(none.head() >= fired.getEventId(), "read through " + none.head() + ", the event is " + fired.getEventId());
        var mine = new dev.agentspend.alerts.store.AlertStore.Filter(a.id(), "", Rule.RULE_DECLINE_BURST,
                dev.agentspend.proto.alerts.v1.Severity.SEVERITY_UNSPECIFIED,
                dev.agentspend.proto.alerts.v1.AlertState.ALERT_STATE_UNSPECIFIED);
        var page = store.eventsAfter(fired.getEventId() - 1, mine, 1).await().atMost(java.time.Duration.ofSeconds(10));
        assertEquals(List.of(fired.getEventId()), page.events().stream().map(AlertEvent::getEventId).toList());
    }

    @Test
    void resumesAfterADisconnectFromTheLastEventSeen() throws Exception {
        TestAgent a = clients.agent(null, Clients.dailyCap(1_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
        TestAgent other = clients.agent(null, Clients.dailyCap(1_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
        Subscription first = new Subscription(0, a.id(), Rule.RULE_DECLINE_BURST);
        clients.pay(a, 900_000, "t");
        clients.pay(other, 900_000, "t");
        for (int i = 0; i < 5; i++) {
            clients.pay(other, 500_000, "t");
            clients.pay(a, 500_000, "t");
        }
        AlertEvent fired = first.next();
        assertEquals(AlertEventType.ALERT_EVENT_TYPE_FIRED, fired.getEventType());
        assertEquals(List.of(a.id()), fired.getAlert().getAgentIdsList(), "filtered by agent");
        assertEquals(Rule.RULE_DECLINE_BURST, fired.getAlert().getRule());
        first.disconnect();

        // while disconnected: the alert is acknowledged
        clients.admin().acknowledgeAlert(AcknowledgeAlertRequest.newBuilder().setRequestId(Clients.rid())
                .setAlertId(fired.getAlert().getAlertId()).setNote("on it").build());

        Subscription resumed = new Subscription(fired.getEventId(), a.id(), Rule.RULE_DECLINE_BURST);
        AlertEvent acked = resumed.next();
        assertEquals(AlertEventType.ALERT_EVENT_TYPE_ACKNOWLEDGED, acked.getEventType());
        assertEquals(fired.getAlert().getAlertId(), acked.getAlert().getAlertId());
        assertTrue(acked.getEventId() > fired.getEventId());
        assertEquals("on it", acked.getAlert().getAcknowledgeNote());
        assertNull(resumed.events.poll(1, TimeUnit.SECONDS), "nothing repeated, nothing else for this agent");
        resumed.disconnect();

        // from the beginning, the same two events in order
        Subscription replay = new Subscription(0, a.id(), Rule.RULE_DECLINE_BURST);
        assertEquals(fired.getEventId(), replay.next().getEventId());
        assertEquals(acked.getEventId(), replay.next().getEventId());
        replay.disconnect();
    }
}
