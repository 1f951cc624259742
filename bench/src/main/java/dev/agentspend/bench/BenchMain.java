package dev.agentspend.bench;

import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.ledger.v1.VerifyLedgerRequest;
import io.grpc.ManagedChannel;

import java.io.PrintStream;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * {@code ./agentspend bench}: measures the platform on this machine, on a stack of its own.
 *
 * <ol>
 *   <li>starts a durable PostgreSQL and the four services on free ports ({@link BenchStack});</li>
 *   <li>creates the fleet through identity and the ledger ({@link FleetSetup});</li>
 *   <li>phase A: K clients pay from random agents of the fleet; the feed lag of analytics and
 *   alerts is sampled meanwhile ({@link LoadPhase}, {@link LagProbe});</li>
 *   <li>phase B: the same clients all pay from one hot agent;</li>
 *   <li>audits the database for overspend and duplicates and calls VerifyLedger ({@link DatabaseAudit}), and
 *   measures what the run left on disk ({@link DiskUsage}; the WAL of phase A's window: {@link WalStats});</li>
 *   <li>runs pgbench on the same PostgreSQL with one payment per transaction ({@link PgBench});</li>
 *   <li>prints the report; its last line is machine-readable ({@link Report#lastLine}).</li>
 * </ol>
 * Everything started is stopped at the end, on failure, and on Ctrl-C (shutdown hook). Exit status 0
 * when the audit found no overspend, no duplicate, no lost approval and VerifyLedger no violation.
 */
public final class BenchMain {
    private static final int CHANNELS = 4;
    private static final Duration LAG_INTERVAL = Duration.ofMillis(25);
    private static final Duration CATCH_UP = Duration.ofSeconds(60);
    /** The floor's call path (server transport, event loops) is warm from phases A and B already. */
    private static final Duration FLOOR_WARMUP = Duration.ofSeconds(10);

    private BenchMain() {
    }

    public static void main(String[] args) {
        BenchOptions options;
        try {
            options = BenchOptions.parse(args, ServiceProcess.repositoryRoot().resolve(".agentspend").resolve("bench"));
        } catch (IllegalArgumentException e) {
            System.err.println("bench: " + e.getMessage());
            System.exit(2);
            return;
        }
        int status;
        try {
            Report.Figures f = run(options, System.out);
            status = passed(f) ? 0 : 1;
        } catch (Exception e) {
            System.err.println("bench: failed: " + e);
            e.printStackTrace();
            status = 1;
        }
        System.exit(status);
    }

    /** True when nothing was overspent, duplicated or lost and VerifyLedger is clean. */
    static boolean passed(Report.Figures f) {
        if (f.audit == null || f.verify == null) {
            return false;
        }
        return f.audit.overspendMicros() == 0 && f.audit.duplicates() == 0 && f.verify.getConsistent()
                && f.acknowledgedApprovals() <= f.audit.approvedPayments();
    }

    /** Runs the whole benchmark and prints its report to {@code out}; returns the figures. */
    static Report.Figures run(BenchOptions options, PrintStream out) throws Exception {
        Report.Figures f = new Report.Figures();
        f.options = options;
        f.loadBefore = Report.loadAverage();
        out.printf("AgentSpend benchmark: %d agents, %d clients, %s, %d s per phase after %d s warm-up%s%n",
                options.agents(), options.clients(), options.mode(), options.duration().toSeconds(),
                options.warmup().toSeconds(), options.skipPgbench() ? ", no pgbench" : "");
        BenchStack stack = new BenchStack(options.stateDir(), options.keepData(), options.statements(), out);
        Thread hook = new Thread(() -> {
            // only on an interruption (Ctrl-C, SIGTERM): the normal path closes and removes the hook
            out.println();
            out.println("interrupted: stopping the services and PostgreSQL the benchmark started...");
            stack.close();
            out.println("stopped; logs in " + stack.runDir().resolve("logs"));
        }, "bench-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            stack.start();
            List<BenchAgent> agents = FleetSetup.create(stack, options.agents(), out);
            int n = options.agents();
            f.fleetAgents = n;
            f.tightCapAgents = (int) agents.stream().filter(a -> a.kind() == BenchAgent.Kind.TIGHT_CAP).count();
            f.tightBalanceAgents = (int) agents.stream().filter(a -> a.kind() == BenchAgent.Kind.TIGHT_BALANCE).count();
            f.setupApprovals = f.tightCapAgents + f.tightBalanceAgents;

            try (ResourceMonitor monitor = new ResourceMonitor(stack.watched());
                 MetricsScraper scraper = new MetricsScraper(metricsPorts(stack), Exposition::fetch)) {
                // "at rest" means after the set-up's calls have drained: two seconds of nothing
                Thread.sleep(2_000);
                f.atRest = ProcessStats.sampleAll(monitor.watched());
                // inside the measured windows only CPU and RSS are sampled: PSS walks every backend's
                // page tables (see ResourceMonitor) and is read once after each window instead
                monitor.watched().forEach(w -> f.pids.put(w.name(), w.pid()));
                List<ManagedChannel> channels = new ArrayList<>();
                for (int i = 0; i < CHANNELS; i++) {
                    channels.add(stack.loadChannel("ledger-service"));
                }

                scraper.start(MetricsScraper.INTERVAL);

                // phase A: the fleet, with the feed lag sampled during the measured window
                try (LagProbe probe = new LagProbe(() -> connect(stack), stack.analyticsAdmin(), LAG_INTERVAL)) {
                    probe.start();
                    out.printf("phase A: %d clients paying from random agents of %d%s for %d s (+%d s warm-up)...%n",
                            options.clients(), n, atRate(options), options.duration().toSeconds(),
                            options.warmup().toSeconds());
                    f.fleet = new LoadPhase("a", agents, channels, r -> r.nextInt(n), options.clients(), options.warmup(),
                            options.duration(), options.pacing(), options.taskCalls()).run(new LoadPhase.Window() {
                        @Override
                        public void measureStarted() {
                            probe.recordHeads(true);
                            monitor.reset();
                            f.fleetStart = ProcessStats.sampleAll(monitor.watched(), false);
                            f.fleetBackendsStart = backends(stack);
                            f.fleetLedgerStart = LedgerCounters.read(stack.port("ledger-service"));
                            f.alertDetectionStart = AlertMetrics.detectionLatency(stack.port("alert-service"));
                            if (options.statements()) {
                                try (java.sql.Connection c = stack.jdbc()) {
                                    StatementStats.reset(c);
                                } catch (java.sql.SQLException e) {
                                    f.statementsError = e.getMessage();
                                }
                            }
                            try (java.sql.Connection c = stack.jdbc()) {
                                f.walStart = WalStats.mark(c);
                            } catch (java.sql.SQLException e) {
                                f.walError = e.getMessage();
                            }
                        }

                        @Override
                        public void measureEnded() {
                            f.fleetEnd = ProcessStats.sampleAll(monitor.watched(), false);
                            f.fleetBackendsEnd = backends(stack);
                            f.fleetLedgerEnd = LedgerCounters.read(stack.port("ledger-service"));
                            if (options.statements() && f.statementsError == null) {
                                try (java.sql.Connection c = stack.jdbc()) {
                                    f.statements = StatementStats.read(c);
                                } catch (java.sql.SQLException e) {
                                    f.statementsError = e.getMessage();
                                }
                            }
                            if (f.walError == null) {
                                try (java.sql.Connection c = stack.jdbc()) {
                                    f.walEnd = WalStats.mark(c);
                                    if (options.statements()) {
                                        f.wal = WalStats.read(c, f.walStart, f.walEnd);
                                    }
                                } catch (java.sql.SQLException e) {
                                    f.walError = e.getMessage();
                                }
                            }
                            f.fleetPeaks = monitor.takePeaks();
                            probe.recordHeads(false);
                            f.backlogAnalytics = Math.max(0, probe.lastHead() - probe.lastAnalytics());
                            f.backlogAlerts = Math.max(0, probe.lastHead() - probe.lastAlerts());
                        }
                    });
                    out.printf("phase A done: %s; waiting for analytics and alerts to catch up...%n",
                            achieved(f.fleet));
                    if (!probe.awaitCaughtUp(CATCH_UP)) {
                        f.lagProblems.add("analytics or alerts had not reached the head " + CATCH_UP.toSeconds()
                                + " s after phase A");
                    }
                    f.alertDetectionEnd = AlertMetrics.detectionLatency(stack.port("alert-service"));
                    f.lagSamples = probe.samples();
                    f.lagIntervalMillis = probe.interval().toMillis();
                    f.analyticsLag = probe.analyticsLag();
                    f.alertsLag = probe.alertsLag();
                    f.lagProblems.addAll(probe.problems());
                    f.ledgerSessions = probe.ledgerSessions();
                    f.ledgerSessionSnapshots = probe.sessionSnapshots();
                }

                // phase B: one hot agent
                int hot = agents.size() - 1;
                out.printf("phase B: %d clients paying from one agent%s for %d s (+%d s warm-up)...%n", options.clients(),
                        atRate(options), options.duration().toSeconds(), options.warmup().toSeconds());
                f.hot = new LoadPhase("b", agents, channels, r -> hot, options.clients(), options.warmup(),
                        options.duration(), options.pacing(), options.taskCalls()).run(new LoadPhase.Window() {
                    @Override
                    public void measureStarted() {
                        monitor.reset();
                        f.hotStart = ProcessStats.sampleAll(monitor.watched(), false);
                        f.hotBackendsStart = backends(stack);
                        f.hotLedgerStart = LedgerCounters.read(stack.port("ledger-service"));
                    }

                    @Override
                    public void measureEnded() {
                        f.hotEnd = ProcessStats.sampleAll(monitor.watched(), false);
                        f.hotBackendsEnd = backends(stack);
                        f.hotLedgerEnd = LedgerCounters.read(stack.port("ledger-service"));
                        f.hotPeaks = monitor.takePeaks();
                    }
                });
                out.printf("phase B done: %s%n", achieved(f.hot));

                // phase C: the same clients and channels, an empty call instead of Pay
                Duration floorWarmup = options.warmup().compareTo(FLOOR_WARMUP) < 0 ? options.warmup() : FLOOR_WARMUP;
                out.printf("phase C: %d clients calling the ledger's grpc.health.v1.Health/Check for %d s (+%d s warm-up)...%n",
                        options.clients(), options.duration().toSeconds(), floorWarmup.toSeconds());
                f.floor = new TransportFloor(channels, options.clients(), floorWarmup, options.duration())
                        .run(new LoadPhase.Window() {
                            @Override
                            public void measureStarted() {
                                f.floorStart = ProcessStats.sampleAll(monitor.watched(), false);
                            }

                            @Override
                            public void measureEnded() {
                                f.floorEnd = ProcessStats.sampleAll(monitor.watched(), false);
                            }
                        });
                f.loadAfter = Report.loadAverage();
                scraper.close();
                f.scrapes = scraper.describe(MetricsScraper.INTERVAL);
                out.printf("phase C done: %.1f calls/s%n", f.floor.perSecond());
            }

            audit(stack, agents, f, out);

            out.println("stopping the services (PostgreSQL stays up for pgbench)...");
            stack.stopServices();
            pgbench(stack, options, f, out);
        } finally {
            stack.close();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down: the hook runs (and finds everything stopped)
            }
        }
        Report.print(out, f);
        return f;
    }

    private static Map<String, Integer> metricsPorts(BenchStack stack) {
        Map<String, Integer> ports = new LinkedHashMap<>();
        BenchStack.SERVICES.forEach(s -> ports.put(s, stack.port(s)));
        return ports;
    }

    private static String atRate(BenchOptions options) {
        return options.ratePerSecond().isEmpty() ? "" : " at " + options.ratePerSecond().getAsInt() + " payments/s";
    }

    private static String achieved(PhaseResult p) {
        return String.format(Locale.ROOT, "%.1f payments/s", p.perSecond())
                + (p.offeredPerSecond.isEmpty() ? "" : " of " + p.offeredPerSecond.getAsInt() + " offered"
                + (p.fellBehind() ? " (could not keep up)" : p.caughtUpBacklog() ? " (catching up late calls)" : ""));
    }

    private static Connection connect(BenchStack stack) {
        try {
            return stack.jdbc();
        } catch (SQLException e) {
            throw new IllegalStateException("no connection to the benchmark's PostgreSQL: " + e.getMessage(), e);
        }
    }

    /** PostgreSQL's processes with their CPU so far; none (the report says n/a) if the query fails. */
    private static Map<Long, BackendCpu.Backend> backends(BenchStack stack) {
        try (Connection c = stack.jdbc()) {
            return BackendCpu.sample(c);
        } catch (SQLException e) {
            return Map.of();
        }
    }

    private static void audit(BenchStack stack, List<BenchAgent> agents, Report.Figures f, PrintStream out) {
        out.println("auditing the database and calling VerifyLedger...");
        Map<String, Long> caps = new HashMap<>();
        agents.forEach(a -> caps.put(a.id(), a.dayCapMicros()));
        try (Connection c = stack.jdbc()) {
            f.audit = DatabaseAudit.run(c, caps);
        } catch (SQLException | RuntimeException e) {
            f.auditError = e.toString();
        }
        try (Connection c = stack.jdbc()) {
            f.disk = DiskUsage.read(c);
        } catch (SQLException e) {
            f.diskError = e.getMessage();
        }
        try {
            f.verify = stack.ledgerAdmin().withDeadlineAfter(300, TimeUnit.SECONDS)
                    .verifyLedger(VerifyLedgerRequest.getDefaultInstance());
        } catch (RuntimeException e) {
            f.verifyError = e.toString();
        }
    }

    private static void pgbench(BenchStack stack, BenchOptions options, Report.Figures f, PrintStream out) throws Exception {
        if (options.skipPgbench()) {
            f.pgbenchNote = "skipped (--skip-pgbench)";
            return;
        }
        Optional<Path> pgbench = PgBench.find();
        if (pgbench.isEmpty()) {
            f.pgbenchNote = PgBench.howToInstall();
            return;
        }
        Path script = stack.runDir().resolve("pgbench-payment.sql");
        f.pgbenchScript = PgBench.SCRIPT;
        f.pgbenchCommand = String.join(" ", PgBench.command(pgbench.get(), stack.databasePort(), BenchStack.DATABASE,
                options.duration(), script));
        out.printf("pgbench: %d clients for %d s on the same PostgreSQL...%n", PgBench.CLIENTS, options.duration().toSeconds());
        PgBench.Outcome o = PgBench.run(pgbench.get(), stack, options.duration(), stack.runDir());
        f.pgbenchTps = o.tps();
        f.pgbenchNote = o.note();
        f.pgbenchOutput = o.output();
    }
}
