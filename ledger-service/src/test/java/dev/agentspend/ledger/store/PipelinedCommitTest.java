package dev.agentspend.ledger.store;

import dev.agentspend.common.api.Ids;
import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.platform.SqlRows;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Why a Pay batch sends {@code SELECT ledger.require_written(..); COMMIT} behind its writes and
 * entries statement, on the ledger's own pool: the reactive client fails a statement whose
 * parameters do not fit before sending it, and sends the next one anyway. A bare COMMIT then keeps
 * what the transaction wrote before; with require_entry (V7) or require_written (V9) in the same
 * simple query the COMMIT never runs. require_written also counts the checked writes that ran, so
 * a refused write among them keeps the entries after it from committing.
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class PipelinedCommitTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String NEVER_WRITTEN = "ent_" + "a".repeat(26);

    @Inject
    Pool pool;

    @BeforeEach
    void table() throws Exception {
        try (Connection c = Fixture.sql(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS public.pipelined_writes (note text)");
        }
    }

    @Test
    void requireEntryKeepsACommitBehindARefusedStatementFromRunning() throws Exception {
        String note = "guarded-" + Ids.randomBase32(8);
        Outcome o = writeThenPipeline(note, "SELECT ledger.require_entry('" + NEVER_WRITTEN + "'); COMMIT");
        assertNotNull(o.refused(), "the client refuses a text for an int parameter");
        assertNotNull(o.commit(), "require_entry fails the simple query");
        assertTrue(o.commit().getMessage().contains(NEVER_WRITTEN + " was not written"), o.commit().getMessage());
        assertEquals(List.of(), notes(note), "nothing committed");
        assertEquals(Boolean.FALSE, o.inTransactionAfter(), "the connection is back outside a transaction");
    }

    @Test
    void requireWrittenKeepsACommitBehindARefusedCheckedWriteFromRunning() throws Exception {
        String note = "checked-" + Ids.randomBase32(8);
        String entryId = Ids.newId("ent");
        Outcome o = writeThenPipeline(note, entryId, "SELECT ledger.require_rows($1::int, 1, 'a checked write')",
                "SELECT ledger.require_written('" + entryId + "', 1); COMMIT");
        assertNotNull(o.refused(), "the client refuses a text for an int parameter");
        assertNotNull(o.commit(), "require_written fails the simple query");
        assertTrue(o.commit().getMessage().contains("0 of 1 checked writes ran"), o.commit().getMessage());
        assertEquals(List.of(), notes(note), "nothing committed: neither the write before nor the entry");
        assertEquals(Boolean.FALSE, o.inTransactionAfter(), "the connection is back outside a transaction");
    }

    @Test
    void aBareCommitBehindARefusedStatementKeepsTheWritesBeforeIt() throws Exception {
        String note = "bare-" + Ids.randomBase32(8);
        Outcome o = writeThenPipeline(note, "COMMIT");
        assertNotNull(o.refused(), "the client refuses a text for an int parameter");
        assertNull(o.commit(), "COMMIT ran");
        assertEquals(List.of(note), notes(note), "the write before the refused statement committed without it");
    }

    /** What the refused statement and the pipelined commit query failed with (null: succeeded). */
    private record Outcome(Throwable refused, Throwable commit, Boolean inTransactionAfter) {
    }

    /**
     * BEGIN and a write, answered; then, pipelined, a statement the client refuses (text for an
     * int) and {@code commitQuery}; then ROLLBACK, as a failed batch sends it.
     */
    private Outcome writeThenPipeline(String note, String commitQuery) {
        return writeThenPipeline(note, null, "SELECT $1::int AS n", commitQuery);
    }

    /** The same with {@code refused} as the refused statement and, unless null, an entry written before it. */
    private Outcome writeThenPipeline(String note, String entryId, String refused, String commitQuery) {
        return pool.withConnection(conn -> conn.query("BEGIN").execute()
                .chain(() -> conn.preparedQuery("INSERT INTO public.pipelined_writes (note) VALUES ($1)").execute(Tuple.of(note)))
                .chain(() -> entryId == null ? Uni.createFrom().voidItem() : conn.preparedQuery(Fixture.INSERT_BARE_ENTRY)
                        .execute(Tuple.of(entryId)).replaceWithVoid())
                .chain(() -> Uni.combine().all()
                        .unis(failureOf(conn.preparedQuery(refused).execute(Tuple.of("not a number"))),
                                failureOf(conn.query(commitQuery).execute()))
                        .asTuple())
                .chain(t -> conn.query("ROLLBACK").execute().chain(() -> inTransaction(conn))
                        .map(in -> new Outcome(t.getItem1().orElse(null), t.getItem2().orElse(null), in))))
                .await().atMost(WAIT);
    }

    private static Uni<java.util.Optional<Throwable>> failureOf(Uni<?> statement) {
        return statement.onItemOrFailure().transform((item, failure) -> java.util.Optional.ofNullable(failure));
    }

    /** Inside a transaction block, now() is the block's start, not this statement's. */
    private static Uni<Boolean> inTransaction(SqlConnection conn) {
        return conn.query("SELECT now() <> statement_timestamp() AS inside").execute()
                .map(rows -> rows.iterator().next().getBoolean("inside"));
    }

    private static List<String> notes(String note) throws Exception {
        try (Connection c = Fixture.sql(); Statement st = c.createStatement()) {
            return SqlRows.rows(st, "SELECT note FROM public.pipelined_writes WHERE note = '" + note + "'");
        }
    }
}
