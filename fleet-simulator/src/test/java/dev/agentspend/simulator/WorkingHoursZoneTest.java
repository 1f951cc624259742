package dev.agentspend.simulator;

import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.identity.v1.WorkingInterval;
import org.junit.jupiter.api.Test;

import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The night owl's zone makes it 3 a.m. on its clock whatever the hour of the run. */
class WorkingHoursZoneTest {
    @Test
    void everyUtcHourGetsAnIanaZoneWhereItIsTheWantedLocalHour() {
        for (int utcHour = 0; utcHour < 24; utcHour++) {
            for (int wanted : new int[]{3, 12}) {
                WorkingHours h = FleetSimulator.workingHoursWhereLocalHourIs(wanted, 9 * 60, 17 * 60, utcHour);
                ZoneId zone = ZoneId.of(h.getTimeZone());
                assertTrue(ZoneId.getAvailableZoneIds().contains(h.getTimeZone()), h.getTimeZone() + " is an IANA id");
                ZonedDateTime utc = ZonedDateTime.of(2026, 11, 29, utcHour, 30, 0, 0, ZoneOffset.UTC);
                assertEquals(wanted, utc.withZoneSameInstant(zone).getHour(), "UTC hour " + utcHour + " in " + zone);
                assertEquals(7, h.getIntervalsCount(), "every day of the week");
                for (WorkingInterval i : h.getIntervalsList()) {
                    assertEquals(9 * 60, i.getStartMinute());
                    assertEquals(17 * 60, i.getEndMinute());
                }
            }
        }
    }
}
