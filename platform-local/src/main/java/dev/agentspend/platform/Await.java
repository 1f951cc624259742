package dev.agentspend.platform;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waits, in tests, for what another process or thread does by itself (a scheduled purge, a feed). */
public final class Await {
    /** How often the condition is checked. */
    public static final Duration POLL = Duration.ofMillis(20);

    private Await() {
    }

    /** Polls {@code condition} every {@link #POLL} until true; fails after {@code timeout}, naming {@code what}. */
    public static void until(Duration timeout, String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            try {
                // the condition is another process's or thread's doing: nothing to wait on but time
                Thread.sleep(POLL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for " + what, e);
            }
        }
    }
}
