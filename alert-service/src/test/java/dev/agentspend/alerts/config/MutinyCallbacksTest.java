package dev.agentspend.alerts.config;

import dev.agentspend.alerts.support.Platform;
import dev.agentspend.alerts.support.PlatformTest;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import org.junit.jupiter.api.Test;

import java.util.function.Consumer;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertSame;

/**
 * Mutiny callbacks run as written: application.properties turns context propagation off, and a
 * provider that came back (a new extension, a default that changed) would wrap every callback again.
 */
@QuarkusTest
@WithTestResource(value = Platform.class, scope = TestResourceScope.MATCHING_RESOURCES)
class MutinyCallbacksTest extends PlatformTest {
    @Test
    void callbacksAreNotWrappedForContextPropagation() {
        Function<String, Integer> function = String::length;
        Consumer<String> consumer = s -> { };
        assertSame(function, Infrastructure.decorate(function));
        assertSame(consumer, Infrastructure.decorate(consumer));
    }
}
