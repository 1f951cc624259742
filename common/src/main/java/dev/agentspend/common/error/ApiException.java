package dev.agentspend.common.error;

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

    public ApiException(ErrorCode code, String reason, String message,
                        List<FieldViolation> violations, Map<String, String> metadata) {
        super(message, null, false, false);
        this.code = Objects.requireNonNull(code, "code");
        this.reason = Objects.requireNonNull(reason, "reason");
        this.violations = List.copyOf(violations);
        this.metadata = Map.copyOf(metadata);
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
}
