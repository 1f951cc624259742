package dev.agentspend.common.db;

import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BatchedPurgeTest {
    private static final Duration WAIT = Duration.ofSeconds(5);

    /** A table of {@code rows} old rows: each statement deletes what it is allowed to. */
    private static final class Table {
        int left;
        final List<Integer> asked = new ArrayList<>();

        Table(int rows) {
            left = rows;
        }

        Uni<Integer> delete(int atMost) {
            asked.add(atMost);
            int n = Math.min(left, atMost);
            left -= n;
            return Uni.createFrom().item(n);
        }
    }

    @Test
    void deletesInFullStatementsUntilOneComesBackShort() {
        Table t = new Table(25);
        List<Integer> counted = new ArrayList<>();
        BatchedPurge.Outcome o = BatchedPurge.run(t::delete, new BatchedPurge.Limits(7, 100), counted::add, stop -> { })
                .await().atMost(WAIT);
        assertEquals(new BatchedPurge.Outcome(25, 4, false), o);
        assertEquals(List.of(7, 7, 7, 4), counted);
        assertEquals(List.of(7, 7, 7, 7), t.asked);
        assertEquals(0, t.left);
    }

    @Test
    void anExactMultipleTakesOneMoreStatementThatFindsNothing() {
        Table t = new Table(14);
        BatchedPurge.Outcome o = BatchedPurge.run(t::delete, new BatchedPurge.Limits(7, 100), n -> { }, stop -> { })
                .await().atMost(WAIT);
        assertEquals(new BatchedPurge.Outcome(14, 3, false), o);
    }

    @Test
    void stopsAtTheBoundAndSaysRowsMayBeLeft() {
        Table t = new Table(100);
        List<BatchedPurge.Outcome> reported = new ArrayList<>();
        BatchedPurge.Outcome o = BatchedPurge.run(t::delete, new BatchedPurge.Limits(10, 3), n -> { }, reported::add)
                .await().atMost(WAIT);
        assertEquals(new BatchedPurge.Outcome(30, 3, true), o);
        assertEquals(List.of(o), reported, "a stop at the bound is reported");
        assertEquals(70, t.left, "the rest waits for the next run");
        assertEquals("purge of idempotency rows stopped after 30 of them (3 statements, the bound); "
                + "the rest waits for the next run", o.stoppedMessage("idempotency rows"));
    }

    @Test
    void aRunThatEndsShortIsNotReportedAtTheBound() {
        List<BatchedPurge.Outcome> reported = new ArrayList<>();
        BatchedPurge.run(new Table(29)::delete, new BatchedPurge.Limits(10, 3), n -> { }, reported::add)
                .await().atMost(WAIT);
        assertTrue(reported.isEmpty());
    }

    @Test
    void aSecondRunDoesNotStartWhileOneIsGoingAndOneStartsAfterIt() {
        BatchedPurge.SingleFlight flight = new BatchedPurge.SingleFlight();
        AtomicInteger started = new AtomicInteger();
        java.util.concurrent.CompletableFuture<Integer> first = new java.util.concurrent.CompletableFuture<>();
        List<Throwable> failures = new ArrayList<>();
        flight.startUnlessRunning(() -> {
            started.incrementAndGet();
            return Uni.createFrom().completionStage(first);
        }, failures::add);
        flight.startUnlessRunning(() -> {
            started.incrementAndGet();
            return Uni.createFrom().item(0);
        }, failures::add);
        assertEquals(1, started.get(), "the tick during a run skips");
        assertTrue(flight.running());
        first.complete(5);
        assertFalse(flight.running());
        flight.startUnlessRunning(() -> {
            started.incrementAndGet();
            return Uni.createFrom().failure(new IllegalStateException("database down"));
        }, failures::add);
        assertEquals(2, started.get());
        assertEquals(1, failures.size(), "a failed run is reported");
        assertFalse(flight.running(), "and the next tick may run again");
    }

    @Test
    void aScheduleRunsEveryIntervalReportsAFailureAndGoesOnUntilCancelled() throws Exception {
        Vertx vertx = Vertx.vertx();
        try {
            AtomicInteger runs = new AtomicInteger();
            List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
            BatchedPurge.Schedule schedule = BatchedPurge.Schedule.every(vertx, Duration.ofMillis(10), () -> runs.incrementAndGet() == 1
                    ? Uni.createFrom().failure(new IllegalStateException("database down"))
                    : Uni.createFrom().item(0), failures::add);
            awaitUntil(() -> runs.get() >= 3, "three runs");
            assertEquals(1, failures.size(), "the first run's failure, reported once: " + failures);
            assertEquals("database down", failures.get(0).getMessage());

            schedule.cancel();
            int afterCancel = runs.get();
            Thread.sleep(100);   // ten intervals: a timer still set would have run meanwhile
            assertTrue(runs.get() <= afterCancel + 1, "at most a run already fired when it was cancelled");
            assertThrows(IllegalArgumentException.class,
                    () -> BatchedPurge.Schedule.every(vertx, Duration.ZERO, () -> Uni.createFrom().item(0), failures::add));
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    private static void awaitUntil(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            Thread.sleep(5);   // poll interval of the bounded wait
        }
    }

    @Test
    void anEmptyTableCostsOneStatement() {
        Table t = new Table(0);
        assertEquals(new BatchedPurge.Outcome(0, 1, false),
                BatchedPurge.run(t::delete, new BatchedPurge.Limits(10, 3), n -> { }, stop -> { }).await().atMost(WAIT));
    }

    @Test
    void aFailedStatementFailsTheRunAfterCountingWhatWentBefore() {
        AtomicInteger calls = new AtomicInteger();
        AtomicInteger counted = new AtomicInteger();
        Uni<BatchedPurge.Outcome> run = BatchedPurge.run(n -> calls.incrementAndGet() == 1
                        ? Uni.createFrom().item(n)
                        : Uni.createFrom().failure(new IllegalStateException("connection lost")),
                new BatchedPurge.Limits(5, 10), counted::addAndGet, stop -> { });
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> run.await().atMost(WAIT));
        assertEquals("connection lost", e.getMessage());
        assertEquals(5, counted.get(), "the first statement committed its rows");
        assertEquals(2, calls.get());
    }

    @Test
    void aStatementThatDeletesMoreThanAskedIsRefused() {
        Uni<BatchedPurge.Outcome> run = BatchedPurge.run(n -> Uni.createFrom().item(n + 1),
                new BatchedPurge.Limits(5, 10), n -> { }, stop -> { });
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> run.await().atMost(WAIT));
        assertTrue(e.getMessage().contains("at most 5 rows deleted 6"), e.getMessage());
    }

    @Test
    void manyStatementsAnsweredAtOnceDoNotExhaustTheStack() {
        Table t = new Table(50_000);
        BatchedPurge.Outcome o = BatchedPurge.run(t::delete, new BatchedPurge.Limits(1, 100_000), n -> { }, stop -> { })
                .await().atMost(WAIT);
        assertEquals(50_000, o.rows());
        assertFalse(o.stoppedAtBound());
    }

    @Test
    void limitsOutsideTheirBoundsAreRefusedWithTheSetting() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new BatchedPurge.Limits(0, 1))
                .getMessage().contains("rows per purge statement must be 1 to 100000, not 0"));
        assertThrows(IllegalArgumentException.class, () -> new BatchedPurge.Limits(BatchedPurge.MAX_BATCH_ROWS + 1, 1));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new BatchedPurge.Limits(1, 0))
                .getMessage().contains("statements per purge must be 1 to 1000000, not 0"));
    }
}
