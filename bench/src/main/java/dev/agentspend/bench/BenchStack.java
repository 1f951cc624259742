package dev.agentspend.bench;

import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.analytics.v1.AnalyticsServiceGrpc;
import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The benchmark's own platform, isolated from any running one: a durable embedded PostgreSQL (fsync
 * and synchronous_commit on, as {@code ./agentspend up}) in a fresh directory under the state
 * directory, and identity, the ledger, analytics and alerts from this checkout's built jars, every
 * one on a free port, with fresh tokens, configured as the launcher and the k8s tests configure
 * them. {@link #close()} stops all of it and is safe to call twice (it also runs as a shutdown hook).
 */
final class BenchStack implements AutoCloseable {
    static final String DATABASE = "agentspend";
    static final List<String> SERVICES = List.of("identity-service", "ledger-service", "analytics-service",
            "alert-service");
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(240);

    private final Path runDir;
    private final Path dataDir;
    private final Path logDir;
    private final boolean keepData;
    private final PrintStream out;
    final String adminToken = token("adm_");
    final String serviceToken = token("svc_");
    private final Map<String, Integer> ports = new LinkedHashMap<>();
    private final Map<String, ServiceProcess> services = new LinkedHashMap<>();
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<Runnable> extraStops = new ArrayList<>();
    private EmbeddedDatabase db;
    private ManagedChannel adminChannelIdentity;
    private ManagedChannel adminChannelLedger;
    private ManagedChannel adminChannelAnalytics;
    private boolean closed;
    /** PostgreSQL runs with pg_stat_statements (--statements). */
    private final boolean statements;

    BenchStack(Path stateDir, boolean keepData, boolean statements, PrintStream out) {
        String run = "run-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        this.runDir = stateDir.toAbsolutePath().resolve(run);
        this.dataDir = runDir.resolve("pgdata");
        this.logDir = runDir.resolve("logs");
        this.keepData = keepData;
        this.statements = statements;
        this.out = out;
    }

    /** Starts PostgreSQL, checks its durability settings, then the four services in parallel. */
    synchronized void start() throws Exception {
        Files.createDirectories(dataDir);
        Files.createDirectories(logDir);
        out.printf("run directory: %s%n", runDir);
        long t0 = System.nanoTime();
        db = EmbeddedDatabase.durable(dataDir.toFile(), ServiceProcess.freePort());
        if (statements) {
            StatementStats.SERVER_CONFIG.forEach(db::withServerConfig);
        }
        db.start();
        db.createDatabase(DATABASE);
        if (statements) {
            try (Connection c = jdbc()) {
                StatementStats.install(c);
                WalStats.install(c);
            }
        }
        try (Connection c = jdbc(); Statement s = c.createStatement()) {
            out.printf("PostgreSQL: port %d, fsync=%s, synchronous_commit=%s, full_page_writes=%s, server %s (%.1f s)%n",
                    db.port(), show(s, "fsync"), show(s, "synchronous_commit"), show(s, "full_page_writes"),
                    show(s, "server_version"), (System.nanoTime() - t0) / 1e9);
        }
        for (String s : SERVICES) {
            ports.put(s, ServiceProcess.freePort());
        }
        List<String> jvm = jvmOptions();
        t0 = System.nanoTime();
        byte[] webhookKey = new byte[32];
        new SecureRandom().nextBytes(webhookKey);
        for (String s : SERVICES) {
            Map<String, String> env = environment();
            if (s.equals("alert-service")) {
                env.put("AGENTSPEND_WEBHOOK_KEY", Base64.getEncoder().encodeToString(webhookKey));
            }
            if (s.equals("ledger-service")) {
                // the hot-agent phase measures the payment path of one agent at full speed; the
                // per-agent rate limit (200/s by default) would measure the limit instead
                env.put("AGENTSPEND_LEDGER_AGENT_RATE_PER_SECOND", "1000000");
                env.put("AGENTSPEND_LEDGER_AGENT_RATE_BURST", "1000000");
            }
            services.put(s, ServiceProcess.of(s, ports.get(s), env, jvm, logDir.resolve(s + ".log")).start());
        }
        CompletableFuture.allOf(services.values().stream()
                        .map(p -> CompletableFuture.runAsync(() -> p.awaitReady(READY_TIMEOUT)))
                        .toArray(CompletableFuture[]::new))
                .get(READY_TIMEOUT.toSeconds() + 10, TimeUnit.SECONDS);
        out.printf("services ready in %.1f s (JVM options %s; logs in %s):%n", (System.nanoTime() - t0) / 1e9,
                String.join(" ", jvm), logDir);
        for (String s : SERVICES) {
            out.printf("  %-18s port %-5d pid %d%n", s, ports.get(s), services.get(s).pid());
        }
        adminChannelIdentity = channel("identity-service");
        adminChannelLedger = channel("ledger-service");
        adminChannelAnalytics = channel("analytics-service");
    }

    /** The launcher's JVM options: {@code AGENTSPEND_JAVA_OPTS}, else {@code -Xmx384m -XX:+UseParallelGC}. */
    static List<String> jvmOptions() {
        String opts = System.getenv("AGENTSPEND_JAVA_OPTS");
        if (opts == null || opts.isBlank()) {
            return List.of("-Xmx384m", "-XX:+UseParallelGC");
        }
        return Arrays.stream(opts.trim().split("\\s+")).toList();
    }

    private Map<String, String> environment() {
        Map<String, String> env = new HashMap<>();
        env.put("QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl(DATABASE));
        env.put("QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl(DATABASE));
        env.put("QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER);
        env.put("QUARKUS_DATASOURCE_PASSWORD", "");
        env.put("AGENTSPEND_ADMIN_TOKEN", adminToken);
        env.put("AGENTSPEND_SERVICE_TOKEN", serviceToken);
        Map<String, String> peers = Map.of("IDENTITY", "identity-service", "LEDGER", "ledger-service",
                "ANALYTICS", "analytics-service", "ALERTS", "alert-service");
        peers.forEach((name, module) -> {
            String port = Integer.toString(ports.get(module));
            env.put("QUARKUS_GRPC_CLIENTS_" + name + "_HOST", "localhost");
            env.put("QUARKUS_GRPC_CLIENTS_" + name + "_PORT", port);
            env.put("AGENTSPEND_" + name + "_HOST", "localhost");
            env.put("AGENTSPEND_" + name + "_PORT", port);
        });
        return env;
    }

    private static String show(Statement s, String setting) throws SQLException {
        try (ResultSet rs = s.executeQuery("SHOW " + setting)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static String token(String prefix) {
        byte[] b = new byte[24];
        new SecureRandom().nextBytes(b);
        return prefix + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    Connection jdbc() throws SQLException {
        return DriverManager.getConnection(db.jdbcUrl(DATABASE), EmbeddedDatabase.USER, "");
    }

    int databasePort() {
        return db.port();
    }

    int port(String service) {
        return ports.get(service);
    }

    ServiceProcess service(String module) {
        return services.get(module);
    }

    /** The PostgreSQL server's main process id, from its {@code postmaster.pid}; -1 if unreadable. */
    long postmasterPid() {
        try {
            String first = Files.readAllLines(dataDir.resolve("postmaster.pid")).get(0).trim();
            return Long.parseLong(first);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Processes whose CPU and memory the report shows: each service, and PostgreSQL with its backends. */
    List<ProcessStats.Watched> watched() {
        List<ProcessStats.Watched> w = new ArrayList<>();
        for (String s : SERVICES) {
            w.add(new ProcessStats.Watched(s, services.get(s).pid(), false));
        }
        long pg = postmasterPid();
        if (pg > 0) {
            w.add(new ProcessStats.Watched("postgresql", pg, true));
        }
        w.add(new ProcessStats.Watched("bench client", ProcessHandle.current().pid(), false));
        return w;
    }

    synchronized ManagedChannel channel(String service) {
        ManagedChannel c = ManagedChannelBuilder.forAddress("localhost", ports.get(service)).usePlaintext().build();
        channels.add(c);
        return c;
    }

    /**
     * A channel for the load phases: their callbacks (record the latency, send the client's next
     * call) never block, so they run on the transport's event loop instead of being handed to
     * grpc-java's default executor, a thread switch per call on a machine whose two cores the
     * measured stack needs (that executor's threads took 2.9% of the machine in phase A).
     */
    synchronized ManagedChannel loadChannel(String service) {
        ManagedChannel c = ManagedChannelBuilder.forAddress("localhost", ports.get(service)).usePlaintext()
                .directExecutor().build();
        channels.add(c);
        return c;
    }

    static Metadata bearer(String token) {
        Metadata m = new Metadata();
        m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return m;
    }

    IdentityServiceGrpc.IdentityServiceBlockingStub identityAdmin() {
        return IdentityServiceGrpc.newBlockingStub(adminChannelIdentity)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(adminToken)));
    }

    LedgerServiceGrpc.LedgerServiceBlockingStub ledgerAdmin() {
        return LedgerServiceGrpc.newBlockingStub(adminChannelLedger)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(adminToken)));
    }

    LedgerServiceGrpc.LedgerServiceBlockingStub ledgerAs(String apiKey) {
        return LedgerServiceGrpc.newBlockingStub(adminChannelLedger)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(apiKey)));
    }

    AnalyticsServiceGrpc.AnalyticsServiceBlockingStub analyticsAdmin() {
        return AnalyticsServiceGrpc.newBlockingStub(adminChannelAnalytics)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(adminToken)));
    }

    /** Something else to end on close (pgbench while it runs). */
    synchronized void onClose(Runnable stop) {
        extraStops.add(stop);
    }

    /** Stops the services (last started first), keeping PostgreSQL up (for pgbench and the audit). */
    synchronized void stopServices() {
        for (ManagedChannel c : channels) {
            c.shutdownNow();
        }
        channels.clear();
        List<ServiceProcess> reversed = new ArrayList<>(services.values());
        java.util.Collections.reverse(reversed);
        // in parallel: each waits for its JVM to exit
        CompletableFuture.allOf(reversed.stream().map(p -> CompletableFuture.runAsync(() -> {
            try {
                p.stop();
            } catch (RuntimeException e) {
                // keep stopping the others
            }
        })).toArray(CompletableFuture[]::new)).join();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Runnable r : extraStops) {
            try {
                r.run();
            } catch (RuntimeException e) {
                // keep stopping the rest
            }
        }
        stopServices();
        if (db != null) {
            try {
                db.close();
            } catch (RuntimeException e) {
                out.println("PostgreSQL did not stop cleanly: " + e.getMessage());
            }
        }
        if (!keepData && Files.isDirectory(dataDir)) {
            try (var paths = Files.walk(dataDir)) {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                out.println("could not delete " + dataDir + ": " + e.getMessage());
            }
        }
    }

    Path runDir() {
        return runDir;
    }

    Path dataDir() {
        return dataDir;
    }
}
