package dev.agentspend.common.error;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A refusal that reaches the caller as a google.rpc.Status: a code, a message a person can act on,
 * a machine-readable reason (ErrorInfo) and, for bad input, the offending fields (BadRequest).
 * Thrown by the rules layer; transports translate it.
 */
public final class ApiException extends RuntimeException {
    private final ErrorCode code;
    private final String reason;
    private final List<FieldViolation> violations;
    private final Map<String, String> metadata;
    private final Duration retryDelay;

    public ApiException(ErrorCode code, String reason, String message,
                        List<FieldViolation> violations, Map<String, String> metadata) {
        this(code, reason, message, violations, metadata, null);
    }

    private ApiException(ErrorCode code, String reason, String message,
                         List<FieldViolation> violations, Map<String, String> metadata, Duration retryDelay) {
        super(message, null, false, false);
        this.code = Objects.requireNonNull(code, "code");
        this.reason = Objects.requireNonNull(reason, "reason");
        this.violations = List.copyOf(violations);
        this.metadata = Map.copyOf(metadata);
        this.retryDelay = retryDelay;
    }

    /**
     * RESOURCE_EXHAUSTED with the delay after which a retry can succeed (sent as
     * google.rpc.RetryInfo), so well-behaved clients back off by exactly that much.
     */
    public static ApiException exhausted(String reason, String message, Duration retryDelay) {
        if (retryDelay.isNegative()) {
            throw new IllegalArgumentException("negative retry delay " + retryDelay);
        }
        return new ApiException(ErrorCode.RESOURCE_EXHAUSTED, reason, message, List.of(), Map.of(), retryDelay);
    }

    public static ApiException of(ErrorCode code, String reason, String message) {
        return new ApiException(code, reason, message, List.of(), Map.of());
    }

    public static ApiException invalid(List<FieldViolation> violations) {
        if (violations.isEmpty()) {
            throw new IllegalArgumentException("an invalid-argument error needs at least one violation");
        }
        String message = violations.size() == 1
                ? violations.get(0).field() + ": " + violations.get(0).description()
                : violations.size() + " invalid fields; first: " + violations.get(0).field() + ": "
                        + violations.get(0).description();
        return new ApiException(ErrorCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", message, violations, Map.of());
    }

    public static ApiException invalid(String field, String description) {
        return invalid(List.of(new FieldViolation(field, description)));
    }

    public static ApiException notFound(String what, String id) {
        return of(ErrorCode.NOT_FOUND, "NOT_FOUND", what + " '" + id + "' does not exist");
    }

    public ErrorCode code() {
        return code;
    }

    public String reason() {
        return reason;
    }

    public List<FieldViolation> violations() {
        return violations;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** When a retry may succeed; empty unless the refusal says. */
    public java.util.Optional<Duration> retryDelay() {
        return java.util.Optional.ofNullable(retryDelay);
    }
}
