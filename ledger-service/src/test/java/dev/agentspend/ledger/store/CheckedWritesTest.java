package dev.agentspend.ledger.store;

import dev.agentspend.common.api.Ids;
import dev.agentspend.ledger.domain.CounterKey;
import dev.agentspend.ledger.domain.Window;
import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.LedgerTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Writes that check themselves in the database (migration V9), so that a batch sends them with its
 * entries and COMMIT without waiting for their answers. Every case runs in a transaction that is
 * rolled back: the rows are this test's own.
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class CheckedWritesTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String TOOL = "search";
    private static final Instant NOW = Instant.now();
    private static final Instant HOUR_AGO = NOW.minus(1, ChronoUnit.HOURS);

    @Inject
    Pool pool;

    @Test
    void aSettledRowAsReadGrowsInOneCheckedStatementThatNeedsNoAnswer() {
        Grown g = grow(NOW, NOW);

        assertFalse(g.write().answersToCheck(), "nothing to check in the service");
        assertEquals(1, g.write().checkedWrites(), "both rows in one checked statement");
        assertEquals(Map.of("", 1_000L + 7, TOOL, 1_000L + 7), g.hourSpent(), "each row's hour grew by the payment");
    }

    @Test
    void aRowHoldingAnotherBucketThanTheReadSawFailsTheTransaction() {
        String scope = newScope();
        // the rows hold the previous hour; the read (wrongly) found them in this hour: the update
        // would replace the previous hour's spend instead of moving it to ledger.counters
        Throwable failure = failureOf(conn -> insertRows(conn, scope, HOUR_AGO)
                .chain(() -> write(conn, scope, NOW, rowsAsRead(scope, NOW)).statements()));

        assertTrue(failure.getMessage().contains("window counter rows read under the agents' locks, in the buckets read: "
                + "2 rows expected, 0 written"), failure.getMessage());
    }

    @Test
    void aRowReadButMissingFailsTheTransaction() {
        String scope = newScope();
        Throwable failure = failureOf(conn -> write(conn, scope, NOW, rowsAsRead(scope, NOW)).statements());

        assertTrue(failure.getMessage().contains("2 rows expected, 0 written"), failure.getMessage());
    }

    @Test
    void rowsThatMoveToANewBucketAreCheckedFromTheirAnswersBeforeCommit() {
        Grown g = grow(HOUR_AGO, HOUR_AGO);

        assertTrue(g.write().answersToCheck(), "the move's answer is checked in the service");
        assertEquals(0, g.write().checkedWrites());
        assertEquals(Map.of("", 7L, TOOL, 7L), g.hourSpent(), "this hour starts with the payment; the last hour moved out");
    }

    @Test
    void commitRequiresEveryCheckedWriteOfTheTransactionAndTheCountEndsWithIt() {
        String entryId = Ids.newTimeOrderedId("ent", NOW.toEpochMilli());
        List<String> seen = new java.util.ArrayList<>();
        pool.withConnection(conn -> conn.query("BEGIN").execute()
                        .chain(() -> insertEntry(conn, entryId))
                        .chain(() -> conn.query("SELECT ledger.require_rows(1, 1, 'one row')").execute())
                        .chain(() -> conn.query("SELECT ledger.require_written('" + entryId + "', 1)").execute())
                        .chain(() -> conn.query("SELECT ledger.require_written('" + entryId + "', 2); COMMIT").execute())
                        .onItemOrFailure().transformToUni((rows, failure) -> {
                            seen.add(failure == null ? "committed" : failure.getMessage());
                            return conn.query("ROLLBACK").execute();
                        })
                        // the same connection, a new transaction
                        .chain(() -> conn.query("BEGIN").execute())
                        .chain(() -> conn.query("SELECT current_setting('ledger.checked_writes', true) AS n").execute())
                        .invoke(rows -> seen.add(String.valueOf(rows.iterator().next().getString("n"))))
                        .chain(() -> conn.query("ROLLBACK").execute()))
                .await().atMost(WAIT);

        assertTrue(seen.get(0).contains("1 of 2 checked writes ran in this transaction"), seen.get(0));
        assertTrue(seen.get(1).equals("null") || seen.get(1).isEmpty(), "the count ended with its transaction: " + seen.get(1));
    }

    @Test
    void aCheckedWriteThatWroteOtherThanExpectedFailsWithWhatItWrote() {
        Throwable failure = failureOf(conn -> conn.query("SELECT ledger.require_rows(3, 4, 'agent rows')").execute());

        assertTrue(failure.getMessage().contains("agent rows: 4 rows expected, 3 written: the transaction must not commit"),
                failure.getMessage());
    }

    /** What a write of a payment did to the scope's rows: how it went out, and each row's spend in this hour. */
    private record Grown(CounterStore.Write write, Map<String, Long> hourSpent) {
    }

    /** A new scope's rows in the buckets of {@code rowsAt}, read as in those of {@code readAt}; a payment now. */
    private Grown grow(Instant rowsAt, Instant readAt) {
        String scope = newScope();
        return inRolledBackTransaction(conn -> insertRows(conn, scope, rowsAt)
                .chain(() -> {
                    CounterStore.Write w = write(conn, scope, NOW, rowsAsRead(scope, readAt));
                    return w.statements().chain(() -> spent(conn, scope)).map(spent -> new Grown(w, spent));
                }));
    }

    /** A payment of 7 micros for {@code TOOL} at {@code t}, written with {@code asRead} as the rows the transaction read. */
    private static CounterStore.Write write(SqlConnection conn, String scope, Instant t, Map<CounterStore.Group, CounterStore.RowRead> asRead) {
        Map<CounterKey, long[]> deltas = new HashMap<>();
        for (CounterKey k : CounterKey.forPayment(scope, null, TOOL, null, t)) {
            deltas.put(k, new long[]{7, 0});
        }
        return CounterStore.write(conn, deltas, Map.of(), asRead, Set.of());
    }

    private static Map<CounterStore.Group, CounterStore.RowRead> rowsAsRead(String scope, Instant t) {
        Map<CounterStore.Group, CounterStore.RowRead> read = new HashMap<>();
        for (String tool : List.of("", TOOL)) {
            read.put(new CounterStore.Group(scope, tool), new CounterStore.RowRead(buckets(t), true, true));
        }
        return read;
    }

    private static String[] buckets(Instant t) {
        return new String[]{Window.HOUR.bucket(t, null), Window.DAY.bucket(t, null), Window.WEEK.bucket(t, null),
                Window.MONTH.bucket(t, null)};
    }

    /** The scope's two window rows, each window at its bucket of {@code t} with 1,000 micros spent. */
    private static Uni<Void> insertRows(SqlConnection conn, String scope, Instant t) {
        String[] b = buckets(t);
        return conn.preparedQuery("""
                        INSERT INTO ledger.window_counters (scope_id, tool, hour_bucket, hour_spent, day_bucket, day_spent,
                          week_bucket, week_spent, month_bucket, month_spent, lifetime_spent)
                        SELECT $1, tool, $2, 1000, $3, 1000, $4, 1000, $5, 1000, 1000 FROM unnest($6::text[]) AS tool""")
                .execute(Tuple.of(scope, b[0], b[1], b[2], b[3]).addArrayOfString(new String[]{"", TOOL}))
                .replaceWithVoid();
    }

    private static Uni<Map<String, Long>> spent(SqlConnection conn, String scope) {
        return conn.preparedQuery("SELECT tool, hour_spent FROM ledger.window_counters WHERE scope_id = $1 AND hour_bucket = $2")
                .execute(Tuple.of(scope, Window.HOUR.bucket(NOW, null)))
                .map(rows -> {
                    Map<String, Long> out = new HashMap<>();
                    for (Row r : rows) {
                        out.put(r.getString("tool"), r.getLong("hour_spent"));
                    }
                    return out;
                });
    }

    /** An entry row in this (rolled back) transaction, for require_written to find. */
    private static Uni<Void> insertEntry(SqlConnection conn, String entryId) {
        return conn.preparedQuery(Fixture.INSERT_BARE_ENTRY)
                .execute(Tuple.of(entryId))
                .replaceWithVoid();
    }

    private <T> T inRolledBackTransaction(Function<SqlConnection, Uni<T>> work) {
        return pool.withConnection(conn -> conn.query("BEGIN").execute()
                        .chain(() -> work.apply(conn))
                        .call(() -> conn.query("ROLLBACK").execute()))
                .await().atMost(WAIT);
    }

    private Throwable failureOf(Function<SqlConnection, Uni<?>> work) {
        return assertThrows(Throwable.class, () -> pool.withConnection(conn -> conn.query("BEGIN").execute()
                        .chain(() -> work.apply(conn))
                        .eventually(() -> conn.query("ROLLBACK").execute()))
                .await().atMost(WAIT));
    }

    private static String newScope() {
        return Ids.newId("chk");
    }
}
