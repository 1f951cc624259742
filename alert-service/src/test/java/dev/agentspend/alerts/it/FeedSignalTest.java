package dev.agentspend.alerts.it;

import dev.agentspend.alerts.store.FeedSignal;
import dev.agentspend.alerts.support.Await;
import dev.agentspend.alerts.support.Clients;
import dev.agentspend.alerts.support.Clients.TestAgent;
import dev.agentspend.alerts.support.Platform;
import dev.agentspend.alerts.support.PlatformTest;
import dev.agentspend.proto.alerts.v1.Rule;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.ledger.v1.Entry;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The outbox workers and WatchAlerts streams are woken (and query the database) after a batch that
 * appended alert events, not after every batch: under load a wake-up per batch made the alert
 * service's pool the fourth largest user of PostgreSQL's CPU in the benchmark, for nothing.
 */
@QuarkusTest
@WithTestResource(value = Platform.class, scope = TestResourceScope.MATCHING_RESOURCES)
class FeedSignalTest extends PlatformTest {
    private static final int QUIET_PAYMENTS = 30;

    @Inject
    FeedSignal signal;

    @Test
    void onlyBatchesThatAppendEventsWakeTheWorkers() {
        AtomicInteger wakeUps = new AtomicInteger();
        Runnable unlisten = signal.listen(wakeUps::incrementAndGet);
        try {
            // 24 USD a day: a 1 USD hourly velocity budget, far above these payments
            TestAgent a = clients.agent(null, Clients.dailyCap(24_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
            for (int i = 0; i < QUIET_PAYMENTS; i++) {
                awaitEvaluated(clients.pay(a, 1_000, "openai/chat"));   // a batch of its own
            }
            // a periodic sweep in between may resolve another test's alert: that one wakes them
            assertTrue(wakeUps.get() <= 3, QUIET_PAYMENTS + " batches without events woke the workers "
                    + wakeUps.get() + " times");
            int before = wakeUps.get();
            clients.pay(a, 600_000, "openai/chat");
            Entry trigger = clients.pay(a, 600_000, "openai/chat");   // over the hourly budget: fires
            clients.awaitAlert(a.id(), Rule.RULE_SPEND_VELOCITY);
            awaitEvaluated(trigger);
            Await.until(Duration.ofSeconds(10), "a wake-up after the alert fired",
                    () -> wakeUps.get() > before ? Optional.of(true) : Optional.empty());
        } finally {
            unlisten.run();
        }
    }
}
