package dev.agentspend.alerts.it;

import dev.agentspend.alerts.support.Await;
import dev.agentspend.alerts.support.Clients;
import dev.agentspend.alerts.support.Clients.TestAgent;
import dev.agentspend.alerts.support.Platform;
import dev.agentspend.alerts.support.PlatformTest;
import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.AlertState;
import dev.agentspend.proto.alerts.v1.Rule;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.alerts.store.ConsumerStore;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import org.eclipse.microprofile.config.ConfigProvider;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Restart: the consumer drops its in-memory state and its lock (as a crash does), entries keep
 * arriving, and a new consumer resumes from the committed position and state: the condition that
 * was already alerting gives no second alert, the one that started while it was down fires once.
 */
@QuarkusTest
@WithTestResource(value = Platform.class, scope = TestResourceScope.MATCHING_RESOURCES)
class RestartTest extends PlatformTest {

    /** What a second replica does: try the consumer lock on its own session (released again if taken). */
    private static boolean tryConsumerLock(boolean expectFree) {
        String url = ConfigProvider.getConfig().getValue("quarkus.datasource.jdbc.url", String.class);
        return Await.until(Duration.ofSeconds(10), "the consumer lock to be " + (expectFree ? "free" : "held"), () -> {
            try (Connection c = DriverManager.getConnection(url, "postgres", "");
                 ResultSet r = c.createStatement().executeQuery("select pg_try_advisory_lock(" + ConsumerStore.CONSUMER_LOCK + ")")) {
                r.next();
                boolean taken = r.getBoolean(1);
                if (taken) {
                    c.createStatement().execute("select pg_advisory_unlock(" + ConsumerStore.CONSUMER_LOCK + ")");
                }
                return taken == expectFree ? Optional.of(taken) : Optional.empty();
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private void burst(TestAgent a, int declines) {
        for (int i = 0; i < declines; i++) {
            clients.pay(a, 500_000, "t");
        }
    }

    @Test
    void noDuplicateAndNoMissedAlertAcrossARestart() {
        TestAgent before = clients.agent(null, Clients.dailyCap(1_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
        TestAgent during = clients.agent(null, Clients.dailyCap(1_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
        clients.pay(before, 900_000, "t");
        clients.pay(during, 900_000, "t");
        burst(before, 5);
        Alert first = clients.awaitAlert(before.id(), Rule.RULE_DECLINE_BURST);

        // only the lock holder evaluates: another session (a second replica) cannot take the lock
        assertFalse(tryConsumerLock(false), "the lock is held while this replica evaluates");
        consumer.pause();
        assertFalse(consumer.leader());
        // stepping down releases it at once: a standby replica could take over now
        assertTrue(tryConsumerLock(true), "released on step-down");
        long stoppedAt = consumer.committedPosition();
        burst(before, 3);        // the same condition continues
        burst(during, 6);        // a new condition starts while nobody evaluates
        Entry last = clients.pay(during, 500_000, "t");
        assertTrue(last.getPosition() > stoppedAt);
        assertTrue(clients.alerts(during.id(), Rule.RULE_DECLINE_BURST).isEmpty(), "nothing evaluated while down");

        consumer.resume();
        Await.until(Duration.ofSeconds(20), "the consumer to lead again",
                () -> consumer.leader() ? Optional.of(true) : Optional.empty());
        awaitEvaluated(last);

        List<Alert> beforeAlerts = clients.alerts(before.id(), Rule.RULE_DECLINE_BURST);
        assertEquals(1, beforeAlerts.size(), "no duplicate of the alert raised before the restart");
        assertEquals(first.getAlertId(), beforeAlerts.get(0).getAlertId());
        assertEquals(8, Clients.measure(beforeAlerts.get(0), "declines"), "its evidence continued across the restart");
        List<Alert> duringAlerts = clients.alerts(during.id(), Rule.RULE_DECLINE_BURST);
        assertEquals(1, duringAlerts.size(), "the condition that started while down fired once");
        assertEquals(AlertState.ALERT_STATE_FIRING, duringAlerts.get(0).getState());
        assertEquals(7, Clients.measure(duringAlerts.get(0), "declines"));
        // the state it resumed from, and wrote since, is in the default binary form
        assertEquals(0L, storedRows("select count(*) from alerts.agent_state where get_byte(state, 0) <> 1"));
        assertEquals(0L, storedRows("select count(*) from alerts.agent_buckets where get_byte(data, 0) <> 1"));
        assertTrue(storedRows("select count(*) from alerts.agent_buckets where agent_id = '" + during.id() + "'") > 0);
    }

    private static long storedRows(String sql) {
        String url = ConfigProvider.getConfig().getValue("quarkus.datasource.jdbc.url", String.class);
        try (Connection c = DriverManager.getConnection(url, "postgres", "");
             ResultSet r = c.createStatement().executeQuery(sql)) {
            r.next();
            return r.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
