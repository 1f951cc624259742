package dev.agentspend.common.error;

/**
 * The canonical error codes the platform answers with. They mirror gRPC status codes so that the
 * domain layer can state the outcome without depending on gRPC, and REST can map them to HTTP.
 */
public enum ErrorCode {
    INVALID_ARGUMENT(400),
    UNAUTHENTICATED(401),
    PERMISSION_DENIED(403),
    NOT_FOUND(404),
    ALREADY_EXISTS(409),
    ABORTED(409),
    FAILED_PRECONDITION(412),
    OUT_OF_RANGE(400),
    RESOURCE_EXHAUSTED(429),
    INTERNAL(500),
    UNAVAILABLE(503);

    private final int httpStatus;

    ErrorCode(int httpStatus) {
        this.httpStatus = httpStatus;
    }

    public int httpStatus() {
        return httpStatus;
    }
}
