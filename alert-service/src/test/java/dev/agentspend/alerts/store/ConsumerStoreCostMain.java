package dev.agentspend.alerts.store;

import dev.agentspend.alerts.domain.AgentChanges;
import dev.agentspend.alerts.domain.AgentPolicy;
import dev.agentspend.alerts.domain.AgentState;
import dev.agentspend.alerts.domain.Evaluator;
import dev.agentspend.alerts.domain.LedgerEvent;
import dev.agentspend.alerts.domain.GraphChanges;
import dev.agentspend.alerts.domain.RuleConfigSet;
import dev.agentspend.common.api.WorkingSchedule;
import dev.agentspend.platform.EmbeddedDatabase;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.pgclient.PgConnection;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Transaction;
import io.vertx.pgclient.PgConnectOptions;
import org.flywaydb.core.Flyway;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * What the consumer's batches cost PostgreSQL, measured rather than guessed (issue #8): builds rule
 * states the way the benchmark's payments do, prints how big their stored form is and what
 * dominates it, then writes batches through {@link ConsumerStore#commitBatch} against an embedded
 * PostgreSQL and prints the CPU the backend used per batch ({@code /proc/<pg_backend_pid()>/stat})
 * and the WAL it wrote. Not a test: it asserts nothing and its figures depend on the machine.
 *
 * <pre>
 * mvn -o -q test-compile -pl alert-service
 * mvn -o -q dependency:build-classpath -pl alert-service -Dmdep.includeScope=test -Dmdep.outputFile=/tmp/alerts-cp.txt
 * java -cp alert-service/target/test-classes:alert-service/target/classes:$(cat /tmp/alerts-cp.txt) \
 *     dev.agentspend.alerts.store.ConsumerStoreCostMain [batches [history days [hourly|tasks]]]
 * </pre>
 *
 * <p>The rule state is stored in the consumer's default form; {@code -DstateFormat=json} (before the command's
 * class name) stores it as JSON, as releases before the binary form did.
 *
 * <p>{@code hourly}: the fleet has an HOUR cap as well, and its history a payment an hour. {@code tasks}: its
 * history a payment an hour, each for a task of its own that is never completed (an agent that does not call
 * CompleteTask), and the measured payments each for the task of their hour.
 */
public final class ConsumerStoreCostMain {
    private static final String[] TOOLS = {"openai/chat.completions", "anthropic/messages", "serpapi/search",
            "browserbase/session"};
    private static final int AGENTS = 1000;
    private static final StateFormat FORMAT = StateFormat.valueOf(System.getProperty("stateFormat", "binary")
            .toUpperCase(Locale.ROOT));
    /** The benchmark's fleet phase: about 780 payments a second over 1000 agents. */
    private static final double FLEET_PAYMENTS_PER_SECOND = 780;
    private static final int HISTORY_MINUTES = 10;
    private static final int ENTRIES_PER_BATCH = 50;
    private static final long CLOCK_TICKS_PER_SECOND = 100;

    private final SplittableRandom random = new SplittableRandom(8);
    private final RuleConfigSet configs = RuleConfigSet.defaults();
    private long position;

    /** The fleet's caps, a daily one or with {@code hourly} an hourly one too, and its history's payments an hour. */
    private final Function<String, AgentPolicy> fleetPolicies;
    private final int historyPaymentsPerDay;
    /** Whether the fleet's payments carry task ids, a task an hour, none completed. */
    private final boolean tasks;

    private ConsumerStoreCostMain(String mode) {
        fleetPolicies = mode.equals("hourly") ? ConsumerStoreCostMain::hourAndDayCaps : ConsumerStoreCostMain::policy;
        historyPaymentsPerDay = mode.isEmpty() ? 1 : 24;
        tasks = mode.equals("tasks");
    }

    public static void main(String[] args) throws Exception {
        int batches = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        int historyDays = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        String mode = args.length > 2 ? args[2] : "";
        if (!List.of("", "hourly", "tasks").contains(mode)) {
            throw new IllegalArgumentException("mode: hourly or tasks, not " + mode);
        }
        new ConsumerStoreCostMain(mode).run(batches, historyDays);
    }

    /** The fleet payment's task: the hour's when the fleet's payments carry task ids, else none. */
    private String fleetTask(Instant at) {
        return tasks ? "task-" + at.getEpochSecond() / 3_600 : "";
    }

    /**
     * @param historyDays days before the measured traffic on which every fleet agent paid once a day,
     *                    or once an hour with {@code hourly} (0: a fleet as new as the benchmark's; 14:
     *                    one with the history a deployment has, whose day totals the rules keep for 15
     *                    days)
     */
    private void run(int batches, int historyDays) throws Exception {
        Instant start = Instant.parse("2026-03-04T10:00:00Z");
        printSizes(start);

        Evaluator fleet = new Evaluator(60);
        List<String> agents = new ArrayList<>();
        for (int i = 0; i < AGENTS; i++) {
            agents.add(String.format("agt_bench_%04d", i));
        }
        for (int d = historyDays; d > 0; d--) {
            for (int h = 0; h < historyPaymentsPerDay; h++) {
                for (int a = 0; a < AGENTS; a++) {
                    Instant at = start.minusSeconds(d * 86_400L - h * 3_600L).plusMillis(a * 10L);
                    fleet.onEvent(payment(agents.get(a), at, fleetTask(at)), fleetPolicies, configs, at);
                }
            }
        }
        // Ten minutes of the fleet phase before the measured batches.
        long historyEvents = (long) (FLEET_PAYMENTS_PER_SECOND * 60 * HISTORY_MINUTES);
        Instant now = start;
        for (long i = 0; i < historyEvents; i++) {
            now = start.plusNanos((long) (i * 1e9 / FLEET_PAYMENTS_PER_SECOND));
            fleet.onEvent(payment(agents.get(random.nextInt(AGENTS)), now, fleetTask(now)), fleetPolicies, configs, now);
        }
        List<AgentChanges> all = fleet.takeDirtyAgents();
        long heads = 0, buckets = 0, bucketBytes = 0;
        for (AgentChanges c : all) {
            heads += StateCodec.head(c.state(), FORMAT).length;
            for (AgentState.Bucket b : c.state().buckets.values()) {
                buckets++;
                bucketBytes += StateCodec.bucket(b, FORMAT).length;
            }
        }
        long openTasks = all.stream().mapToLong(c -> c.state().openTasks.size()).sum();
        System.out.printf(Locale.ROOT, "fleet agents after %d days of history and %d min: %d states, stored as a head of "
                        + "%.0f bytes and %.1f bucket rows of %.0f bytes on average; %.1f open tasks%n", historyDays,
                HISTORY_MINUTES, all.size(), (double) heads / all.size(), (double) buckets / all.size(),
                (double) bucketBytes / buckets, (double) openTasks / all.size());

        try (EmbeddedDatabase pg = EmbeddedDatabase.throwaway().start()) {
            pg.createDatabase("cost");
            Flyway.configure().dataSource(pg.jdbcUrl("cost"), EmbeddedDatabase.USER, "").schemas("alerts")
                    .defaultSchema("alerts").locations("classpath:db/migration").load().migrate();
            Vertx vertx = Vertx.vertx();
            try {
                PgConnectOptions options = PgConnectOptions.fromUri(pg.reactiveUrl("cost").replace("vertx-reactive:", ""))
                        .setUser(EmbeddedDatabase.USER).setPassword("");
                options.addProperty("search_path", "alerts");
                options.addProperty("application_name", "alert-service-consumer");
                SqlConnection db = PgConnection.connect(vertx, options).await().indefinitely();
                long expected = 0;
                // The states as they are when the measured batches start, not measured.
                for (int from = 0; from < all.size(); from += 100) {
                    List<AgentChanges> chunk = all.subList(from, Math.min(all.size(), from + 100));
                    expected = commit(db, fleet, expected, expected + 1, chunk, now);
                }
                int pid = db.query("select pg_backend_pid() as pid").execute().await().indefinitely()
                        .iterator().next().getInteger("pid");
                String walBefore = wal(db);
                long cpuBefore = cpuTicks(pid);
                long nanosBefore = System.nanoTime();
                long writes = 0;
                for (int b = 0; b < batches; b++) {
                    long first = expected;
                    for (int i = 0; i < ENTRIES_PER_BATCH; i++) {
                        now = now.plusNanos((long) (1e9 / FLEET_PAYMENTS_PER_SECOND));
                        fleet.onEvent(payment(agents.get(random.nextInt(AGENTS)), now, fleetTask(now)), fleetPolicies,
                                configs, now);
                    }
                    List<AgentChanges> dirty = fleet.takeDirtyAgents();
                    writes += dirty.size();
                    expected = commit(db, fleet, first, position, dirty, now);
                }
                long nanos = System.nanoTime() - nanosBefore;
                long ticks = cpuTicks(pid) - cpuBefore;
                long walBytes = walDiff(db, walBefore);
                double cpuMs = ticks * 1000.0 / CLOCK_TICKS_PER_SECOND;
                System.out.printf(Locale.ROOT, "%d batches of %d fleet payments (%d agent states written): "
                                + "PostgreSQL backend CPU %.0f ms = %.3f ms per batch, %.1f us per payment; "
                                + "WAL %.0f bytes per batch; wall %.0f ms%n",
                        batches, ENTRIES_PER_BATCH, writes, cpuMs, cpuMs / batches,
                        cpuMs * 1000 / ((double) batches * ENTRIES_PER_BATCH), (double) walBytes / batches, nanos / 1e6);
                db.close().await().indefinitely();
            } finally {
                vertx.close().await().indefinitely();
            }
        }
    }

    private long commit(SqlConnection db, Evaluator ev, long expected, long newPosition, List<AgentChanges> dirty,
                        Instant now) {
        Transaction tx = db.begin().await().indefinitely();
        GraphChanges graph = ev.takeGraphChanges();
        ConsumerStore.commitBatch(db, expected, newPosition, dirty, graph, List.of(), now, FORMAT).await().indefinitely();
        tx.commit().await().indefinitely();
        return newPosition;
    }

    /** Sizes of the stored state of one agent in three shapes of traffic, and of the payment graph. */
    private void printSizes(Instant start) {
        // The hot agent of the benchmark's phase B: a payment every 5 ms for 10 minutes.
        describe("hot agent, every 5 ms for 10 min", single(start, 5, 10 * 60_000));
        // A fleet agent: about one payment every 1.3 s for 10 minutes.
        describe("fleet agent, every 1.3 s for 10 min", single(start, 1_300, 10 * 60_000));
        // An agent that works around the clock: one payment a minute for 25 hours fills every bucket kept.
        describe("steady agent, every 60 s for 25 h", single(start, 60_000, 25 * 3_600_000L));
        // A month of the same with an HOUR and a DAY cap, as a production agent has: what the head
        // carries from windows and days long past.
        describe("capped agent, every 60 s for 31 days", single(start, 60_000, 31 * 86_400_000L,
                ConsumerStoreCostMain::hourAndDayCaps));
        // Task ids on its payments, a new task every 15 minutes, and no CompleteTask: each task stays
        // open until the 15 days kept (or the 1,000 bound) drop it.
        Evaluator tasks = new Evaluator(60);
        for (long t = 0; t < 15 * 86_400_000L; t += 60_000) {
            Instant at = start.plusMillis(t);
            tasks.onEvent(payment("agt_bench_tasks", at, "task-" + (t / 900_000)), ConsumerStoreCostMain::policy, configs, at);
        }
        describe("task agent, a task per 15 min, none completed, 15 days", tasks.agent("agt_bench_tasks"));

        Evaluator ev = new Evaluator(60);
        // 100 agents delegating to each other: an agent payment a second for an hour (the default loop window).
        for (int i = 0; i < 3_600; i++) {
            Instant at = start.plusMillis(i * 1_000L);
            String from = String.format("agt_bench_%04d", random.nextInt(100));
            String to = String.format("agt_bench_%04d", random.nextInt(100));
            ev.onEvent(new LedgerEvent(++position, "ent_" + position, LedgerEvent.Kind.SPEND, from, "team_bench", 2_000,
                    2_000, "USD", "agent/translate", "", 0, to, "", null, at), ConsumerStoreCostMain::policy, configs, at);
        }
        System.out.printf(Locale.ROOT, "payment graph, 1 agent payment/s for 1 h: %d payments, %d bytes as JSON%n",
                ev.graph().size(), Json.write(ev.graph().payments()).length());
    }

    private AgentState single(Instant start, long everyMs, long forMs) {
        return single(start, everyMs, forMs, ConsumerStoreCostMain::policy);
    }

    private AgentState single(Instant start, long everyMs, long forMs, Function<String, AgentPolicy> policies) {
        Evaluator ev = new Evaluator(60);
        for (long t = 0; t < forMs; t += everyMs) {
            Instant at = start.plusMillis(t);
            ev.onEvent(payment("agt_bench_hot", at), policies, configs, at);
        }
        return ev.agent("agt_bench_hot");
    }

    private static void describe(String what, AgentState s) {
        int total = Json.write(s).length();
        int buckets = Json.write(s.buckets).length();
        int days = Json.write(s.days).length();
        int caps = Json.write(s.capWindows).length();
        int tasks = Json.write(s.openTasks).length();
        System.out.printf(Locale.ROOT, "%-36s JSON %7d bytes: buckets %7d (%d buckets, %d bytes each), days %d, "
                        + "cap windows %d, open tasks %d, rest %d%n", what, total, buckets, s.buckets.size(),
                buckets / Math.max(1, s.buckets.size()), days, caps, tasks, total - buckets - days - caps - tasks);
        System.out.printf(Locale.ROOT, "%-36s stored (" + FORMAT + "): head %d bytes + the latest bucket %d bytes%n", "",
                StateCodec.head(s, FORMAT).length, StateCodec.bucket(s.buckets.lastEntry().getValue(), FORMAT).length);
    }

    private LedgerEvent payment(String agent, Instant at) {
        return payment(agent, at, "");
    }

    private LedgerEvent payment(String agent, Instant at, String taskId) {
        long micros = 1_000 + random.nextInt(20_000);
        position++;
        return new LedgerEvent(position, "ent_" + position, LedgerEvent.Kind.SPEND, agent, "team_bench", micros, micros,
                "USD", TOOLS[random.nextInt(TOOLS.length)], taskId, 1, "", "", null, at);
    }

    private static AgentPolicy policy(String agentId) {
        return new AgentPolicy(agentId, "team_bench", "USD",
                List.of(new AgentPolicy.CapLimit(AgentPolicy.CapWindow.DAY, 1_000_000_000L, "", 0, null)),
                WorkingSchedule.none());
    }

    private static AgentPolicy hourAndDayCaps(String agentId) {
        return new AgentPolicy(agentId, "team_bench", "USD",
                List.of(new AgentPolicy.CapLimit(AgentPolicy.CapWindow.HOUR, 100_000_000L, "", 0, null),
                        new AgentPolicy.CapLimit(AgentPolicy.CapWindow.DAY, 1_000_000_000L, "", 0, null)),
                WorkingSchedule.none());
    }

    /** utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
    private static long cpuTicks(int pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    private static String wal(SqlConnection db) {
        return db.query("select pg_current_wal_lsn()::text as lsn").execute().await().indefinitely()
                .iterator().next().getString("lsn");
    }

    private static long walDiff(SqlConnection db, String before) {
        return db.preparedQuery("select pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint as d")
                .execute(io.vertx.mutiny.sqlclient.Tuple.of(before)).await().indefinitely().iterator().next().getLong("d");
    }
}
