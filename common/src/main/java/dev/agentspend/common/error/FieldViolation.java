package dev.agentspend.common.error;

import java.util.Objects;

/** One invalid field of a request: its path (for example {@code policy.caps[2].limit_micros}) and why. */
public record FieldViolation(String field, String description) {
    public FieldViolation {
        Objects.requireNonNull(field, "field");
        Objects.requireNonNull(description, "description");
    }
}
