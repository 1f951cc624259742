package dev.agentspend.common.error;

import io.vertx.core.VertxException;
import io.vertx.core.impl.NoStackTraceThrowable;
import io.vertx.sqlclient.ClosedConnectionException;
import io.vertx.sqlclient.DatabaseException;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeoutException;

/**
 * Tells a database outage from a bug. While PostgreSQL is down, restarting or unreachable, a
 * request fails with a refused or cut connection, or with the server's own "shutting down" or
 * "starting up" error; the caller must hear UNAVAILABLE (retry, with the same request_id), never
 * INTERNAL, which says the request itself broke something. Every service reaches its database
 * through Vert.x's reactive SQL client, which they provide; this class only names its exceptions.
 */
public final class DatabaseErrors {
    public static final String REASON = "DATABASE_UNAVAILABLE";
    /**
     * What the reactive client (Vert.x 4.5) says, with no type of its own, when a statement is sent
     * on a connection it already saw close (a transaction's next statement after the server went
     * away), when statements queued on a connection are dropped as it closes, when no pooled
     * connection could be had in time, and when the pool is closed under a request (the service is
     * stopping: the caller should retry on another replica). Only the message tells these from a bug.
     */
    private static final List<String> CONNECTION_LOST_MESSAGES = List.of(
            "Connection is not active now",
            "Pending requests failed to be sent due to connection has been closed",
            "Timeout waiting for connection",
            "Pool closed");

    private DatabaseErrors() {
    }

    /** True when {@code t} (or a cause) says the database could not be reached or went away. */
    public static boolean isOutage(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof DatabaseException db) {
                String state = db.getSqlState();
                // connection exceptions (08xxx) and operator intervention: shutdown, crash, not yet accepting (57P0x)
                return state != null && (state.startsWith("08") || state.startsWith("57P"));
            }
            if (c instanceof ClosedConnectionException || c instanceof IOException || c instanceof TimeoutException
                    || isConnectionLostNotice(c)) {
                return true;
            }
        }
        return false;
    }

    private static boolean isConnectionLostNotice(Throwable t) {
        if (!(t instanceof NoStackTraceThrowable || t.getClass() == VertxException.class) || t.getMessage() == null) {
            return false;
        }
        for (String prefix : CONNECTION_LOST_MESSAGES) {
            if (t.getMessage().startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    /**
     * True when PostgreSQL rolled the transaction back to break a deadlock (40P01) or a
     * serialization conflict (40001): nothing was written, and the same request succeeds when
     * sent again. Rare by design (every writer locks in one order), but not impossible: two
     * transactions creating and locking new agents' rows at the same microsecond.
     */
    public static boolean isConflict(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof DatabaseException db) {
                return "40P01".equals(db.getSqlState()) || "40001".equals(db.getSqlState());
            }
        }
        return false;
    }

    /**
     * {@code t} as the caller should see it: an outage becomes UNAVAILABLE with reason
     * {@value #REASON} naming {@code store} (for example "the ledger's database"), a transaction
     * the database rolled back to break a conflict ABORTED with reason {@code TRANSACTION_CONFLICT};
     * anything else is returned as it is.
     */
    public static Throwable translate(Throwable t, String store) {
        if (t instanceof ApiException) {
            return t;
        }
        if (isConflict(t)) {
            return ApiException.of(ErrorCode.ABORTED, "TRANSACTION_CONFLICT", store
                    + " rolled the request back to resolve a conflict with another; nothing was written: retry with the same request_id");
        }
        if (!isOutage(t)) {
            return t;
        }
        return ApiException.of(ErrorCode.UNAVAILABLE, REASON, store + " is unreachable; retry with the same request_id");
    }
}
