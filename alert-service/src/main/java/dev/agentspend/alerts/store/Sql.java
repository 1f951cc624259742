package dev.agentspend.alerts.store;

import io.smallrye.mutiny.Uni;

import java.util.List;
import java.util.function.Supplier;

/** Small helpers for running statements one after another on one connection. */
final class Sql {
    private Sql() {
    }

    /** Runs the steps strictly in order (one connection runs one statement at a time). */
    static Uni<Void> inOrder(List<Supplier<Uni<?>>> steps) {
        Uni<Void> chain = Uni.createFrom().voidItem();
        for (Supplier<Uni<?>> step : steps) {
            chain = chain.chain(() -> step.get().replaceWithVoid());
        }
        return chain;
    }
}
