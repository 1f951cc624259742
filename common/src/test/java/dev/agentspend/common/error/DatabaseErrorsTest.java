package dev.agentspend.common.error;

import io.vertx.core.VertxException;
import io.vertx.core.impl.NoStackTraceThrowable;
import io.vertx.sqlclient.ClosedConnectionException;
import io.vertx.sqlclient.DatabaseException;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.util.concurrent.CompletionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DatabaseErrorsTest {

    @Test
    void aDatabaseThatIsDownRestartingOrCutOffIsAnOutage() {
        assertTrue(DatabaseErrors.isOutage(new ConnectException("Connection refused")), "refused connection");
        assertTrue(DatabaseErrors.isOutage(new java.io.IOException("Broken pipe")), "cut connection");
        assertTrue(DatabaseErrors.isOutage(ClosedConnectionException.INSTANCE), "connection closed under a query");
        assertTrue(DatabaseErrors.isOutage(postgres("57P01")), "admin shutdown");
        assertTrue(DatabaseErrors.isOutage(postgres("57P03")), "the database system is starting up / shutting down");
        assertTrue(DatabaseErrors.isOutage(postgres("08006")), "connection failure");
        assertTrue(DatabaseErrors.isOutage(new CompletionException(new ConnectException("Connection refused"))), "wrapped");
    }

    /** The reactive client's own words, as Vert.x 4.5 raises them (the ledger's ConnectionLossTest provokes the first). */
    @Test
    void theClientsNoticesOfALostConnectionAreAnOutage() {
        assertTrue(DatabaseErrors.isOutage(new CompletionException(
                new NoStackTraceThrowable("Connection is not active now, current status: CLOSED"))), "a statement after the close");
        assertTrue(DatabaseErrors.isOutage(new NoStackTraceThrowable(
                "Pending requests failed to be sent due to connection has been closed.")), "statements queued at the close");
        assertTrue(DatabaseErrors.isOutage(new VertxException("Pending requests failed to be sent due to connection has been closed.",
                new IllegalStateException("whatever the close carried"))), "the same, with the close's cause");
        assertTrue(DatabaseErrors.isOutage(new VertxException("Timeout waiting for connection")), "no pooled connection in time");
        assertTrue(DatabaseErrors.isOutage(new NoStackTraceThrowable("Pool closed")), "a request still running as the service stops");
    }

    @Test
    void whatTheRequestItselfBrokeIsNoOutage() {
        assertFalse(DatabaseErrors.isOutage(postgres("23505")), "unique violation");
        assertFalse(DatabaseErrors.isOutage(postgres("42P01")), "undefined table: a bug");
        assertFalse(DatabaseErrors.isOutage(new IllegalStateException("bug")));
        assertFalse(DatabaseErrors.isOutage(new NoStackTraceThrowable("Transaction already completed")), "a bug of ours");
        assertFalse(DatabaseErrors.isOutage(new IllegalStateException("Connection is not active now")),
                "the words matter only from the client's own message-only exceptions");
        // the first database error decides, whatever it wraps
        assertFalse(DatabaseErrors.isOutage(new DatabaseException("syntax", 0, "42601", null) {
            @Override
            public synchronized Throwable getCause() {
                return new ConnectException("unrelated");
            }
        }));
    }

    @Test
    void anOutageIsTranslatedToUnavailableAndEverythingElseIsLeftAsItIs() {
        Throwable t = DatabaseErrors.translate(new ConnectException("Connection refused: localhost/127.0.0.1:5432"),
                "the ledger's database");
        ApiException api = assertInstanceOf(ApiException.class, t);
        assertEquals(ErrorCode.UNAVAILABLE, api.code());
        assertEquals("DATABASE_UNAVAILABLE", api.reason());
        assertFalse(api.getMessage().contains("127.0.0.1"), "the database's address is not the caller's business");
        assertEquals("UNAVAILABLE", GrpcErrors.toStatus(t, "x").getStatus().getCode().name());

        IllegalStateException bug = new IllegalStateException("bug");
        assertSame(bug, DatabaseErrors.translate(bug, "x"));
        ApiException refusal = ApiException.of(ErrorCode.NOT_FOUND, "NOT_FOUND", "no such agent");
        assertSame(refusal, DatabaseErrors.translate(refusal, "x"));
    }

    @Test
    void aTransactionRolledBackToBreakAConflictIsAbortedForARetry() {
        for (String state : new String[]{"40P01", "40001"}) {
            Throwable t = DatabaseErrors.translate(new CompletionException(postgres(state)), "the ledger's database");
            ApiException api = assertInstanceOf(ApiException.class, t, state);
            assertEquals(ErrorCode.ABORTED, api.code());
            assertEquals("TRANSACTION_CONFLICT", api.reason());
            assertTrue(api.getMessage().contains("retry with the same request_id"), api.getMessage());
            assertEquals("ABORTED", GrpcErrors.toStatus(t, "x").getStatus().getCode().name());
            assertFalse(DatabaseErrors.isOutage(postgres(state)));
        }
        assertFalse(DatabaseErrors.isConflict(postgres("23505")), "a unique violation is the request's own");
        DatabaseException unique = postgres("23505");
        assertSame(unique, DatabaseErrors.translate(unique, "x"));
    }

    private static DatabaseException postgres(String sqlState) {
        return new DatabaseException("server said " + sqlState, 0, sqlState, null) {
        };
    }
}
