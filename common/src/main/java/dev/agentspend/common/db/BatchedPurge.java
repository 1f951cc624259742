package dev.agentspend.common.db;

import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Vertx;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * Deletes old rows a bounded statement at a time. One DELETE of everything old holds its locks and
 * a transaction open for as long as the table's backlog takes (after an outage, or on the first run
 * over a table that was never purged) and writes all of it to the WAL in one go; here each statement
 * deletes at most {@link Limits#batchRows()} rows, in a transaction of its own, and a purge goes on
 * while statements come back full, up to {@link Limits#maxStatements()} of them. What is left waits
 * for the next run, and {@link Outcome#stoppedAtBound()} says so.
 *
 * <p>The statement is the caller's: it deletes at most the given number of rows (oldest first, with
 * {@code FOR UPDATE SKIP LOCKED} so that replicas purging at once take different rows) and answers
 * how many it deleted.
 */
public final class BatchedPurge {
    /** A statement never deletes more than this: its transaction stays short. */
    public static final int MAX_BATCH_ROWS = 100_000;
    /** A run never sends more than this many statements. */
    public static final int MAX_STATEMENTS = 1_000_000;

    /** Rows per statement and statements per run; checked when a service starts. */
    public record Limits(int batchRows, int maxStatements) {
        public Limits {
            if (batchRows < 1 || batchRows > MAX_BATCH_ROWS) {
                throw new IllegalArgumentException("rows per purge statement must be 1 to " + MAX_BATCH_ROWS
                        + ", not " + batchRows);
            }
            if (maxStatements < 1 || maxStatements > MAX_STATEMENTS) {
                throw new IllegalArgumentException("statements per purge must be 1 to " + MAX_STATEMENTS
                        + ", not " + maxStatements);
            }
        }
    }

    /** What one run did: rows deleted, statements sent, and whether it stopped with rows possibly left. */
    public record Outcome(long rows, int statements, boolean stoppedAtBound) {
        /** For the log of a run that stopped at its bound; {@code what} names the rows ("idempotency rows"). */
        public String stoppedMessage(String what) {
            return "purge of " + what + " stopped after " + rows + " of them (" + statements
                    + " statements, the bound); the rest waits for the next run";
        }
    }

    /**
     * At most one run at a time on this replica: a timer tick that finds the last run still going
     * (a large backlog, a slow database) skips instead of starting a second one beside it.
     */
    static final class SingleFlight {
        private final AtomicBoolean running = new AtomicBoolean();

        /** Subscribes to {@code run} unless a run is going; a failure goes to {@code failed}. */
        void startUnlessRunning(Supplier<Uni<?>> run, Consumer<Throwable> failed) {
            if (!running.compareAndSet(false, true)) {
                return;
            }
            Uni.createFrom().deferred(run).subscribe().with(
                    done -> running.set(false),
                    failure -> {
                        running.set(false);
                        failed.accept(failure);
                    });
        }

        boolean running() {
            return running.get();
        }
    }

    /**
     * A service's periodic purge: a run every interval on the service's Vert.x timer, one at a time
     * ({@link SingleFlight}); a failed run is reported to the service (its log and failure counter)
     * and the next interval tries again. Started when the service starts, cancelled when it stops.
     */
    public static final class Schedule {
        private final Vertx vertx;
        private final long timerId;

        private Schedule(Vertx vertx, long timerId) {
            this.vertx = vertx;
            this.timerId = timerId;
        }

        public static Schedule every(Vertx vertx, Duration interval, Supplier<Uni<?>> run, Consumer<Throwable> failed) {
            if (interval.toMillis() < 1) {
                throw new IllegalArgumentException("a purge interval must be at least 1 ms, not " + interval);
            }
            SingleFlight runs = new SingleFlight();
            return new Schedule(vertx, vertx.setPeriodic(interval.toMillis(), id -> runs.startUnlessRunning(run, failed)));
        }

        public void cancel() {
            vertx.cancelTimer(timerId);
        }
    }

    private BatchedPurge() {
    }

    /**
     * Runs {@code deleteAtMost} until a statement deletes fewer rows than asked, or the bound.
     *
     * @param deleteAtMost one statement: deletes at most that many rows, answers how many
     * @param deleted      told each statement's count as it completes (a metric's counter)
     * @param atBound      told the outcome of a run that stopped at its bound, old rows possibly left
     */
    public static Uni<Outcome> run(IntFunction<Uni<Integer>> deleteAtMost, Limits limits, IntConsumer deleted,
                                   Consumer<Outcome> atBound) {
        int batchRows = limits.batchRows();
        // a repetition, not a chain of nested callbacks: statements answered at once (a test's, or
        // a driver's cached answer) would otherwise nest a stack frame per statement
        return Multi.createBy().repeating()
                .uni(() -> deleteAtMost.apply(batchRows).onItem().transformToUni(rows -> {
                    if (rows == null || rows < 0 || rows > batchRows) {
                        return Uni.createFrom().failure(new IllegalStateException(
                                "a purge statement asked for at most " + batchRows + " rows deleted " + rows));
                    }
                    deleted.accept(rows);
                    return Uni.createFrom().item(rows);
                }))
                .whilst(rows -> rows == batchRows)
                .select().first(limits.maxStatements())
                .collect().in(Tally::new, Tally::add)
                .map(t -> new Outcome(t.rows, t.statements, t.statements == limits.maxStatements() && t.last == batchRows))
                .invoke(o -> {
                    if (o.stoppedAtBound()) {
                        atBound.accept(o);
                    }
                });
    }

    private static final class Tally {
        long rows;
        int statements;
        int last = -1;

        void add(int n) {
            rows += n;
            statements++;
            last = n;
        }
    }
}
