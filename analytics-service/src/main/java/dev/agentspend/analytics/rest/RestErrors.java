package dev.agentspend.analytics.rest;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.DatabaseErrors;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.common.error.FieldViolation;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.util.List;

/** Refusals as HTTP: the status of the error code and a JSON body with the same content as the gRPC status. */
public class RestErrors {
    private static final Logger LOG = Logger.getLogger(RestErrors.class);

    /** The JSON error body. */
    public record ErrorBody(String code, String reason, String message, List<FieldViolation> fieldViolations) {
    }

    @ServerExceptionMapper
    public Response refusal(ApiException e) {
        return Response.status(e.code().httpStatus()).type(MediaType.APPLICATION_JSON)
                .entity(new ErrorBody(e.code().name(), e.reason(), e.getMessage(), e.violations())).build();
    }

    /** A database outage is 503 DATABASE_UNAVAILABLE; anything else that is not a refusal is a bug: logged here, shown as INTERNAL. */
    static Throwable toRefusal(Throwable t) {
        if (t instanceof ApiException || t instanceof jakarta.ws.rs.WebApplicationException) {
            return t;
        }
        if (DatabaseErrors.isOutage(t)) {
            return DatabaseErrors.translate(t, "the analytics database");
        }
        LOG.error("REST request failed unexpectedly", t);
        return ApiException.of(ErrorCode.INTERNAL, "INTERNAL", "internal error; the request may be retried");
    }
}
