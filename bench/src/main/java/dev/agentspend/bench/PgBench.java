package dev.agentspend.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The floor to compare the ledger with: pgbench on the same PostgreSQL, with synchronous_commit
 * on, running one payment per transaction in its simplest form (one conditional counter UPDATE
 * and one idempotent INSERT of a unique request id), on tables of its own ({@code bench_pg}
 * schema, 1,000 agents).
 */
final class PgBench {
    static final int CLIENTS = 32;
    static final int THREADS = 2;
    static final int AGENTS = 1_000;
    static final String SCHEMA = "bench_pg";

    /** The transaction pgbench runs: one payment, checked against a cap, recorded once. */
    static final String SCRIPT = """
            \\set agent random(1, 1000)
            \\set amount random(1000, 10000)
            BEGIN;
            UPDATE bench_pg.counters SET spent_micros = spent_micros + :amount
              WHERE agent_id = :agent AND spent_micros + :amount <= cap_micros;
            INSERT INTO bench_pg.requests (request_id, agent_id, amount_micros)
              VALUES (gen_random_uuid()::text, :agent, :amount) ON CONFLICT (request_id) DO NOTHING;
            END;
            """;

    private static final Pattern TPS = Pattern.compile("(?m)^tps = ([0-9]+(?:\\.[0-9]+)?)");
    private static final Pattern LATENCY = Pattern.compile("(?m)^latency average = ([0-9]+(?:\\.[0-9]+)?) ms");

    private PgBench() {
    }

    record Outcome(OptionalDouble tps, String output, String note) {
    }

    /** pgbench from the PATH, /usr/bin or /usr/lib/postgresql/<version>/bin (newest first). */
    static Optional<Path> find() {
        List<Path> candidates = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(":")) {
                if (!dir.isEmpty()) {
                    candidates.add(Path.of(dir, "pgbench"));
                }
            }
        }
        candidates.add(Path.of("/usr/bin/pgbench"));
        Path lib = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(lib)) {
            List<Path> versions = new ArrayList<>();
            try (DirectoryStream<Path> dirs = Files.newDirectoryStream(lib)) {
                dirs.forEach(versions::add);
            } catch (IOException e) {
                // none
            }
            versions.sort((a, b) -> b.getFileName().toString().compareTo(a.getFileName().toString()));
            for (Path v : versions) {
                candidates.add(v.resolve("bin/pgbench"));
            }
        }
        return candidates.stream().filter(Files::isExecutable).findFirst();
    }

    static String howToInstall() {
        return "pgbench is not installed: on Debian or Ubuntu `apt-get install postgresql-client`"
                + " (or the server package postgresql-15, which has it in /usr/lib/postgresql/15/bin)";
    }

    /** Creates the schema: 1,000 agents with a cap that never binds in a run, and the request ids. */
    static void prepare(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("DROP SCHEMA IF EXISTS " + SCHEMA + " CASCADE");
            s.execute("CREATE SCHEMA " + SCHEMA);
            s.execute("CREATE TABLE " + SCHEMA + ".counters (agent_id integer PRIMARY KEY,"
                    + " spent_micros bigint NOT NULL DEFAULT 0, cap_micros bigint NOT NULL)");
            s.execute("CREATE TABLE " + SCHEMA + ".requests (request_id text PRIMARY KEY, agent_id integer NOT NULL,"
                    + " amount_micros bigint NOT NULL, create_time timestamptz NOT NULL DEFAULT now())");
            s.execute("INSERT INTO " + SCHEMA + ".counters (agent_id, cap_micros)"
                    + " SELECT g, 1000000000000 FROM generate_series(1, " + AGENTS + ") g");
            s.execute("ANALYZE " + SCHEMA + ".counters");
        }
    }

    /** The first "tps = N" line of pgbench's report. */
    static OptionalDouble parseTps(String output) {
        Matcher m = TPS.matcher(output);
        return m.find() ? OptionalDouble.of(Double.parseDouble(m.group(1))) : OptionalDouble.empty();
    }

    /** pgbench's "latency average = N ms" line. */
    static OptionalDouble parseLatencyMillis(String output) {
        Matcher m = LATENCY.matcher(output);
        return m.find() ? OptionalDouble.of(Double.parseDouble(m.group(1))) : OptionalDouble.empty();
    }

    static List<String> command(Path pgbench, int port, String database, Duration duration, Path script) {
        return List.of(pgbench.toString(), "-h", "localhost", "-p", Integer.toString(port), "-U", "postgres",
                "-n", "-c", Integer.toString(CLIENTS), "-j", Integer.toString(THREADS),
                "-T", Long.toString(duration.toSeconds()), "-f", script.toString(), database);
    }

    static Outcome run(Path pgbench, BenchStack stack, Duration duration, Path workDir) throws Exception {
        try (Connection c = stack.jdbc()) {
            prepare(c);
        }
        Path script = workDir.resolve("pgbench-payment.sql");
        Files.createDirectories(workDir);
        Files.writeString(script, SCRIPT);
        ProcessBuilder pb = new ProcessBuilder(command(pgbench, stack.databasePort(), BenchStack.DATABASE, duration, script))
                .redirectErrorStream(true);
        pb.environment().put("PGOPTIONS", "-c synchronous_commit=on");
        Process p = pb.start();
        stack.onClose(() -> p.destroyForcibly());
        String output = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(duration.toSeconds() + 60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return new Outcome(OptionalDouble.empty(), output, "pgbench did not finish");
        }
        OptionalDouble tps = parseTps(output);
        return new Outcome(tps, output, p.exitValue() == 0 ? "" : "pgbench exited with " + p.exitValue());
    }
}
