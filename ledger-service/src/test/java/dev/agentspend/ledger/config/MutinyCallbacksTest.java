package dev.agentspend.ledger.config;

import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import org.junit.jupiter.api.Test;

import java.util.function.Consumer;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertSame;

/**
 * Mutiny callbacks run as written: common's META-INF/microprofile-config.properties turns context
 * propagation off for every service (the same jar, the same file: this one service checks it), and a
 * provider that came back (a new extension, a default that changed) would wrap every callback again.
 */
@QuarkusTest
class MutinyCallbacksTest {
    @Test
    void callbacksAreNotWrappedForContextPropagation() {
        Function<String, Integer> function = String::length;
        Consumer<String> consumer = s -> { };
        assertSame(function, Infrastructure.decorate(function));
        assertSame(consumer, Infrastructure.decorate(consumer));
    }
}
