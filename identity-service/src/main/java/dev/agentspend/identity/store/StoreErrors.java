package dev.agentspend.identity.store;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import io.vertx.pgclient.PgException;

import java.io.IOException;

/** Turns database failures a caller can act on into refusals; everything else stays internal. */
public final class StoreErrors {
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
            // connection exceptions (08) and operator intervention such as a shutdown (57P)
            if (state != null && (state.startsWith("08") || state.startsWith("57P"))) {
                return unavailable();
            }
            return t;
        }
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof IOException || c instanceof io.vertx.core.VertxException
                    || c instanceof java.util.concurrent.TimeoutException) {
                return unavailable();
            }
        }
        return t;
    }

    private static ApiException unavailable() {
        return ApiException.of(ErrorCode.UNAVAILABLE, "DATABASE_UNAVAILABLE",
                "the identity store is unreachable; retry with the same request_id");
    }
}
