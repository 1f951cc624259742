package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import java.util.OptionalLong;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReportTest {
    /** The last line's format, as documented in the README (also used by the run test). */
    static final Pattern LAST_LINE = Pattern.compile("payments_per_s=(\\d+\\.\\d|n/a) p99_ms=(\\d+\\.\\d{2}|n/a)"
            + " hot_agent_per_s=(\\d+\\.\\d|n/a) pgbench_tps=(\\d+\\.\\d|n/a) ratio=(\\d+\\.\\d{2}|n/a)"
            + " overspend=(\\d+|n/a) duplicates=(\\d+|n/a)");

    @Test
    void lastLineHasEveryFigureAndTheRatioWithTwoDecimals() {
        String line = Report.lastLine(1234.56, 12.345, 321.0, 2000.0, OptionalLong.of(0), OptionalLong.of(0));
        assertEquals("payments_per_s=1234.6 p99_ms=12.35 hot_agent_per_s=321.0 pgbench_tps=2000.0 ratio=0.62"
                + " overspend=0 duplicates=0", line);
        assertTrue(LAST_LINE.matcher(line).matches(), line);
    }

    @Test
    void whatWasNotMeasuredIsNotApplicable() {
        String line = Report.lastLine(100.0, 5.0, 50.0, null, OptionalLong.empty(), OptionalLong.of(2));
        assertEquals("payments_per_s=100.0 p99_ms=5.00 hot_agent_per_s=50.0 pgbench_tps=n/a ratio=n/a"
                + " overspend=n/a duplicates=2", line);
        assertTrue(LAST_LINE.matcher(line).matches(), line);
    }
}
