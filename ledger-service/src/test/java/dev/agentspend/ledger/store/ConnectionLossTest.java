package dev.agentspend.ledger.store;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.DatabaseErrors;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.LedgerTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.pgclient.PgPool;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.PoolOptions;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A connection PostgreSQL closed (a shutdown, a crash, an administrator's pg_terminate_backend)
 * between two statements of one transaction, as a payment batch holds it: the next statement fails
 * with whatever the reactive client raises for a connection it already saw close, and that must
 * read as an outage (UNAVAILABLE, retry with the same request_id), never as a bug (INTERNAL), which
 * a client gives up on. Found by DatabaseRestartTest failing once in CI with "a paying client gave up".
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class ConnectionLossTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @Inject
    Pool pool;
    @Inject
    Vertx vertx;

    @Test
    void aStatementOnAConnectionTheServerClosedIsAnOutage() {
        SqlConnection conn = pool.getConnection().await().atMost(WAIT);
        try {
            AtomicBoolean closed = new AtomicBoolean();
            conn.closeHandler(() -> closed.set(true));
            conn.query("BEGIN").execute().await().atMost(WAIT);
            long pid = conn.query("SELECT pg_backend_pid()").execute().await().atMost(WAIT).iterator().next().getLong(0);

            assertEquals(1, Fixture.queryLong("SELECT count(*) FROM (SELECT pg_terminate_backend(?) AS done) t WHERE done", (int) pid));
            Fixture.await(WAIT, "the client to see its connection closed", closed::get);

            Throwable failure = assertThrows(Throwable.class,
                    () -> conn.query("SELECT 1").execute().await().atMost(WAIT), "a statement on a closed connection");
            assertTrue(DatabaseErrors.isOutage(failure), "an outage, not a bug: " + failure);
            ApiException refusal = assertInstanceOf(ApiException.class, DatabaseErrors.translate(failure, "the ledger's database"));
            assertEquals(ErrorCode.UNAVAILABLE, refusal.code());
        } finally {
            conn.closeAndForget();
        }
    }

    /** A request still running when the service stops: its pool is closed under it (seen in the bench's shutdown). */
    @Test
    void aClosedPoolIsAnOutage() {
        Pool closing = PgPool.pool(vertx, PgConnectOptions.fromUri(LedgerTestResource.database()
                .reactiveUrl(LedgerTestResource.LEDGER_DB)).setUser("postgres"), new PoolOptions().setMaxSize(1));
        closing.query("SELECT 1").execute().await().atMost(WAIT);
        closing.close().await().atMost(WAIT);

        Throwable failure = assertThrows(Throwable.class,
                () -> closing.query("SELECT 1").execute().await().atMost(WAIT), "a statement on a closed pool");
        assertTrue(DatabaseErrors.isOutage(failure), "an outage (retry on another replica), not a bug: " + failure);
    }
}
