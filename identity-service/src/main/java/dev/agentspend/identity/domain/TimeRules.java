package dev.agentspend.identity.domain;

import com.google.protobuf.Timestamp;
import dev.agentspend.common.error.Violations;

import java.time.Instant;

/** Checks of caller-supplied timestamps (expiry of keys and temporary raises). */
public final class TimeRules {
    private TimeRules() {
    }

    /** An expiry must lie in the future and not absurdly far; {@code required} refuses an unset one. */
    public static void checkFuture(boolean present, Timestamp value, Instant now, String field, boolean required,
                                   Violations v) {
        if (!present) {
            v.check(!required, field, "is required");
            return;
        }
        if (value.getNanos() < 0 || value.getNanos() > 999_999_999) {
            v.add(field, "has invalid nanos " + value.getNanos());
            return;
        }
        long seconds = value.getSeconds();
        if (seconds <= now.getEpochSecond()) {
            v.add(field, "must be in the future");
        } else if (seconds - now.getEpochSecond() > Limits.MAX_EXPIRY_AHEAD_SECONDS) {
            v.add(field, "must be at most 10 years ahead");
        }
    }

    public static Instant toInstant(Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    }

    public static Timestamp toTimestamp(Instant i) {
        return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
    }
}
