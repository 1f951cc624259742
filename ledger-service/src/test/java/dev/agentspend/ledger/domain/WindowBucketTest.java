package dev.agentspend.ledger.domain;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.IsoFields;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The calendar buckets, kept per hour, against their definition computed afresh for every instant. */
class WindowBucketTest {
    private static String expected(Window w, Instant t) {
        ZonedDateTime z = t.atZone(ZoneOffset.UTC);
        LocalDate d = z.toLocalDate();
        return switch (w) {
            case HOUR -> String.format("H:%s:%02d", d, z.getHour());
            case DAY -> "D:" + d;
            case WEEK -> String.format("W:%d-W%02d", d.get(IsoFields.WEEK_BASED_YEAR), d.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR));
            case MONTH -> String.format("M:%d-%02d", d.getYear(), d.getMonthValue());
            default -> throw new IllegalArgumentException(w.name());
        };
    }

    @Test
    void everyCalendarBucketMatchesItsDefinitionWhateverTheOrderOfTheInstants() {
        Random random = new Random(7);
        Instant[] edges = {
                Instant.parse("2026-12-31T23:59:59.999Z"), Instant.parse("2027-01-01T00:00:00Z"),
                Instant.parse("2026-12-28T00:00:00Z"), Instant.parse("2027-01-03T23:00:00Z"),
                Instant.parse("2027-01-04T00:00:00Z"), Instant.parse("1969-12-31T23:59:59.5Z"),
                Instant.parse("1970-01-01T00:00:00Z"), Instant.parse("2028-02-29T12:30:00Z")};
        for (int i = 0; i < 20_000; i++) {
            Instant t = i < edges.length * 4 ? edges[i % edges.length].plusMillis(i / edges.length - 1)
                    : Instant.ofEpochSecond(random.nextLong(-2_000_000_000L, 4_000_000_000L), random.nextInt(1_000_000_000));
            for (Window w : new Window[]{Window.HOUR, Window.DAY, Window.WEEK, Window.MONTH}) {
                assertEquals(expected(w, t), w.bucket(t, null), w + " at " + t);
            }
        }
    }

    @Test
    void theOtherWindowsAreNotCalendarBuckets() {
        Instant t = Instant.parse("2026-11-30T12:00:00Z");
        assertNull(Window.PAYMENT.bucket(t, "task"));
        assertEquals("T:task-1", Window.TASK.bucket(t, "task-1"));
        assertEquals("L", Window.LIFETIME.bucket(t, null));
    }
}
