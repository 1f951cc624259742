package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalDouble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PgBenchTest {
    @Test
    void tpsIsReadFromPgbenchsReport() {
        String out = """
                transaction type: /tmp/pgbench-payment.sql
                scaling factor: 1
                number of clients: 32
                number of transactions actually processed: 39742
                latency average = 16.096 ms
                initial connection time = 25.370 ms
                tps = 1988.061830 (without initial connection time)
                """;
        assertEquals(OptionalDouble.of(1988.061830), PgBench.parseTps(out));
        assertEquals(OptionalDouble.of(16.096), PgBench.parseLatencyMillis(out));
        assertTrue(PgBench.parseTps("pgbench: error: connection refused").isEmpty());
    }

    @Test
    void thirtyTwoClientsTwoThreadsOneScriptNoVacuum() {
        List<String> c = PgBench.command(Path.of("/usr/bin/pgbench"), 5432, "agentspend", Duration.ofSeconds(20),
                Path.of("s.sql"));
        assertEquals(List.of("/usr/bin/pgbench", "-h", "localhost", "-p", "5432", "-U", "postgres", "-n", "-c", "32",
                "-j", "2", "-T", "20", "-f", "s.sql", "agentspend"), c);
    }

    @Test
    void theScriptIsOnePaymentPerTransaction() {
        String s = PgBench.SCRIPT;
        assertTrue(s.contains("BEGIN;") && s.contains("END;"));
        assertTrue(s.contains("spent_micros + :amount <= cap_micros"), "conditional on the cap");
        assertTrue(s.contains("ON CONFLICT (request_id) DO NOTHING"), "idempotent insert");
    }
}
