package dev.agentspend.identity.store;

import com.google.protobuf.Timestamp;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;

/** Conversions between proto timestamps and PostgreSQL timestamptz (microsecond precision). */
public final class Times {
    private Times() {
    }

    /** Now, cut to what PostgreSQL stores, so that a value read back equals the value returned. */
    public static Instant now() {
        return Instant.now().truncatedTo(ChronoUnit.MICROS);
    }

    public static OffsetDateTime toDb(Instant i) {
        return i == null ? null : OffsetDateTime.ofInstant(i, ZoneOffset.UTC);
    }

    public static OffsetDateTime toDb(Timestamp t) {
        return toDb(toInstant(t));
    }

    public static Instant toInstant(Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos()).truncatedTo(ChronoUnit.MICROS);
    }

    public static Timestamp toProto(Instant i) {
        return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
    }

    public static Timestamp toProto(OffsetDateTime t) {
        return toProto(t.toInstant());
    }
}
