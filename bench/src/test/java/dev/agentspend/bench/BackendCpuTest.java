package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class BackendCpuTest {
    private static BackendCpu.Backend b(String client, double cpuSeconds) {
        return new BackendCpu.Backend(client, cpuSeconds);
    }

    @Test
    void countsEachClientsBackendsAliveThroughTheWindow() {
        Map<Long, BackendCpu.Backend> start = Map.of(
                1L, b("ledger-service", 10.0), 2L, b("ledger-service", 4.0), 3L, b("alert-service-consumer", 1.0),
                4L, b("autovacuum worker", 0.5),   // ends inside the window: other
                5L, b("PostgreSQL JDBC Driver", 0.1));
        Map<Long, BackendCpu.Backend> end = Map.of(
                1L, b("ledger-service", 12.5), 2L, b("ledger-service", 4.25), 3L, b("alert-service-consumer", 1.75),
                6L, b("autovacuum worker", 0.3),   // starts inside the window: other
                5L, b("client backend", 0.2));     // the pid was reused by someone else: not counted
        assertEquals(Map.of("ledger-service", 2.75, "alert-service-consumer", 0.75), BackendCpu.byClient(start, end));
    }

    @Test
    void theReportLineListsClientsLargestFirstAndTheRestAsOther() {
        PhaseResult phase = new PhaseResult("a", 20);
        phase.completed = 1_000;
        String line = Report.byClient(Map.of(1L, b("ledger-service", 1.0), 2L, b("alert-service-consumer", 1.0),
                        3L, b("walwriter", 1.0)),
                Map.of(1L, b("ledger-service", 1.3), 2L, b("alert-service-consumer", 1.1), 3L, b("walwriter", 1.0)),
                0.5, phase);
        assertEquals("ledger-service 0.300, alert-service-consumer 0.100, other 0.100", line);
        assertEquals("n/a", Report.byClient(Map.of(), Map.of(), 0.5, phase));
    }
}
