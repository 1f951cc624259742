package dev.agentspend.bench;

import dev.agentspend.proto.ledger.v1.LedgerViolation;
import dev.agentspend.proto.ledger.v1.VerifyLedgerResponse;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalLong;

/**
 * The benchmark's report: each phase's figures, CPU and memory per process, analytics and alert
 * lag, the database audit, VerifyLedger and pgbench, then one machine-readable last line.
 */
final class Report {
    /** Everything the run measured; what could not be measured stays null or empty. */
    static final class Figures {
        BenchOptions options;
        String loadBefore = "?";
        String loadAfter = "?";
        int fleetAgents;
        int tightCapAgents;
        int tightBalanceAgents;
        PhaseResult fleet;
        PhaseResult hot;
        /** The ledger's counters at the edges of phase A's and B's windows (null: not read). */
        LedgerCounters.Mark fleetLedgerStart;
        LedgerCounters.Mark fleetLedgerEnd;
        LedgerCounters.Mark hotLedgerStart;
        LedgerCounters.Mark hotLedgerEnd;
        Map<String, ProcessStats.Usage> atRest = new LinkedHashMap<>();
        /** The process id of each watched process (PostgreSQL: its postmaster). */
        Map<String, Long> pids = new LinkedHashMap<>();
        Map<String, ProcessStats.Usage> fleetStart = new LinkedHashMap<>();
        Map<String, ProcessStats.Usage> fleetEnd = new LinkedHashMap<>();
        Map<String, long[]> fleetPeaks = new LinkedHashMap<>();
        Map<String, ProcessStats.Usage> hotStart = new LinkedHashMap<>();
        Map<String, ProcessStats.Usage> hotEnd = new LinkedHashMap<>();
        Map<String, long[]> hotPeaks = new LinkedHashMap<>();
        /** PostgreSQL's processes at the start and end of phase A's and B's windows (empty: not read). */
        Map<Long, BackendCpu.Backend> fleetBackendsStart = Map.of();
        Map<Long, BackendCpu.Backend> fleetBackendsEnd = Map.of();
        Map<Long, BackendCpu.Backend> hotBackendsStart = Map.of();
        Map<Long, BackendCpu.Backend> hotBackendsEnd = Map.of();
        PhaseResult floor;
        Map<String, ProcessStats.Usage> floorStart = new LinkedHashMap<>();
        Map<String, ProcessStats.Usage> floorEnd = new LinkedHashMap<>();
        LagCalculator.Lags analyticsLag;
        LagCalculator.Lags alertsLag;
        int lagSamples;
        long lagIntervalMillis;
        long backlogAnalytics = -1;
        long backlogAlerts = -1;
        List<String> lagProblems = new ArrayList<>();
        /** What the periodic /q/metrics scrapes did ({@link MetricsScraper#describe}); null if none ran. */
        String scrapes;
        PrometheusHistogram alertDetectionStart;
        PrometheusHistogram alertDetectionEnd;
        Map<String, Double> ledgerSessions = new LinkedHashMap<>();
        /** pg_stat_statements over phase A's window (--statements), most execution time first. */
        List<StatementStats.Row> statements = List.of();
        String statementsError;
        /** Where the WAL stood at the edges of phase A's window; its detail per entry (--statements). */
        WalStats.Mark walStart;
        WalStats.Mark walEnd;
        WalStats.Window wal;
        String walError;
        /** Each schema's size after the run. */
        DiskUsage.Sizes disk;
        String diskError;
        int ledgerSessionSnapshots;
        DatabaseAudit.Result audit;
        String auditError;
        VerifyLedgerResponse verify;
        String verifyError;
        String pgbenchScript;
        String pgbenchCommand;
        OptionalDouble pgbenchTps = OptionalDouble.empty();
        String pgbenchNote;
        String pgbenchOutput;
        /** Approved payments made while setting up the fleet (the tight agents' first payment). */
        long setupApprovals;

        long acknowledgedApprovals() {
            return setupApprovals + (fleet == null ? 0 : fleet.approvedAcknowledgedTotal)
                    + (hot == null ? 0 : hot.approvedAcknowledgedTotal);
        }
    }

    private Report() {
    }

    /** The 1, 5 and 15 minute load averages from /proc/loadavg, or "?". */
    static String loadAverage() {
        try {
            String[] f = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (java.io.IOException | RuntimeException e) {
            return "?";
        }
    }

    static void print(PrintStream out, Figures f) {
        out.println();
        out.println("==================== AgentSpend benchmark ====================");
        out.printf(Locale.ROOT, "fleet: %d agents (%d with a tight HARD daily cap, %d with a tight balance) and one hot"
                        + " agent; payments of 0.001 to 0.01 USD; %d clients, %s; %d s measured after %d s of warm-up per phase;"
                        + " %.0f%% of calls are deliberate retries; %s%n",
                f.fleetAgents, f.tightCapAgents, f.tightBalanceAgents, f.options.clients(), f.options.mode(),
                f.options.duration().toSeconds(), f.options.warmup().toSeconds(), LoadPhase.RETRY_SHARE * 100,
                f.options.tasks());
        out.printf("machine: %d cores; load average %s before the run, %s after phase B (other work on the machine"
                + " shares the cores with the services, PostgreSQL and the clients)%n", Runtime.getRuntime().availableProcessors(),
                f.loadBefore, f.loadAfter);
        if (f.scrapes != null) {
            out.println(f.scrapes);
        }
        phase(out, "Phase A (fleet: each call pays from a random agent)", f.fleet);
        ledgerCounters(out, f.fleet, f.fleetLedgerStart, f.fleetLedgerEnd);
        phase(out, "Phase B (hot agent: every call pays from one agent)", f.hot);
        ledgerCounters(out, f.hot, f.hotLedgerStart, f.hotLedgerEnd);
        floor(out, f);

        out.println();
        out.println("CPU and memory (CPU from /proc/<pid>/stat utime+stime; RSS = VmRSS; PostgreSQL = postmaster and its"
                + " backends, RSS summed, PSS beside it)");
        out.printf("  %-14s %10s %10s | %9s %9s %9s %10s | %9s %9s %9s%n", "process", "start CPU", "rest RSS",
                "A CPU s", "A cores", "A ms/pay", "A peak RSS", "B CPU s", "B cores", "B ms/pay");
        for (String name : f.atRest.keySet()) {
            ProcessStats.Usage rest = f.atRest.get(name);
            double a = cpu(f.fleetStart, f.fleetEnd, name);
            double b = cpu(f.hotStart, f.hotEnd, name);
            long[] peak = f.fleetPeaks.getOrDefault(name, new long[]{0, 0});
            String rss = mb(rest.rssKb()) + (name.equals("postgresql") ? " (" + mb(rest.pssKb()) + ")" : "");
            String peakRss = mb(peak[0]) + (name.equals("postgresql") ? " (" + mb(peak[1]) + ")" : "");
            out.printf(Locale.ROOT, "  %-14s %9.1fs %10s | %9.1f %9.2f %9.3f %10s | %9.1f %9.2f %9.3f%n", name,
                    rest.cpuSeconds(), rss, a, f.fleet == null ? 0 : a / f.fleet.seconds,
                    perPayment(a, f.fleet), peakRss, b, f.hot == null ? 0 : b / f.hot.seconds, perPayment(b, f.hot));
        }
        out.println("  (start CPU: used from start to ready and fleet set-up; rest RSS: after set-up, idle; A/B: the"
                + " measured window; ms/pay: CPU milliseconds per completed Pay)");
        out.println("  PostgreSQL by client (CPU of its backends by application_name, ms per Pay; other: the postmaster"
                + " and processes that came or went in the window, such as autovacuum workers):");
        out.println("    phase A: " + byClient(f.fleetBackendsStart, f.fleetBackendsEnd,
                cpu(f.fleetStart, f.fleetEnd, "postgresql"), f.fleet));
        out.println("    phase B: " + byClient(f.hotBackendsStart, f.hotBackendsEnd, cpu(f.hotStart, f.hotEnd, "postgresql"), f.hot));
        out.println("  JIT compiling in the measured window (each JVM's java.ci.totalTime from its hsperfdata: elapsed"
                + " seconds summed over its compiler threads, beside the CPU seconds the process used):");
        out.println("    phase A: " + compiling(f.fleetStart, f.fleetEnd));
        out.println("    phase B: " + compiling(f.hotStart, f.hotEnd));
        out.println("  GC pauses in the measured window (hsperfdata sun.gc.collector.*: collections and milliseconds"
                + " the world stood still, young / full / other (G1's remark and cleanup)):");
        out.println("    phase A: " + pauses(f.fleetStart, f.fleetEnd));
        out.println("    phase B: " + pauses(f.hotStart, f.hotEnd));

        out.println();
        double every = f.lagSamples == 0 || f.fleet == null ? 0 : f.fleet.seconds * 1000 / f.lagSamples;
        out.printf(Locale.ROOT, "Feed lag during phase A (%d samples, one every %.0f ms, aiming at %d ms; each value is"
                + " accurate to about one sampling interval):%n", f.lagSamples, every, f.lagIntervalMillis);
        lag(out, "analytics (GetIngestionStatus position)", f.analyticsLag);
        lag(out, "alerts (committed consumer position)", f.alertsLag);
        if (f.backlogAnalytics >= 0) {
            out.printf("  backlog at the end of phase A: analytics %d entries, alerts %d entries behind the head%n",
                    f.backlogAnalytics, f.backlogAlerts);
        }
        f.lagProblems.forEach(p -> out.println("  note: " + p));
        out.println("  " + AlertMetrics.describe(f.alertDetectionStart, f.alertDetectionEnd));

        if (!f.ledgerSessions.isEmpty()) {
            out.println();
            out.printf("ledger's PostgreSQL sessions during phase A (pg_stat_activity, %d snapshots; average count"
                    + " per state and wait event):%n", f.ledgerSessionSnapshots);
            f.ledgerSessions.entrySet().stream().limit(8).forEach(e -> out.printf(Locale.ROOT, "  %6.1f  %s%n",
                    e.getValue(), e.getKey()));
        }

        if (!f.statements.isEmpty() || f.statementsError != null) {
            out.println();
            printStatements(out, f);
        }
        if (f.options.statements() && (f.wal != null || f.walError != null)) {
            out.println();
            printWal(out, f);
        }

        out.println();
        out.println("Database audit (JDBC, after the run):");
        if (f.audit != null) {
            DatabaseAudit.Result a = f.audit;
            out.printf("  overspend: %d micros (negative balances: %d agents, %d micros; daily spend above the HARD cap:"
                            + " %d agent-days, %d micros; counters above hard_limit_micros: %d, %d micros)%n",
                    a.overspendMicros(), a.negativeBalanceAgents(), a.negativeBalanceMicros(), a.capExcesses().size(),
                    a.capOverMicros(), a.counterOverRows(), a.counterOverMicros());
            a.capExcesses().stream().limit(5).forEach(e -> out.printf("    %s on %s: spent %d of a %d cap%n",
                    e.agentId(), e.day(), e.spentMicros(), e.capMicros()));
            out.printf("  duplicates: %d (approved payment entries: %d; same agent and request_id more than once)%n",
                    a.duplicates(), a.approvedPayments());
            long acknowledged = f.acknowledgedApprovals();
            out.printf("  approved payments acknowledged to the clients (set-up included): %d, recorded in the database:"
                    + " %d%s%n", acknowledged, a.approvedPayments(), acknowledged > a.approvedPayments() ? "  <-- LOST" : "");
            if (a.unparsedPayloads() > 0) {
                out.printf("  %d payloads could not be parsed as agentspend.ledger.v1.Entry%n", a.unparsedPayloads());
            }
        } else {
            out.println("  not done: " + f.auditError);
        }
        if (f.verify != null) {
            out.printf("  VerifyLedger: consistent=%s, %d entries, %d accounts, %d violations%n", f.verify.getConsistent(),
                    f.verify.getEntryCount(), f.verify.getAccountCount(), f.verify.getViolationsCount());
            for (LedgerViolation v : f.verify.getViolationsList().stream().limit(10).toList()) {
                out.printf("    %s %s: %s%n", v.getCheck(), v.getSubjectId(), v.getDescription());
            }
        } else {
            out.println("  VerifyLedger: not done: " + f.verifyError);
        }

        out.println();
        printDisk(out, f);

        out.println();
        out.printf("pgbench (same PostgreSQL, services stopped, %d clients, %d threads, %d s, synchronous_commit=on):%n",
                PgBench.CLIENTS, PgBench.THREADS, f.options.duration().toSeconds());
        if (f.pgbenchCommand != null) {
            out.println("  command: PGOPTIONS='-c synchronous_commit=on' " + f.pgbenchCommand);
            out.println("  script (one payment per transaction):");
            for (String line : f.pgbenchScript.split("\n")) {
                out.println("    " + line);
            }
        }
        if (f.pgbenchTps.isPresent()) {
            OptionalDouble latency = PgBench.parseLatencyMillis(f.pgbenchOutput == null ? "" : f.pgbenchOutput);
            out.printf(Locale.ROOT, "  tps: %.1f%s%n", f.pgbenchTps.getAsDouble(), latency.isPresent()
                    ? String.format(Locale.ROOT, " (latency average %.2f ms)", latency.getAsDouble()) : "");
        }
        if (f.pgbenchNote != null && !f.pgbenchNote.isEmpty()) {
            out.println("  " + f.pgbenchNote);
        }
        if (f.pgbenchTps.isEmpty() && f.pgbenchOutput != null) {
            out.println("  pgbench output:");
            f.pgbenchOutput.lines().limit(30).forEach(l -> out.println("    " + l));
        }
        out.println();
        if (f.options.ratePerSecond().isPresent()) {
            out.println("(fixed rate: payments_per_s and hot_agent_per_s are the rates achieved at "
                    + f.options.ratePerSecond().getAsInt() + " payments/s offered, not capacity figures)");
        }
        out.println(lastLine(f));
    }

    /** The top statements of phase A (--statements), with their share and time per completed Pay. */
    static void printStatements(PrintStream out, Figures f) {
        out.println("PostgreSQL statements during phase A's measured window (pg_stat_statements, execution time"
                + " inside PostgreSQL's executor, lock and I/O waits included; plans: times planned, a custom plan"
                + " each time where close to calls; every service's statements):");
        if (f.statementsError != null) {
            out.println("  not available: " + f.statementsError);
            return;
        }
        double total = f.statements.stream().mapToDouble(StatementStats.Row::totalMs).sum();
        long pays = f.fleet == null ? 0 : f.fleet.completed;
        out.printf(Locale.ROOT, "  %9s %6s %9s %9s %8s %8s %9s  %s%n", "total ms", "share", "calls", "rows", "ms/pay",
                "plans", "plan ms", "statement");
        f.statements.stream().limit(StatementStats.TOP).forEach(r -> out.printf(Locale.ROOT,
                "  %9.1f %5.1f%% %9d %9d %8.4f %8d %9.1f  %s%n", r.totalMs(), total == 0 ? 0 : 100 * r.totalMs() / total,
                r.calls(), r.rows(), pays == 0 ? 0 : r.totalMs() / pays, r.plans(), r.planMs(), r.query()));
        double planned = f.statements.stream().mapToDouble(StatementStats.Row::planMs).sum();
        out.printf(Locale.ROOT, "  all %d statements: %.1f ms, %.4f ms per completed Pay; planning %.1f ms more, %.4f ms"
                + " per completed Pay%n", f.statements.size(), total, pays == 0 ? 0 : total / pays, planned,
                pays == 0 ? 0 : planned / pays);
    }

    /** The WAL of phase A's window (--statements) per entry written, and the relations that wrote the most. */
    static void printWal(PrintStream out, Figures f) {
        out.println("WAL during phase A's measured window (pg_walinspect; per ledger entry written in the window;"
                + " block refs: pages changed, one per row version, index entry or row lock; record bytes: of the"
                + " records that reference the relation's blocks; fpi: full-page images after a checkpoint):");
        if (f.walError != null) {
            out.println("  not available: " + f.walError);
            return;
        }
        WalStats.Window w = f.wal;
        out.printf(Locale.ROOT, "  %d entries: %.0f bytes and %.1f records per entry%n", w.entries(),
                w.perEntry(w.walBytes()), w.perEntry(w.records()));
        out.printf(Locale.ROOT, "  %10s %12s %10s  %s%n", "block refs", "record bytes", "fpi bytes", "relation");
        w.relations().stream().limit(WalStats.TOP).forEach(r -> out.printf(Locale.ROOT, "  %10.3f %12.1f %10.1f  %s%n",
                w.perEntry(r.blockRefs()), w.perEntry(r.recordBytes()), w.perEntry(r.fullPageBytes()), r.name()));
    }

    /**
     * What a deployment's disks take per payment: the WAL written in phase A's window (every
     * replica, backup and archive of the WAL gets these bytes) and each schema's size after the run,
     * with the day each makes at phase A's rate (a straight extrapolation, for sizing).
     */
    static void printDisk(PrintStream out, Figures f) {
        out.println("Disk (PostgreSQL's own accounting, for sizing; \"a day\" extrapolates phase A's rate):");
        double seconds = f.fleet == null ? 0 : f.fleet.seconds;
        long entries = f.walStart == null || f.walEnd == null ? 0 : f.walEnd.entriesSince(f.walStart);
        if (f.walError != null) {
            out.println("  WAL: not measured: " + f.walError);
        } else if (entries > 0 && seconds > 0) {
            long walBytes = f.walEnd.walBytesSince(f.walStart);
            out.printf(Locale.ROOT, "  WAL written in phase A's window: %.0f bytes per ledger entry, %.1f MB/s (%d entries"
                            + " in %.1f s); a day: %.0f GB%n", (double) walBytes / entries, walBytes / seconds / 1e6, entries,
                    seconds, DiskUsage.gigabytesPerDay(walBytes / seconds));
        } else {
            out.println("  WAL: no entry was written in phase A's window");
        }
        if (f.disk == null) {
            out.println("  schemas: not measured: " + f.diskError);
            return;
        }
        DiskUsage.Sizes d = f.disk;
        StringBuilder sizes = new StringBuilder();
        for (DiskUsage.Schema s : d.schemas()) {
            sizes.append(sizes.isEmpty() ? "" : ", ").append(String.format(Locale.ROOT, "%s %.1f MB", s.name(), s.bytes() / 1e6));
        }
        out.printf(Locale.ROOT, "  schemas after the run (tables with their indexes and TOAST): %s; the ledger's %d entries:"
                + " %.0f bytes each%n", sizes, d.ledgerEntries(), d.ledgerBytesPerEntry());
        if (entries > 0 && seconds > 0) {
            double perDay = DiskUsage.gigabytesPerDay(d.idempotencyBytesPerEntry() * entries / seconds);
            out.printf(Locale.ROOT, "  the ledger's tables at phase A's rate: %.0f GB a day kept for good (entries, %.0f bytes"
                            + " each); idempotency rows %.0f GB a day, %.0f GB held at the default retention of %d days%n",
                    DiskUsage.gigabytesPerDay(d.keptBytesPerEntry() * entries / seconds), d.keptBytesPerEntry(), perDay,
                    perDay * DiskUsage.DEFAULT_IDEMPOTENCY_RETENTION_DAYS, DiskUsage.DEFAULT_IDEMPOTENCY_RETENTION_DAYS);
        }
    }

    static void phase(PrintStream out, String title, PhaseResult p) {
        out.println();
        out.println(title + ":");
        if (p == null) {
            out.println("  not run");
            return;
        }
        if (p.offeredPerSecond.isPresent()) {
            int offered = p.offeredPerSecond.getAsInt();
            out.printf(Locale.ROOT, "  offered %d payments/s, achieved %.1f (%.1f%%)%n", offered, p.perSecond(),
                    100 * p.perSecond() / offered);
            if (p.fellBehind()) {
                out.printf(Locale.ROOT, "  could not keep up (achieved below %.0f%% of offered): the figures are a"
                        + " closed-loop-like overload, not the fixed-rate comparison%n", PhaseResult.KEPT_UP_SHARE * 100);
            }
            if (p.caughtUpBacklog()) {
                out.println("  more than offered: the clients were still catching up calls that fell behind before the"
                        + " window (a warm-up too short for this rate, or an overload); see the latency beside the service"
                        + " time: the figures are not the fixed-rate comparison");
            }
        }
        out.printf(Locale.ROOT, "  payments/s %.1f (approved/s %.1f), %d calls in %.1f s%n", p.perSecond(),
                p.approvedPerSecond(), p.completed, p.seconds);
        out.printf(Locale.ROOT, "  latency ms%s: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f%n",
                p.offeredPerSecond.isPresent() ? " from each call's scheduled time (a stall delays the calls behind it"
                        + " and counts in full: no coordinated omission)" : "",
                p.percentileMillis(50), p.percentileMillis(90), p.percentileMillis(99), p.percentileMillis(99.9),
                p.maxMillis());
        if (p.offeredPerSecond.isPresent()) {
            out.printf(Locale.ROOT, "  service time ms (sent to answer): p50 %.2f  p99 %.2f%n",
                    p.servicePercentileMillis(50), p.servicePercentileMillis(99));
        }
        out.printf("  approved %d, declined %d%s, errors %d%s%n", p.approved, p.declined(),
                p.declines.isEmpty() ? "" : " " + p.declines, p.errorCount(), p.errors.isEmpty() ? "" : " " + p.errors);
        out.printf("  deliberate retries (same request_id again) %d: answered with another entry %d%n", p.retries,
                p.retriesWithOtherEntry);
        if (p.tasksCompleted > 0) {
            out.printf(Locale.ROOT, "  tasks completed (CompleteTask, besides the Pay calls) %d, %.1f/s%n", p.tasksCompleted,
                    p.tasksCompleted / p.seconds);
        }
    }

    private static void ledgerCounters(PrintStream out, PhaseResult p, LedgerCounters.Mark start, LedgerCounters.Mark end) {
        if (p != null) {
            out.println("  " + LedgerCounters.describeBatches(start, end, p.seconds));
            out.println("  " + LedgerCounters.describeStages(start, end));
            out.println("  " + LedgerCounters.describeFeedReads(start, end));
        }
    }

    /** Phase C: the empty call's rate, what each process spent per call, and how close Pay came to it. */
    private static void floor(PrintStream out, Figures f) {
        out.println();
        out.println("Phase C (transport floor: the same clients call the ledger's grpc.health.v1.Health/Check, an empty"
                + " unary call with no authentication, database or feed behind it; no Pay rate can exceed it here):");
        PhaseResult c = f.floor;
        if (c == null) {
            out.println("  not run");
            return;
        }
        out.printf(Locale.ROOT, "  calls/s %.1f, %d calls in %.1f s; latency ms: p50 %.2f  p99 %.2f  max %.2f; errors %d%s%n",
                c.perSecond(), c.completed, c.seconds, c.percentileMillis(50), c.percentileMillis(99), c.maxMillis(),
                c.errorCount(), c.errors.isEmpty() ? "" : " " + c.errors);
        List<String> perCall = new ArrayList<>();
        for (String name : f.floorEnd.keySet()) {
            double seconds = cpu(f.floorStart, f.floorEnd, name);
            if (seconds > 0) {
                perCall.add(String.format(Locale.ROOT, "%s %.3f", name, perPayment(seconds, c)));
            }
        }
        out.println("  CPU ms per call: " + String.join(", ", perCall));
        if (c.perSecond() > 0) {
            out.printf(Locale.ROOT, "  Pay reached %.0f%% of this floor in phase A and %.0f%% in phase B%s%n",
                    f.fleet == null ? 0 : 100 * f.fleet.perSecond() / c.perSecond(),
                    f.hot == null ? 0 : 100 * f.hot.perSecond() / c.perSecond(),
                    f.options.ratePerSecond().isPresent() ? " (at the offered rate: not Pay's capacity)" : "");
        }
    }

    private static void lag(PrintStream out, String what, LagCalculator.Lags l) {
        if (l == null || l.micros().isEmpty()) {
            out.printf("  %-42s not measured%n", what);
            return;
        }
        out.printf(Locale.ROOT, "  %-42s p50 %.0f ms  p99 %.0f ms  max %.0f ms%s%n", what, l.percentileMillis(50),
                l.percentileMillis(99), l.maxMillis(), l.unresolved() > 0
                        ? "  (" + l.unresolved() + " samples never caught up)" : "");
    }

    private static String compiling(Map<String, ProcessStats.Usage> start, Map<String, ProcessStats.Usage> end) {
        return perJvm(start, end, (name, s, e) -> Double.isNaN(s.compileSeconds()) || Double.isNaN(e.compileSeconds()) ? null
                : String.format(Locale.ROOT, "%s %.1f s of %.1f CPU s", name,
                        Math.max(0, e.compileSeconds() - s.compileSeconds()), cpu(start, end, name)));
    }

    private static String pauses(Map<String, ProcessStats.Usage> start, Map<String, ProcessStats.Usage> end) {
        return perJvm(start, end, (name, s, e) -> {
            if (s.gc() == null || e.gc() == null) {
                return null;
            }
            JvmCounters.GcPauses d = e.gc().since(s.gc());
            return String.format(Locale.ROOT, "%s %d in %.0f ms / %d in %.0f ms / %d in %.0f ms", name,
                    d.youngCount(), d.youngSeconds() * 1000, d.fullCount(), d.fullSeconds() * 1000,
                    d.otherCount(), d.otherSeconds() * 1000);
        });
    }

    /** What a window changed in each JVM's counters; {@code describe} answers null where a process has none. */
    private static String perJvm(Map<String, ProcessStats.Usage> start, Map<String, ProcessStats.Usage> end,
                                 WindowDescriber describe) {
        List<String> parts = new ArrayList<>();
        for (String name : end.keySet()) {
            ProcessStats.Usage s = start.get(name);
            String part = s == null ? null : describe.describe(name, s, end.get(name));
            if (part != null) {
                parts.add(part);
            }
        }
        return parts.isEmpty() ? "not measured (no hsperfdata: a JVM started with -XX:-UsePerfData?)" : String.join(", ", parts);
    }

    private interface WindowDescriber {
        String describe(String name, ProcessStats.Usage start, ProcessStats.Usage end);
    }

    private static double cpu(Map<String, ProcessStats.Usage> start, Map<String, ProcessStats.Usage> end, String name) {
        ProcessStats.Usage s = start.get(name);
        ProcessStats.Usage e = end.get(name);
        return s == null || e == null ? 0 : Math.max(0, e.cpuSeconds() - s.cpuSeconds());
    }

    /** One phase's PostgreSQL CPU per client, largest first, then "other". */
    static String byClient(Map<Long, BackendCpu.Backend> start, Map<Long, BackendCpu.Backend> end, double totalSeconds,
                           PhaseResult p) {
        if (start.isEmpty() || end.isEmpty() || p == null || p.completed == 0) {
            return "n/a";
        }
        Map<String, Double> clients = BackendCpu.byClient(start, end);
        List<String> parts = new ArrayList<>();
        clients.entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue().reversed())
                .filter(e -> perPayment(e.getValue(), p) >= 0.0005)
                .forEach(e -> parts.add(String.format(Locale.ROOT, "%s %.3f", e.getKey(), perPayment(e.getValue(), p))));
        double attributed = clients.values().stream().mapToDouble(Double::doubleValue).sum();
        parts.add(String.format(Locale.ROOT, "other %.3f", perPayment(Math.max(0, totalSeconds - attributed), p)));
        return String.join(", ", parts);
    }

    private static double perPayment(double cpuSeconds, PhaseResult p) {
        return p == null || p.completed == 0 ? 0 : cpuSeconds * 1000 / p.completed;
    }

    private static String mb(long kb) {
        return String.format(Locale.ROOT, "%.0f MB", kb / 1024.0);
    }

    static String lastLine(Figures f) {
        Double pps = f.fleet == null ? null : f.fleet.perSecond();
        Double p99 = f.fleet == null ? null : f.fleet.percentileMillis(99);
        Double hot = f.hot == null ? null : f.hot.perSecond();
        Double tps = f.pgbenchTps.isPresent() ? f.pgbenchTps.getAsDouble() : null;
        OptionalLong overspend = f.audit == null ? OptionalLong.empty() : OptionalLong.of(f.audit.overspendMicros());
        OptionalLong duplicates = f.audit == null ? OptionalLong.empty() : OptionalLong.of(f.audit.duplicates());
        return lastLine(pps, p99, hot, tps, overspend, duplicates);
    }

    /**
     * {@code payments_per_s=<n> p99_ms=<n> hot_agent_per_s=<n> pgbench_tps=<n> ratio=<n> overspend=<n>
     * duplicates=<n>}: ratio = payments_per_s / pgbench_tps with 2 decimals; n/a where not measured.
     */
    static String lastLine(Double paymentsPerSecond, Double p99Millis, Double hotPerSecond, Double pgbenchTps,
                           OptionalLong overspendMicros, OptionalLong duplicates) {
        String ratio = paymentsPerSecond == null || pgbenchTps == null || pgbenchTps <= 0 ? "n/a"
                : String.format(Locale.ROOT, "%.2f", paymentsPerSecond / pgbenchTps);
        return "payments_per_s=" + num(paymentsPerSecond, "%.1f")
                + " p99_ms=" + num(p99Millis, "%.2f")
                + " hot_agent_per_s=" + num(hotPerSecond, "%.1f")
                + " pgbench_tps=" + num(pgbenchTps, "%.1f")
                + " ratio=" + ratio
                + " overspend=" + (overspendMicros.isPresent() ? Long.toString(overspendMicros.getAsLong()) : "n/a")
                + " duplicates=" + (duplicates.isPresent() ? Long.toString(duplicates.getAsLong()) : "n/a");
    }

    private static String num(Double v, String format) {
        return v == null || v.isNaN() ? "n/a" : String.format(Locale.ROOT, format, v);
    }
}
