package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class DatabaseAuditTest {
    @Test
    void onlyDaysAboveTheCapCountAndByHowMuch() {
        List<DatabaseAudit.CapExcess> over = DatabaseAudit.capExcesses(Map.of("a", 30_000L, "b", 30_000L), List.of(
                new DatabaseAudit.DaySpend("a", "2026-01-01", 30_000),
                new DatabaseAudit.DaySpend("b", "2026-01-01", 31_000),
                new DatabaseAudit.DaySpend("c", "2026-01-01", 99_000_000)));   // no cap given: not checked
        assertEquals(1, over.size());
        assertEquals("b", over.get(0).agentId());
        assertEquals(1_000, over.get(0).overMicros());
    }

    @Test
    void duplicatesCountEveryExtraOccurrenceOfAnAgentAndRequestId() {
        assertEquals(3, DatabaseAudit.duplicates(List.of(
                new String[]{"a", "r1"}, new String[]{"a", "r1"}, new String[]{"a", "r1"},
                new String[]{"b", "r1"}, new String[]{"b", "r2"}, new String[]{"b", "r2"})));
        assertEquals(0, DatabaseAudit.duplicates(List.of(new String[]{"a", "r1"}, new String[]{"b", "r1"})));
    }
}
