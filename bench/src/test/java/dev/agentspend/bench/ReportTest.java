package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

    private static List<String> phaseLines(PhaseResult p) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Report.phase(new PrintStream(bytes, true, StandardCharsets.UTF_8), "Phase A", p);
        return bytes.toString(StandardCharsets.UTF_8).lines().toList();
    }

    private static PhaseResult phase(OptionalInt offered, long completed) {
        PhaseResult p = new PhaseResult("a", 10);
        p.offeredPerSecond = offered;
        p.completed = completed;
        p.latencyMicros.recordValue(300_000);
        p.serviceMicros.recordValue(2_000);
        return p;
    }

    @Test
    void aClosedLoopPhaseHasNoOfferedRateAndNoServiceTimeLine() {
        List<String> lines = phaseLines(phase(OptionalInt.empty(), 1000));
        assertTrue(lines.contains("  payments/s 100.0 (approved/s 0.0), 1000 calls in 10.0 s"), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("  latency ms: p50 ")), lines.toString());
        assertFalse(lines.stream().anyMatch(l -> l.contains("offered") || l.contains("service time")), lines.toString());
    }

    @Test
    void aFixedRatePhaseSaysOfferedAndAchievedAndTheServiceTime() {
        List<String> lines = phaseLines(phase(OptionalInt.of(100), 990));
        assertEquals("  offered 100 payments/s, achieved 99.0 (99.0%)", lines.get(2));
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("  latency ms from each call's scheduled time")
                && l.contains("no coordinated omission): p50 300.03")), lines.toString());
        assertTrue(lines.contains("  service time ms (sent to answer): p50 2.00  p99 2.00"), lines.toString());
        assertFalse(lines.stream().anyMatch(l -> l.contains("could not keep up")), lines.toString());
    }

    @Test
    void aFixedRatePhaseThatFellBehindIsFlagged() {
        List<String> lines = phaseLines(phase(OptionalInt.of(100), 960));
        assertEquals("  offered 100 payments/s, achieved 96.0 (96.0%)", lines.get(2));
        assertEquals("  could not keep up (achieved below 97% of offered): the figures are a closed-loop-like overload,"
                + " not the fixed-rate comparison", lines.get(3));
    }

    @Test
    void aFixedRatePhaseThatCaughtUpABacklogIsFlagged() {
        PhaseResult p = phase(OptionalInt.of(100), 1111);
        p.clients = 64;
        List<String> lines = phaseLines(p);
        assertEquals("  offered 100 payments/s, achieved 111.1 (111.1%)", lines.get(2));
        assertTrue(lines.get(3).startsWith("  more than offered: the clients were still catching up calls"), lines.get(3));
    }

    private static List<String> diskLines(Report.Figures f) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Report.printDisk(new PrintStream(bytes, true, StandardCharsets.UTF_8), f);
        return bytes.toString(StandardCharsets.UTF_8).lines().toList();
    }

    @Test
    void diskGivesTheWalAndTheLedgerPerEntryAndTheirDayAtPhaseARate() {
        Report.Figures f = new Report.Figures();
        f.fleet = new PhaseResult("a", 20);
        f.walStart = new WalStats.Mark("1/0", 1_000);
        f.walEnd = new WalStats.Mark("1/1E8480", 2_000);   // 2,000,000 bytes for 1,000 entries in 20 s
        f.disk = new DiskUsage.Sizes(List.of(new DiskUsage.Schema("ledger", 3_000_000), new DiskUsage.Schema("alerts", 150_000)),
                3_000, 1_200_000);
        List<String> lines = diskLines(f);
        assertEquals("  WAL written in phase A's window: 2000 bytes per ledger entry, 0.1 MB/s (1000 entries in 20.0 s);"
                + " a day: 9 GB", lines.get(1));
        assertEquals("  schemas after the run (tables with their indexes and TOAST): ledger 3.0 MB, alerts 0.2 MB;"
                + " the ledger's 3000 entries: 1000 bytes each", lines.get(2));
        // 50 entries a second: 600 bytes an entry kept for good (2.59 GB a day), 400 in idempotency rows (1.73 GB
        // a day, 12.1 GB in a week)
        assertEquals("  the ledger's tables at phase A's rate: 3 GB a day kept for good (entries, 600 bytes each);"
                + " idempotency rows 2 GB a day, 12 GB held at the default retention of 7 days", lines.get(3));
    }

    @Test
    void diskSaysWhatItCouldNotMeasure() {
        Report.Figures f = new Report.Figures();
        f.fleet = new PhaseResult("a", 20);
        f.walError = "connection refused";
        f.diskError = "connection refused";
        List<String> lines = diskLines(f);
        assertEquals(List.of("  WAL: not measured: connection refused", "  schemas: not measured: connection refused"),
                lines.subList(1, 3));
    }
}
