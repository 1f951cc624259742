package dev.agentspend.analytics.domain;

import dev.agentspend.common.api.WorkingSchedule;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.common.error.Violations;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Every metric rule with values computed by hand. */
class MetricsRulesTest {
    private static final WorkingSchedule PARIS_9_TO_5 = new WorkingSchedule(ZoneId.of("Europe/Paris"), List.of(
            new WorkingSchedule.Interval(1, 540, 1020), new WorkingSchedule.Interval(2, 540, 1020), new WorkingSchedule.Interval(3, 540, 1020),
            new WorkingSchedule.Interval(4, 540, 1020), new WorkingSchedule.Interval(5, 540, 1020)));

    @Test
    void taskCostsUseNearestRankPercentiles() {
        TaskCosts c = TaskCosts.of(new long[]{100, 30, 10, 40, 20});
        assertEquals(5, c.count());
        assertEquals(200, c.totalMicros());
        assertEquals(40, c.averageMicros());
        assertEquals(30, c.p50Micros());   // rank ceil(0.5 * 5) = 3
        assertEquals(100, c.p90Micros());  // rank ceil(0.9 * 5) = 5
        assertEquals(100, c.maxMicros());
        assertEquals(TaskCosts.EMPTY, TaskCosts.of(new long[0]));
        assertEquals(3, TaskCosts.of(new long[]{10, 0, 0}).averageMicros(), "rounded down");
        assertEquals(25.0, TaskCosts.changePercent(40, 50, true), 1e-9);
        assertEquals(-50.0, TaskCosts.changePercent(40, 20, true), 1e-9);
        assertTrue(Double.isNaN(TaskCosts.changePercent(0, 20, false)));
    }

    @Test
    void projectedHourlyBudgetSpreadsTheDailyCapOverWorkingHours() {
        Instant monday = Instant.parse("2026-11-30T10:00:00Z");
        Budget capped = Budget.project(48_000_000, 0, false, PARIS_9_TO_5, monday);
        assertEquals(new Budget(6_000_000, Budget.Source.DAILY_CAP), capped);
        assertTrue(capped.exceededBy(6_000_001));
        assertFalse(capped.exceededBy(6_000_000));
        assertEquals(new Budget(2_000_000, Budget.Source.DAILY_CAP), Budget.project(48_000_000, 0, false, WorkingSchedule.none(), monday));
        // Sunday has no working hours: the day's 24 hours
        assertEquals(2_000_000, Budget.project(48_000_000, 0, false, PARIS_9_TO_5, Instant.parse("2026-11-29T10:00:00Z")).hourlyMicros());
        assertEquals(new Budget(1_000_000, Budget.Source.BASELINE), Budget.project(0, 24_000_000, true, WorkingSchedule.none(), monday));
        Budget none = Budget.project(0, 0, false, WorkingSchedule.none(), monday);
        assertEquals(Budget.Source.NONE, none.source());
        assertFalse(none.exceededBy(Long.MAX_VALUE));
    }

    @Test
    void velocityWindowsEndAtTheCurrentMinute() {
        Instant now = Instant.parse("2026-11-29T10:30:20Z");
        Map<Instant, Long> spend = new HashMap<>();
        spend.put(Instant.parse("2026-11-29T10:30:00Z"), 60L);
        spend.put(Instant.parse("2026-11-29T10:29:00Z"), 40L);
        spend.put(Instant.parse("2026-11-29T10:26:00Z"), 100L);
        spend.put(Instant.parse("2026-11-29T09:31:00Z"), 10L);
        spend.put(Instant.parse("2026-11-29T09:30:00Z"), 1000L);
        List<Velocity.Window> w = Velocity.windows(spend, now);
        assertEquals(new Velocity.Window(1, 60, 60, 3600), w.get(0));
        assertEquals(new Velocity.Window(5, 200, 40, 2400), w.get(1));
        assertEquals(new Velocity.Window(15, 200, 13, 800), w.get(2));
        assertEquals(new Velocity.Window(60, 210, 3, 210), w.get(3));
    }

    @Test
    void capWindowsAreUtcCalendarWindows() {
        Instant now = Instant.parse("2026-11-29T10:30:00Z"); // a Sunday
        assertEquals(new CapWindows.Range(Instant.parse("2026-11-29T10:00:00Z"), Instant.parse("2026-11-29T11:00:00Z")),
                CapWindows.current(CapWindows.Kind.HOUR, now));
        assertEquals(new CapWindows.Range(Instant.parse("2026-11-29T00:00:00Z"), Instant.parse("2026-11-30T00:00:00Z")),
                CapWindows.current(CapWindows.Kind.DAY, now));
        assertEquals(new CapWindows.Range(Instant.parse("2026-11-23T00:00:00Z"), Instant.parse("2026-11-30T00:00:00Z")),
                CapWindows.current(CapWindows.Kind.WEEK, now));
        assertEquals(new CapWindows.Range(Instant.parse("2026-11-01T00:00:00Z"), Instant.parse("2026-12-01T00:00:00Z")),
                CapWindows.current(CapWindows.Kind.MONTH, now));
        assertEquals(new CapWindows.Range(null, null), CapWindows.current(CapWindows.Kind.LIFETIME, now));
        assertEquals(200, CapWindows.effectiveLimit(100, 200, now.plusSeconds(1), now));
        assertEquals(100, CapWindows.effectiveLimit(100, 200, now, now));
        assertFalse(CapWindows.over80Percent(80, 100));
        assertTrue(CapWindows.over80Percent(81, 100));
        assertFalse(CapWindows.over80Percent(81, 0));
        // a cap may be as large as a long: judged exactly, never overflowing
        assertFalse(CapWindows.over80Percent(4, 5));
        assertTrue(CapWindows.over80Percent(5, 6));   // 25 > 24
        assertFalse(CapWindows.over80Percent(4, 6));  // 20 < 24
        long max = Long.MAX_VALUE;                     // 4/5 of it is 7378697629483820645.6
        assertFalse(CapWindows.over80Percent(7_378_697_629_483_820_645L, max));
        assertTrue(CapWindows.over80Percent(7_378_697_629_483_820_646L, max));
        assertFalse(CapWindows.over80Percent(-1, max));
        assertEquals(1, DailyUtilization.of(Map.of(LocalDate.parse("2026-11-29"), max), LocalDate.parse("2026-11-29"), max)
                .daysOver80Percent7d());
    }

    @Test
    void aBudgetFromTheLargestCapSaturatesInsteadOfOverflowing() {
        Instant monday = Instant.parse("2026-11-30T10:00:00Z");
        assertEquals(Long.MAX_VALUE / 24, Budget.project(Long.MAX_VALUE, 0, false, WorkingSchedule.none(), monday).hourlyMicros());
        assertEquals(Long.MAX_VALUE, Budget.perHour(Long.MAX_VALUE, 1));
        // 1e18 per day over 1440 minutes: 41666666666666666 per hour, rounded down
        assertEquals(41_666_666_666_666_666L, Budget.perHour(1_000_000_000_000_000_000L, 1440));
        assertEquals(2_000_000, Budget.perHour(48_000_000, 1440));
        assertEquals(7, Budget.perHour(3, 25));       // 180 / 25 = 7.2
        assertThrows(IllegalArgumentException.class, () -> Budget.perHour(1, 0));
    }

    @Test
    void dailyUtilizationOverSevenAndFourteenDays() {
        LocalDate today = LocalDate.parse("2026-11-29");
        Map<LocalDate, Long> spend = new HashMap<>();
        spend.put(today, 90L);
        spend.put(today.minusDays(1), 81L);
        spend.put(today.minusDays(2), 80L);
        spend.put(today.minusDays(3), 100L);
        spend.put(today.minusDays(6), 85L);
        spend.put(today.minusDays(7), 50L);   // only in the 14 days
        spend.put(today.minusDays(14), 100L); // in neither
        DailyUtilization u = DailyUtilization.of(spend, today, 100);
        assertEquals(4, u.daysOver80Percent7d()); // 90, 81, 100, 85; 80 is not over
        assertEquals(436.0 / 700, u.average7d(), 1e-12);
        assertEquals(486.0 / 1400, u.average14d(), 1e-12);
        assertEquals(14, u.days().size());
        assertEquals(today.minusDays(13), u.days().get(0).day());
        assertEquals(0.9, u.days().get(13).utilization(), 1e-12);
    }

    @Test
    void capAdviceFromFourteenCompleteDays() {
        LocalDate today = LocalDate.parse("2026-11-29");
        Map<LocalDate, Long> spend = new HashMap<>();
        for (LocalDate d = LocalDate.parse("2026-11-10"); d.isBefore(today.plusDays(1)); d = d.plusDays(1)) {
            spend.put(d, 1_000_000L);
        }
        spend.put(LocalDate.parse("2026-11-20"), 5_000_000L);
        spend.put(today, 50_000_000L); // today is not complete: ignored
        CapAdvice a = CapAdvice.of(spend, LocalDate.parse("2026-11-10"), today, 2.5);
        assertEquals(14, a.daysOfData());           // 2026-11-15 .. 2026-11-28
        assertEquals(1_285_714, a.averageDailyMicros()); // 18,000,000 / 14
        assertEquals(5_000_000, a.peakDailyMicros());
        assertEquals(3_220_000, a.recommendedDailyCapMicros()); // ceil(45,000,000 / 14) = 3,214,286 -> next cent
        assertTrue(a.sufficientData());

        CapAdvice young = CapAdvice.of(spend, LocalDate.parse("2026-11-25"), today, 2.0);
        assertEquals(4, young.daysOfData());
        assertEquals(1_000_000, young.averageDailyMicros());
        assertEquals(2_000_000, young.recommendedDailyCapMicros());
        assertFalse(young.sufficientData());
        assertTrue(young.note().contains("Only 4 complete days"), young.note());

        // seven days and more, but nothing spent (or refunds outweighing it): no cap to apply
        Map<LocalDate, Long> refunded = new HashMap<>(Map.of(LocalDate.parse("2026-11-20"), -3_000_000L));
        CapAdvice idle = CapAdvice.of(refunded, LocalDate.parse("2026-11-10"), today, 2.0);
        assertEquals(14, idle.daysOfData());
        assertTrue(idle.recommendedDailyCapMicros() <= 0);
        assertFalse(idle.sufficientData());
        assertTrue(idle.note().contains("No net spend"), idle.note());
        assertFalse(CapAdvice.of(Map.of(), LocalDate.parse("2026-11-10"), today, 2.0).sufficientData());

        CapAdvice none = CapAdvice.of(spend, today, today, 3.0);
        assertEquals(0, none.daysOfData());
        assertFalse(none.sufficientData());
        assertThrows(IllegalArgumentException.class, () -> CapAdvice.of(spend, today, today, 3.5));
    }

    @Test
    void triggersAreStrictAndInIntegers() {
        assertFalse(Triggers.costPerTaskUp(100, 120, true));
        assertTrue(Triggers.costPerTaskUp(100, 121, true));
        assertFalse(Triggers.costPerTaskUp(100, 1000, false));
        assertFalse(Triggers.toolConcentration(50, 100));
        assertTrue(Triggers.toolConcentration(51, 100));
        assertFalse(Triggers.toolConcentration(0, 0));
        assertFalse(Triggers.capUtilizationHigh(3));
        assertTrue(Triggers.capUtilizationHigh(4));
        assertEquals(java.util.EnumSet.allOf(Triggers.Trigger.class), Triggers.of(100, 121, true,
                new Budget(10, Budget.Source.DAILY_CAP), 11, 51, 100, 4));
        assertTrue(Triggers.of(100, 120, true, new Budget(10, Budget.Source.DAILY_CAP), 10, 50, 100, 3).isEmpty());
    }

    @Test
    void invoiceCsvIsParsedExactlyAndEveryBadLineIsReported() {
        List<InvoiceCsv.Line> lines = InvoiceCsv.parse("tool,period_start,period_end,amount\r\n"
                + "openai/chat,2026-11-01,2026-11-30,12.345678\n\nsearch,2026-11-01,2026-11-01,3\n");
        assertEquals(2, lines.size());
        assertEquals(new InvoiceCsv.Line(2, "openai/chat", LocalDate.parse("2026-11-01"), LocalDate.parse("2026-11-30"),
                12_345_678), lines.get(0));
        assertEquals(3_000_000, lines.get(1).amountMicros());
        assertNull(InvoiceCsv.toMicros("1.2345678"));
        assertNull(InvoiceCsv.toMicros("-1"));
        assertNull(InvoiceCsv.toMicros("abc"));
        ApiException e = assertThrows(ApiException.class, () -> InvoiceCsv.parse("tool,period_start,period_end,amount\n"
                + "a,2026-11-02,2026-11-01,1\nb,nope,2026-11-01,1\nc,2026-11-01,2026-11-01,1.1234567\nd,1\n"));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        assertEquals(List.of("csv.line[2].period_end", "csv.line[3].period", "csv.line[4].amount", "csv.line[5]", "csv"),
                e.violations().stream().map(v -> v.field()).toList());
        assertThrows(ApiException.class, () -> InvoiceCsv.parse("vendor,amount\nx,1\n"));
    }

    @Test
    void accessRoles() {
        assertEquals(Access.Role.NONE, Access.of(null, "adm", "svc"));
        assertEquals(Access.Role.NONE, Access.of("Bearer nope", "adm", "svc"));
        assertEquals(Access.Role.ADMIN, Access.of("Bearer adm", "adm", "svc"));
        assertEquals(Access.Role.SERVICE, Access.of("Bearer svc", "adm", "svc"));
        String agentKey = dev.agentspend.common.auth.ApiKeys.generate().fullKey();
        assertEquals(Access.Role.AGENT_KEY, Access.of("Bearer " + agentKey, "adm", "svc"));
        assertEquals(ErrorCode.UNAUTHENTICATED, assertThrows(ApiException.class, () -> Access.requireRead(Access.Role.NONE)).code());
        assertEquals(ErrorCode.PERMISSION_DENIED, assertThrows(ApiException.class, () -> Access.requireRead(Access.Role.AGENT_KEY)).code());
        assertEquals(ErrorCode.PERMISSION_DENIED, assertThrows(ApiException.class, () -> Access.requireAdmin(Access.Role.SERVICE)).code());
        Access.requireRead(Access.Role.SERVICE);
        Access.requireAdmin(Access.Role.ADMIN);
    }

    @Test
    void windowsDefaultToTheLastDaysAndRefuseBadBounds() {
        Instant now = Instant.parse("2026-11-29T10:30:20Z");
        Violations v = new Violations();
        Windows w = Windows.resolve(null, null, Duration.ofDays(7), now, v);
        assertTrue(v.isEmpty());
        assertEquals(Instant.parse("2026-11-29T10:31:00Z"), w.end());
        assertEquals(Instant.parse("2026-11-22T10:31:00Z"), w.start());
        Violations bad = new Violations();
        Windows.resolve(Instant.parse("2026-11-29T10:00:01Z"), Instant.parse("2026-11-29T10:00:00Z"), Duration.ofDays(7), now, bad);
        ApiException e = assertThrows(ApiException.class, bad::throwIfAny);
        assertEquals(List.of("start_time", "start_time"), e.violations().stream().map(x -> x.field()).toList());
    }
}
