package dev.agentspend.identity.store;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.DatabaseErrors;
import dev.agentspend.common.error.ErrorCode;
import io.vertx.pgclient.PgException;

/** Turns database failures a caller can act on into refusals; everything else stays internal. */
public final class StoreErrors {
    private static final String STORE = "the identity store";

    private StoreErrors() {
    }

    public static Throwable translate(Throwable t) {
        if (t instanceof ApiException) {
            return t;
        }
        if (t instanceof PgException pg) {
            String state = pg.getSqlState();
            if ("23505".equals(state)) {
                return ApiException.of(ErrorCode.ALREADY_EXISTS, "ALREADY_EXISTS",
                        "an object with this name or id exists already");
            }
            if ("55P03".equals(state) || "40001".equals(state) || "40P01".equals(state)) {
                return ApiException.of(ErrorCode.UNAVAILABLE, "BUSY",
                        "the identity store is busy; retry with the same request_id");
            }
        }
        // an outage (connection refused or lost, shutdown, restart) is UNAVAILABLE; anything else stays internal
        return DatabaseErrors.translate(t, STORE);
    }
}
