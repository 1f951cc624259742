package dev.agentspend.common.error;

import java.util.ArrayList;
import java.util.List;

/** Collects every field violation of a request so that the caller learns all of them at once. */
public final class Violations {
    private final List<FieldViolation> found = new ArrayList<>();

    public Violations add(String field, String description) {
        found.add(new FieldViolation(field, description));
        return this;
    }

    public Violations check(boolean ok, String field, String description) {
        if (!ok) {
            add(field, description);
        }
        return this;
    }

    public boolean isEmpty() {
        return found.isEmpty();
    }

    /** Throws INVALID_ARGUMENT listing every violation, if there is any. */
    public void throwIfAny() {
        if (!found.isEmpty()) {
            throw ApiException.invalid(found);
        }
    }
}
