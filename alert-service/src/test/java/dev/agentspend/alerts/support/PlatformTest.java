package dev.agentspend.alerts.support;

import dev.agentspend.alerts.grpc.LedgerConsumer;
import dev.agentspend.proto.ledger.v1.Entry;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.time.Duration;
import java.util.Optional;

/**
 * Base of the integration tests: the alert service under test (in process, port 18084) with a
 * real PostgreSQL and real identity and ledger processes (see {@link Platform}). Concrete classes
 * carry {@code @QuarkusTest} and {@code @WithTestResource(Platform.class, MATCHING_RESOURCES)} so
 * that they share one platform.
 */
public abstract class PlatformTest {
    protected static Clients clients;

    @Inject
    protected LedgerConsumer consumer;

    @BeforeAll
    static void connect() {
        clients = new Clients();
    }

    @AfterAll
    static void disconnect() {
        clients.close();
    }

    /** Waits until the consumer has committed the entry: its effects on alerts are final then. */
    protected void awaitEvaluated(Entry last) {
        Await.until(Duration.ofSeconds(20), "the consumer to evaluate position " + last.getPosition(),
                () -> consumer.committedPosition() >= last.getPosition() ? Optional.of(true) : Optional.empty());
    }
}
