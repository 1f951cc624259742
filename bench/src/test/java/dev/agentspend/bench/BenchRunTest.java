package dev.agentspend.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The benchmark end to end, small: the four services from their built jars on the benchmark's own
 * durable PostgreSQL, 20 agents, 4 clients at a fixed rate of 50 payments/s (the closed loop's
 * client is LoadPhaseTest's), 3 measured seconds per phase. It checks what must hold whatever the
 * machine's speed (no overspend, no duplicate, a clean VerifyLedger, every process stopped, the
 * last line's format), never a speed; only that 50 payments/s, a small share of what this stack
 * does, are about reached.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class BenchRunTest {

    @Test
    void aShortRunReportsNoOverspendNoDuplicateAndTheLastLine() throws Exception {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(new Tee(System.out, captured), true, StandardCharsets.UTF_8);
        BenchOptions options = BenchOptions.parse(new String[]{"--agents", "20", "--clients", "4", "--rate", "20",
                "--duration", "3", "--warmup", "2", "--statements", "--state-dir", Path.of("target", "bench-run-test").toString()},
                Path.of("unused"));

        Report.Figures f = BenchMain.run(options, out);

        List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().toList();
        String last = lines.get(lines.size() - 1);
        Matcher m = ReportTest.LAST_LINE.matcher(last);
        assertTrue(m.matches(), "last line: " + last);
        assertEquals("0", m.group(6), "overspend");
        assertEquals("0", m.group(7), "duplicates");
        assertFalse(m.group(1).equals("n/a") || m.group(3).equals("n/a"), "both phases measured: " + last);
        assertTrue(f.fleet.completed > 0 && f.hot.completed > 0, "payments were made in both phases");
        // both payment phases paced at the offered rate, and the report says so
        assertTrue(lines.get(0).contains("4 clients, fixed rate of 20 payments/s offered"), lines.get(0));
        for (PhaseResult p : List.of(f.fleet, f.hot)) {
            assertEquals(20, p.offeredPerSecond.getAsInt(), p.name);
            // 60 answers due in 3 s; loose, for a test machine whose cores are shared
            assertTrue(p.perSecond() >= 16 && p.perSecond() <= 25, "phase " + p.name + " achieved " + p.perSecond());
        }
        assertEquals(2, lines.stream().filter(l -> l.matches("  offered 20 payments/s, achieved \\d+\\.\\d \\(\\d+\\.\\d%\\)"))
                .count(), "offered and achieved in both phases");
        assertEquals(2, lines.stream().filter(l -> l.startsWith("  latency ms from each call's scheduled time")).count());
        assertEquals(2, lines.stream().filter(l -> l.matches("  service time ms \\(sent to answer\\): p50 \\d+\\.\\d{2}  p99 \\d+\\.\\d{2}"))
                .count(), "service time in both phases");
        assertTrue(lines.get(lines.size() - 2).contains("not capacity figures"), "the last line's figures are explained");
        assertTrue(f.floor.completed > 0 && f.floor.errors.isEmpty(),
                "the transport floor's empty calls were answered: " + f.floor.errors);
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("  Pay reached ")), "the floor is compared with Pay");
        // every service is a JVM with counters: each phase's pause line names the ledger with its figures
        assertTrue(lines.stream().filter(l -> l.startsWith("    phase ") && l.matches(
                ".*ledger-service \\d+ in \\d+ ms / \\d+ in \\d+ ms / \\d+ in \\d+ ms.*")).count() == 2,
                "GC pauses of both phases");
        // PostgreSQL's CPU by client: the ledger's backends, named by the ledger's pool, did the payments
        assertTrue(BackendCpu.byClient(f.fleetBackendsStart, f.fleetBackendsEnd).getOrDefault("ledger-service", 0.0) > 0,
                "the ledger's backends used CPU in phase A: " + f.fleetBackendsEnd);
        assertTrue(lines.stream().filter(l -> l.startsWith("    phase ") && l.matches(".*ledger-service \\d+\\.\\d{3}.*other \\d+\\.\\d{3}"))
                .count() == 2, "PostgreSQL by client in both phases");
        // analytics and alerts stream the feed in phase A: the ledger counted their pages by source
        assertTrue(f.fleetLedgerEnd.feedPagesFromMemory() + f.fleetLedgerEnd.feedPagesFromDatabase()
                > f.fleetLedgerStart.feedPagesFromMemory() + f.fleetLedgerStart.feedPagesFromDatabase(),
                "feed pages read in phase A: " + f.fleetLedgerStart + " -> " + f.fleetLedgerEnd);
        assertEquals(2, lines.stream().filter(l -> l.matches(
                "  ledger feed pages \\(StreamEntries\\): (\\d+ from memory, \\d+ from the database .*|none in the window)"))
                .count(), "the feed line of both phases");
        // the ledger times each stage of a payment: both phases' windows hold calls and batches
        assertEquals(2, lines.stream().filter(l -> l.matches("  time in the ledger ms \\(.*\\): queue wait per call mean"
                + " \\d+\\.\\d+ .*; then per batch: preparing mean \\d+\\.\\d+ .*; committing mean \\d+\\.\\d+ .*")).count(),
                "the stage line of both phases");
        // the alert service exposes its detection latency as a histogram the bench reads at both ends
        assertTrue(f.alertDetectionStart != null && f.alertDetectionEnd != null, "detection latency histogram read");
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("  alert detection latency (")
                && l.contains("; over the whole run: ")), "the detection line");
        assertTrue(f.verify != null && f.verify.getConsistent(), "VerifyLedger: " + f.verify);
        assertTrue(BenchMain.passed(f), "no overspend, duplicate or lost approval");
        assertTrue(lines.stream().anyMatch(l -> l.contains("synchronous_commit=on")), "the database is durable");
        assertEquals(null, f.statementsError, "pg_stat_statements");
        assertTrue(f.statements.stream().anyMatch(r -> r.query().contains("ledger.window_counters") && r.calls() > 0),
                "--statements lists the payment path's statements: " + f.statements);
        assertEquals(null, f.walError, "pg_walinspect");
        assertTrue(f.wal.entries() > 0 && f.wal.walBytes() > 0 && f.wal.records() > 0, "WAL of phase A: " + f.wal);
        assertTrue(f.wal.relations().stream().anyMatch(r -> r.name().equals("ledger.entries") && r.blockRefs() > 0),
                "the entries written show on ledger.entries, by name: " + f.wal);
        assertTrue(lines.stream().anyMatch(l -> l.matches("  \\d+ entries: \\d+ bytes and \\d+\\.\\d records per entry")),
                "the WAL line of the report");
        // the disk figures: the WAL of phase A's window as the marks saw it, every service's schema after the run
        // an entry row alone is some 400 bytes of WAL: fewer per entry would be a mark read wrongly
        assertTrue(f.walEnd.walBytesSince(f.walStart) > 200 * f.walEnd.entriesSince(f.walStart),
                "WAL between the marks: " + f.walStart + " " + f.walEnd);
        assertTrue(lines.stream().anyMatch(l -> l.matches("  WAL written in phase A's window: \\d+ bytes per ledger entry, .*")),
                "the report's WAL line");
        assertEquals(DiskUsage.SCHEMAS.size(), f.disk.schemas().size(), "every service's schema: " + f.disk);
        assertEquals(f.verify.getEntryCount(), f.disk.ledgerEntries(), "the ledger's entries");
        assertTrue(f.disk.ledgerBytesPerEntry() > 100, "an entry and its idempotency row take bytes: " + f.disk);

        // nothing is left running: no service JVM, no PostgreSQL of this run (a running process has
        // resident memory; a stopped one is gone, or a zombie with none until its reaper collects it)
        f.atRest.keySet().forEach(name -> {
            if (!name.equals("bench client")) {
                assertEquals(0, ProcessStats.sample(new ProcessStats.Watched(name, f.pids.get(name), false)).rssKb(),
                        name + " stopped");
            }
        });
    }

    /** Writes to two streams. */
    private static final class Tee extends OutputStream {
        private final OutputStream a;
        private final OutputStream b;

        Tee(OutputStream a, OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void write(int x) {
            try {
                a.write(x);
                b.write(x);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void write(byte[] buf, int off, int len) {
            try {
                a.write(buf, off, len);
                b.write(buf, off, len);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }
}
