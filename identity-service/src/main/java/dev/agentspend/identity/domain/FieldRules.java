package dev.agentspend.identity.domain;

import dev.agentspend.common.api.Fields;
import dev.agentspend.common.error.Violations;

import java.util.Map;

/** Checks of single request fields, each reporting into the request's violations under its path. */
public final class FieldRules {
    private FieldRules() {
    }

    public static void requestId(String value, Violations v) {
        v.check(Fields.isRequestId(value), "request_id",
                "is required: 1 to 128 characters of A-Z a-z 0-9 . _ : - (a retry reuses it)");
    }

    public static void handle(String value, String field, Violations v) {
        v.check(Fields.isHandle(value), field, "must be a lowercase DNS label of 3 to 63 characters "
                + "(a-z, 0-9, '-', not starting or ending with '-'), was '" + Fields.printable(value) + "'");
    }

    public static void displayName(String value, String field, Violations v) {
        v.check(Fields.isText(value, Limits.MAX_DISPLAY_NAME_LENGTH), field,
                "must be at most " + Limits.MAX_DISPLAY_NAME_LENGTH + " characters without control characters");
    }

    public static void text(String value, int maxLength, String field, Violations v) {
        v.check(Fields.isText(value, maxLength), field,
                "must be at most " + maxLength + " characters without control characters");
    }

    public static void labels(Map<String, String> labels, String field, Violations v) {
        String problem = Fields.labelProblem(labels);
        if (problem != null) {
            v.add(field, problem);
        }
    }

    public static void currency(String value, String field, Violations v) {
        v.check(Fields.isCurrencyCode(value), field,
                "must be an ISO 4217 code such as USD, was '" + Fields.printable(value) + "'");
    }

    /** A reference to an existing object: required and bounded; whether it exists is the store's call. */
    public static void reference(String value, String field, Violations v) {
        if (value == null || value.isEmpty()) {
            v.add(field, "is required");
        } else {
            v.check(Fields.isText(value, Fields.MAX_ID_LENGTH), field,
                    "must be at most " + Fields.MAX_ID_LENGTH + " characters without control characters");
        }
    }

    /** An optional reference: empty is allowed. */
    public static void optionalReference(String value, String field, Violations v) {
        if (value != null && !value.isEmpty()) {
            reference(value, field, v);
        }
    }

    public static void expectedVersion(long value, Violations v) {
        v.check(value >= 0, "expected_version", "must be 0 (no check) or a positive version");
    }
}
