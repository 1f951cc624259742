package dev.agentspend.alerts.support;

import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;

/** Bounded waiting for a condition in tests. */
public final class Await {
    private Await() {
    }

    /** Polls until the supplier returns a present value; fails with the description after the timeout. */
    public static <T> T until(Duration timeout, String what, Supplier<Optional<T>> probe) {
        long deadline = System.nanoTime() + timeout.toNanos();
        RuntimeException last = null;
        while (System.nanoTime() < deadline) {
            try {
                Optional<T> v = probe.get();
                if (v.isPresent()) {
                    return v.get();
                }
            } catch (RuntimeException e) {
                last = e;
            }
            pause(100);
        }
        throw new AssertionError("timed out after " + timeout + " waiting for " + what, last);
    }

    public static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
