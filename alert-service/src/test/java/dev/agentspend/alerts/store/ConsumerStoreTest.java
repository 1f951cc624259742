package dev.agentspend.alerts.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.agentspend.alerts.domain.AgentChanges;
import dev.agentspend.alerts.domain.AgentPolicy;
import dev.agentspend.alerts.domain.AgentState;
import dev.agentspend.alerts.domain.Evaluator;
import dev.agentspend.alerts.domain.GraphChanges;
import dev.agentspend.alerts.domain.LedgerEvent;
import dev.agentspend.alerts.domain.PaymentGraph;
import dev.agentspend.alerts.domain.RuleConfigSet;
import dev.agentspend.common.api.WorkingSchedule;
import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.platform.WalInspection;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.pgclient.PgConnection;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Transaction;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgConnectOptions;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The consumer's rule state survives the database exactly: what batches wrote (heads, touched
 * buckets, pruned buckets, the graph) loads back as the evaluator held it, and state stored in
 * V1's jsonb form loads back unchanged after V2 moved it to bytea and split off the buckets.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConsumerStoreTest {
    private static final ObjectMapper TREES = new ObjectMapper();
    private static final AtomicInteger DATABASES = new AtomicInteger();
    private static final Instant T0 = Instant.parse("2026-03-04T10:00:00Z");
    private static final String[] TOOLS = {"openai/chat.completions", "anthropic/messages", "serpapi/search"};
    private static Vertx vertx;
    private final RuleConfigSet configs = RuleConfigSet.defaults();
    private long position;

    @BeforeAll
    static void startVertx() {
        vertx = Vertx.vertx();
    }

    @AfterAll
    static void stopVertx() {
        vertx.close().await().indefinitely();
    }

    @Test
    void batchesLoadBackAsTheEvaluatorHeldThem() throws IOException {
        SqlConnection db = connect(migratedDatabase(null));
        Evaluator ev = new Evaluator(60);
        long committed = 0;
        long firstBucket = Math.floorDiv(T0.getEpochSecond(), 60);
        // 27 hours of traffic, two agents paying each other too: buckets older than the 25 hours
        // the default rules look back are pruned and must leave the database as well.
        for (int i = 0; i < 27 * 20; i++) {
            Instant at = T0.plusSeconds(i * 180L);
            // Every seventh entry was recorded two minutes before the one ahead of it in the
            // feed: it falls into an older bucket than the agent's latest.
            Instant recorded = i % 7 == 6 ? at.minusSeconds(120) : at;
            for (LedgerEvent e : traffic(i, recorded)) {
                ev.onEvent(e, ConsumerStoreTest::policy, configs, e.recordedTime());
            }
            if (i % 5 == 4) {
                committed = commit(db, ev, committed);
            }
        }
        committed = commit(db, ev, committed);

        ConsumerStore.Loaded loaded = ConsumerStore.load(db, StateFormat.BINARY).await().indefinitely();
        assertEquals(committed, loaded.position());
        assertEquals(2, loaded.states().size());
        for (AgentState stored : loaded.states()) {
            AgentState held = ev.agent(stored.agentId);
            assertTrue(held.buckets.firstKey() > firstBucket + 60, "the test must have pruned buckets");
            assertEquals(held.buckets.keySet(), stored.buckets.keySet(), "buckets of " + stored.agentId);
            assertEquals(tree(held), tree(stored), "state of " + stored.agentId);
        }
        assertFalse(ev.graph().isEmpty());
        assertEquals(graphTree(ev.graph()), graphTree(loaded.graph()));
        long rows = db.query("select count(*) as n from agent_buckets").execute().await().indefinitely()
                .iterator().next().getLong("n");
        assertEquals(ev.agent("agt_a").buckets.size() + ev.agent("agt_b").buckets.size(), rows);
        // agt_b completes each task it pays, agt_a none: the rows are the tasks still open, no more
        assertTrue(ev.agent("agt_a").openTasks.size() > 50, "the test must leave tasks open");
        long taskRows = db.query("select count(*) as n from agent_open_tasks").execute().await().indefinitely()
                .iterator().next().getLong("n");
        assertEquals(ev.agent("agt_a").openTasks.size() + ev.agent("agt_b").openTasks.size(), taskRows);
        assertEquals(0L, count(db, "select count(*) as n from agent_state where position('openTasks'::bytea in state) > 0"),
                "the heads leave the open tasks out");
        assertEquals(0L, count(db, "select count(*) as n from agent_state where get_byte(state, 0) <> 1"), "heads not binary");
        assertEquals(0L, count(db, "select count(*) as n from agent_buckets where get_byte(data, 0) <> 1"),
                "buckets not binary");
        // the batches' statements were prepared once on the session, not parsed and planned per batch
        List<String> prepared = new ArrayList<>();
        db.query("select statement from pg_prepared_statements").execute().await().indefinitely()
                .forEach(r -> prepared.add(r.getString("statement")));
        assertTrue(prepared.contains(ConsumerStore.WRITE_BUCKETS), prepared.toString());
        assertTrue(prepared.stream().anyMatch(q -> q.startsWith("update consumer_state")), prepared.toString());
        db.close().await().indefinitely();
    }

    @Test
    void v2ConvertsStateStoredAsJsonbV3MovesTheGraphAndV5TheOpenTasksToRows() throws IOException {
        Evaluator ev = new Evaluator(60);
        for (int i = 0; i < 200; i++) {
            for (LedgerEvent e : traffic(i, T0.plusSeconds(i * 45L))) {
                ev.onEvent(e, ConsumerStoreTest::policy, configs, e.recordedTime());
            }
        }
        String database = migratedDatabase("1");
        SqlConnection v1 = connect(database);
        for (String agent : List.of("agt_a", "agt_b")) {
            v1.preparedQuery("insert into agent_state (agent_id, state, position) values ($1, $2::text::jsonb, $3)")
                    .execute(Tuple.of(agent, Json.write(ev.agent(agent)), position)).await().indefinitely();
        }
        v1.preparedQuery("update consumer_state set position = $1, graph_state = $2::text::jsonb where id = 1")
                .execute(Tuple.of(position, Json.write(Map.of("payments", ev.graph().payments())))).await().indefinitely();
        v1.close().await().indefinitely();

        migrate(database, null);
        SqlConnection db = connect(database);
        ConsumerStore.Loaded loaded = ConsumerStore.load(db, StateFormat.BINARY).await().indefinitely();
        assertEquals(position, loaded.position());
        assertEquals(2, loaded.states().size());
        for (AgentState stored : loaded.states()) {
            AgentState before = ev.agent(stored.agentId);
            assertTrue(before.buckets.size() > 50, "the state must have many buckets to move");
            assertEquals(tree(before), tree(stored), "state of " + stored.agentId);
        }
        assertFalse(ev.graph().isEmpty());
        assertEquals(graphTree(ev.graph()), graphTree(loaded.graph()));
        assertTrue(ev.agent("agt_a").openTasks.size() > 10, "the state must have open tasks to move");
        assertEquals(0L, count(db, "select count(*) as n from agent_state where position('openTasks'::bytea in state) > 0"),
                "V5 moved the open tasks out of the heads");
        // the JSON rows the migrations left were rewritten in the binary form when the consumer loaded them
        assertEquals(0L, count(db, "select count(*) as n from agent_state where get_byte(state, 0) <> 1"), "heads not binary");
        assertEquals(0L, count(db, "select count(*) as n from agent_buckets where get_byte(data, 0) <> 1"),
                "buckets not binary");
        assertTrue(count(db, "select count(*) as n from agent_buckets") > 100, "the state must have many bucket rows");
        for (AgentState again : ConsumerStore.load(db, StateFormat.BINARY).await().indefinitely().states()) {
            assertEquals(tree(ev.agent(again.agentId)), tree(again), "state of " + again.agentId + " read back as binary");
        }

        // rolling back: a consumer started with JSON rewrites every row as JSON, which the previous
        // release reads with nothing but its JSON mapper
        ConsumerStore.Loaded asJson = ConsumerStore.load(db, StateFormat.JSON).await().indefinitely();
        assertEquals(2, asJson.states().size());
        assertEquals(0L, count(db, "select count(*) as n from agent_state where get_byte(state, 0) <> 123"), "heads not JSON");
        assertEquals(0L, count(db, "select count(*) as n from agent_buckets where get_byte(data, 0) <> 123"),
                "buckets not JSON");
        for (io.vertx.mutiny.sqlclient.Row r : db.query("select state from agent_state").execute().await().indefinitely()) {
            AgentState head = Json.read(r.getBuffer("state").toString(java.nio.charset.StandardCharsets.UTF_8),
                    AgentState.class);
            AgentState before = ev.agent(head.agentId);
            assertEquals(before.lifetimeSpend, head.lifetimeSpend);
            assertEquals(tree(before.days), tree(head.days));
            assertEquals(tree(before.capWindows), tree(head.capWindows));
        }
        for (io.vertx.mutiny.sqlclient.Row r : db.query("select agent_id, bucket, data from agent_buckets").execute()
                .await().indefinitely()) {
            AgentState.Bucket b = Json.read(r.getBuffer("data").toString(java.nio.charset.StandardCharsets.UTF_8),
                    AgentState.Bucket.class);
            assertEquals(tree(ev.agent(r.getString("agent_id")).buckets.get(r.getLong("bucket"))), tree(b));
        }
        // V4: the graph's old single value is gone once V3 has moved its payments to rows
        assertEquals(0L, db.query("select count(*) as n from information_schema.columns where table_schema = 'alerts' "
                + "and table_name = 'consumer_state' and column_name = 'graph_state'").execute().await().indefinitely()
                .iterator().next().getLong("n"));
        db.close().await().indefinitely();
    }

    /** Entries of step i: spend on a tool, and now and then a retry, a decline, a refund, a finished task, an agent payment. */
    /**
     * A batch rewrites an agent's stored head and bucket rows without locking them first (the
     * upsert's conflict path did: one more WAL record per row). Read from the WAL between the two
     * writes, for the rows' own tuples.
     */
    @Test
    void storedHeadsAndBucketsAreUpdatedWithoutALockFirst() throws Exception {
        String database = migratedDatabase(null);
        SqlConnection db = connect(database);
        writeHeadAndBucket(db, 1);
        try (Connection wal = DriverManager.getConnection(EmbeddedPostgresTestResource.server().jdbcUrl(database),
                EmbeddedDatabase.USER, "")) {
            Set<WalInspection.Tuple> rows = new HashSet<>(WalInspection.tuples(wal, "alerts.agent_state", "true"));
            rows.addAll(WalInspection.tuples(wal, "alerts.agent_buckets", "true"));
            assertEquals(2, rows.size());
            String from = WalInspection.position(wal);

            writeHeadAndBucket(db, 2);

            List<String> records = WalInspection.heapRecordTypes(wal, from, rows);
            assertEquals(List.of(), records.stream().filter("LOCK"::equals).toList(), "row locks on the stored head and bucket");
            assertEquals(2, records.size(), "one update of each row: " + records);
        }
        assertEquals(2L, db.query("select position from agent_state").execute().await().indefinitely()
                .iterator().next().getLong("position"));
        db.close().await().indefinitely();
    }

    private static void writeHeadAndBucket(SqlConnection db, long position) {
        io.vertx.core.buffer.Buffer data = io.vertx.core.buffer.Buffer.buffer(new byte[]{(byte) position});
        db.preparedQuery(ConsumerStore.WRITE_HEADS).execute(Tuple.of(new String[]{"agt_wal"},
                new io.vertx.core.buffer.Buffer[]{data}, position)).await().indefinitely();
        db.preparedQuery(ConsumerStore.WRITE_BUCKETS).execute(Tuple.of(new String[]{"agt_wal"}, new Long[]{7L},
                new io.vertx.core.buffer.Buffer[]{data})).await().indefinitely();
    }

    private List<LedgerEvent> traffic(int i, Instant at) {
        String agent = i % 2 == 0 ? "agt_a" : "agt_b";
        String other = i % 2 == 0 ? "agt_b" : "agt_a";
        String task = "task-" + (i / 6);
        List<LedgerEvent> events = new ArrayList<>();
        events.add(event(LedgerEvent.Kind.SPEND, agent, 1_000 + i * 37L, TOOLS[i % TOOLS.length], task, 1 + i % 3, "", "",
                at.minusSeconds(i % 4 == 0 ? 86_400 : 0), at));
        switch (i % 6) {
            case 1 -> events.add(event(LedgerEvent.Kind.DECLINE, agent, 0, TOOLS[0], "", 1, "", "CAP_EXCEEDED", null, at));
            case 2 -> events.add(event(LedgerEvent.Kind.REVERSAL, agent, -500, TOOLS[1], task, 0, "", "", null, at));
            case 3 -> events.add(event(LedgerEvent.Kind.SPEND, agent, 2_000, "agent/translate", "", 0, other, "", null, at));
            case 5 -> events.add(event(LedgerEvent.Kind.TASK_COMPLETED, agent, 0, "", task, 0, "", "", null, at));
            default -> {
            }
        }
        return events;
    }

    private LedgerEvent event(LedgerEvent.Kind kind, String agent, long micros, String tool, String task, int attempt,
                              String counterparty, String declineReason, Instant occurred, Instant recorded) {
        position++;
        return new LedgerEvent(position, "ent_" + position, kind, agent, "team_a", micros, Math.abs(micros), "USD", tool,
                task, attempt, counterparty, declineReason, occurred, recorded);
    }

    private static AgentPolicy policy(String agentId) {
        return new AgentPolicy(agentId, "team_a", "USD",
                List.of(new AgentPolicy.CapLimit(AgentPolicy.CapWindow.DAY, 50_000_000L, "", 0, null),
                        new AgentPolicy.CapLimit(AgentPolicy.CapWindow.WEEK, 90_000_000L, TOOLS[0], 0, null)),
                WorkingSchedule.none());
    }

    private long commit(SqlConnection db, Evaluator ev, long expected) {
        List<AgentChanges> dirty = ev.takeDirtyAgents();
        GraphChanges graph = ev.takeGraphChanges();
        Transaction tx = db.begin().await().indefinitely();
        ConsumerStore.commitBatch(db, expected, position, dirty, graph, List.of(), Instant.now(), StateFormat.BINARY).await().indefinitely();
        tx.commit().await().indefinitely();
        return position;
    }

    private static long count(SqlConnection db, String sql) {
        return db.query(sql).execute().await().indefinitely().iterator().next().getLong("n");
    }

    /** Order-insensitive form of what Json (V1's form) writes: maps compare by content. */
    private static JsonNode tree(Object value) throws IOException {
        return TREES.readTree(Json.write(value));
    }

    /** The graph's payments by recorded time. */
    private static JsonNode graphTree(PaymentGraph graph) throws IOException {
        return TREES.readTree(Json.write(graph.payments()));
    }

    /** A new database migrated up to the given version (null: the latest). */
    private static String migratedDatabase(String target) {
        String database = "consumer_store_" + DATABASES.incrementAndGet();
        EmbeddedPostgresTestResource.server().createDatabase(database);
        migrate(database, target);
        return database;
    }

    private static void migrate(String database, String target) {
        var flyway = Flyway.configure()
                .dataSource(EmbeddedPostgresTestResource.server().jdbcUrl(database), EmbeddedDatabase.USER, "")
                .schemas("alerts").defaultSchema("alerts").locations("classpath:db/migration");
        if (target != null) {
            flyway.target(target);
        }
        flyway.load().migrate();
    }

    /** A connection as the consumer opens it. */
    private static SqlConnection connect(String database) {
        PgConnectOptions options = ConsumerStore.connectOptions(EmbeddedPostgresTestResource.server().reactiveUrl(database),
                java.util.Optional.of(EmbeddedDatabase.USER), "");
        return PgConnection.connect(vertx, options).await().indefinitely();
    }
}
