package dev.agentspend.alerts.store;

import dev.agentspend.alerts.domain.AgentChanges;
import dev.agentspend.alerts.domain.AgentState;
import dev.agentspend.alerts.domain.AlertChange;
import dev.agentspend.alerts.domain.Evaluator;
import dev.agentspend.alerts.domain.GraphChanges;
import dev.agentspend.alerts.domain.OpenAlert;
import dev.agentspend.alerts.domain.PaymentGraph;
import dev.agentspend.alerts.domain.RuleConfigSet;
import dev.agentspend.alerts.domain.RuleOverride;
import dev.agentspend.alerts.domain.RuleType;
import dev.agentspend.common.db.StatementCache;
import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.AlertEventType;
import dev.agentspend.proto.alerts.v1.AlertState;
import io.smallrye.mutiny.Uni;
import io.vertx.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgConnectOptions;
import org.jboss.logging.Logger;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The consumer's persistence: everything it loads at start and writes per batch, on the one
 * connection that holds the consumer lock. A batch commits the rule state, the alerts and their
 * events, the outboxes and the new feed position together, guarded by a compare-and-set on the
 * position: a restart resumes exactly after the last committed entry, and a consumer that lost
 * its lock without noticing cannot commit twice.
 */
public final class ConsumerStore {
    private static final Logger LOG = Logger.getLogger(ConsumerStore.class);
    /** The session advisory lock the evaluating replica holds. */
    public static final long CONSUMER_LOCK = 0xA1E7_0001L;

    private ConsumerStore() {
    }

    /** {@code swept}: what sweeps resolved in the last day, by dedupe key, and when they judged it. */
    public record Loaded(long position, PaymentGraph graph, List<AgentState> states, List<OpenAlert> openAlerts,
                         Map<String, Instant> swept) {
    }

    /** Thrown when the stored position is not the one this consumer expected: someone else evaluated. */
    public static final class LostLease extends RuntimeException {
        public LostLease(String message) {
            super(message);
        }
    }

    /**
     * The consumer's own connection: the alerts schema, durable commits whatever the server's
     * default, and every statement prepared once (each batch sends the same few).
     */
    public static PgConnectOptions connectOptions(String url, Optional<String> user, String password) {
        PgConnectOptions options = StatementCache.enable(PgConnectOptions.fromUri(url));
        user.ifPresent(options::setUser);
        options.setPassword(password);
        options.addProperty("search_path", "alerts");
        options.addProperty("synchronous_commit", "on");
        options.addProperty("application_name", "alert-service-consumer");
        return options;
    }

    public static Uni<Boolean> tryLock(SqlConnection db) {
        return db.query("select pg_try_advisory_lock(" + CONSUMER_LOCK + ") as locked").execute()
                .map(rows -> rows.iterator().next().getBoolean("locked"));
    }

    /**
     * Everything the consumer keeps, read at the start of its lease. Rule state stored in the other
     * form than {@code format} is rewritten in {@code format} before this returns (see
     * {@link Rewrites}).
     */
    public static Uni<Loaded> load(SqlConnection db, StateFormat format) {
        return db.query("select position from consumer_state where id = 1").execute()
                .chain(head -> {
                    long position = head.iterator().next().getLong("position");
                    return loadGraph(db).chain(graph -> loadAgents(db, format).chain(states -> db.query("select "
                                    + AlertRecords.COLUMNS + " from alerts where state <> 'RESOLVED'").execute()
                            .chain(alertRows -> {
                                List<OpenAlert> open = new ArrayList<>();
                                for (Row r : alertRows) {
                                    open.add(AlertRecords.openFromRow(r));
                                }
                                return loadSwept(db).map(swept -> new Loaded(position, graph, states, open, swept));
                            })));
                });
    }

    private static Uni<Map<String, Instant>> loadSwept(SqlConnection db) {
        return db.preparedQuery("select dedupe_key, judged_at from sweep_resolutions where judged_at > $1")
                .execute(Tuple.of(AlertRecords.odt(Instant.now().minus(Evaluator.SWEPT_KEEP))))
                .map(rows -> {
                    Map<String, Instant> swept = new HashMap<>();
                    for (Row r : rows) {
                        swept.put(r.getString("dedupe_key"), r.getOffsetDateTime("judged_at").toInstant());
                    }
                    return swept;
                });
    }

    private static Uni<PaymentGraph> loadGraph(SqlConnection db) {
        return db.query("select from_agent, to_agent, amount_micros, recorded_epoch_milli from graph_payments "
                + "order by recorded_epoch_milli, id").execute().map(rows -> {
                    PaymentGraph graph = new PaymentGraph();
                    for (Row r : rows) {
                        PaymentGraph.Payment p = new PaymentGraph.Payment();
                        p.from = r.getString("from_agent");
                        p.to = r.getString("to_agent");
                        p.amountMicros = r.getLong("amount_micros");
                        p.recordedEpochMilli = r.getLong("recorded_epoch_milli");
                        graph.add(p);
                    }
                    return graph;
                });
    }

    /** Every agent's head with its buckets and open tasks put back; rows in the other form rewritten. */
    private static Uni<List<AgentState>> loadAgents(SqlConnection db, StateFormat format) {
        Rewrites rewrites = new Rewrites(format);
        return db.query("select state from agent_state").execute()
                .chain(heads -> {
                    Map<String, AgentState> states = new HashMap<>();
                    for (Row r : heads) {
                        byte[] stored = r.getBuffer("state").getBytes();
                        AgentState s = StateCodec.readHead(stored);
                        states.put(s.agentId, s);
                        rewrites.head(s, stored);
                    }
                    return db.query("select agent_id, bucket, data from agent_buckets").execute().map(buckets -> {
                        for (Row r : buckets) {
                            AgentState s = states.get(r.getString("agent_id"));
                            if (s == null) {
                                throw new IllegalStateException("rule state bucket of agent " + r.getString("agent_id")
                                        + " without the agent's state");
                            }
                            byte[] stored = r.getBuffer("data").getBytes();
                            AgentState.Bucket b = StateCodec.readBucket(stored);
                            s.buckets.put(r.getLong("bucket"), b);
                            rewrites.bucket(s.agentId, r.getLong("bucket"), b, stored);
                        }
                        return states;
                    });
                })
                .call(states -> rewrites.write(db))
                .chain(states -> db.query("select agent_id, task_id, spend_micros, last_epoch_second from agent_open_tasks")
                        .execute().map(tasks -> {
                            for (Row r : tasks) {
                                AgentState s = states.get(r.getString("agent_id"));
                                if (s == null) {
                                    throw new IllegalStateException("open task of agent " + r.getString("agent_id")
                                            + " without the agent's state");
                                }
                                AgentState.OpenTask t = new AgentState.OpenTask();
                                t.spend = r.getLong("spend_micros");
                                t.lastEpochSecond = r.getLong("last_epoch_second");
                                s.openTasks.put(r.getString("task_id"), t);
                            }
                            for (AgentState s : states.values()) {
                                s.orderOpenTasks();
                            }
                            return List.copyOf(states.values());
                        }));
    }

    /** Most rows one rewrite statement carries. */
    static final int REWRITE_ROWS_MAX = 1_000;

    /**
     * Rows read in the other form than the consumer writes: rewritten at load, so that after a
     * consumer with {@link StateFormat#JSON} has started once every row is JSON again (what a
     * rollback to a release that reads only JSON needs), and after one with the binary default has
     * started no JSON row is left to be read. Each statement commits on its own (the lease's
     * connection is outside a transaction here): a consumer stopped halfway leaves rows of both
     * forms, which every release from this one on reads, and the next start rewrites the rest.
     */
    private static final class Rewrites {
        private final StateFormat format;
        private final List<String> headAgents = new ArrayList<>();
        private final List<Buffer> heads = new ArrayList<>();
        private final List<String> bucketAgents = new ArrayList<>();
        private final List<Long> buckets = new ArrayList<>();
        private final List<Buffer> bucketData = new ArrayList<>();

        Rewrites(StateFormat format) {
            this.format = format;
        }

        void head(AgentState s, byte[] stored) {
            if (!StateCodec.isIn(stored, format)) {
                headAgents.add(s.agentId);
                heads.add(Buffer.buffer(StateCodec.head(s, format)));
            }
        }

        void bucket(String agentId, long bucket, AgentState.Bucket b, byte[] stored) {
            if (!StateCodec.isIn(stored, format)) {
                bucketAgents.add(agentId);
                buckets.add(bucket);
                bucketData.add(Buffer.buffer(StateCodec.bucket(b, format)));
            }
        }

        Uni<Void> write(SqlConnection db) {
            if (headAgents.isEmpty() && buckets.isEmpty()) {
                return Uni.createFrom().voidItem();
            }
            LOG.infof("rewriting %d rule state heads and %d buckets stored in the other form than %s",
                    headAgents.size(), buckets.size(), format);
            List<Supplier<Uni<?>>> steps = new ArrayList<>();
            for (int from = 0; from < headAgents.size(); from += REWRITE_ROWS_MAX) {
                int to = Math.min(headAgents.size(), from + REWRITE_ROWS_MAX);
                Tuple args = Tuple.of(headAgents.subList(from, to).toArray(new String[0]),
                        heads.subList(from, to).toArray(new Buffer[0]));
                steps.add(() -> db.preparedQuery("update agent_state t set state = d.state "
                        + "from unnest($1::text[], $2::bytea[]) as d (agent_id, state) where t.agent_id = d.agent_id")
                        .execute(args));
            }
            for (int from = 0; from < buckets.size(); from += REWRITE_ROWS_MAX) {
                int to = Math.min(buckets.size(), from + REWRITE_ROWS_MAX);
                Tuple args = Tuple.of(bucketAgents.subList(from, to).toArray(new String[0]),
                        buckets.subList(from, to).toArray(new Long[0]), bucketData.subList(from, to).toArray(new Buffer[0]));
                // every one of these rows exists: the batch statement updates them, inserting none
                steps.add(() -> db.preparedQuery(WRITE_BUCKETS).execute(args));
            }
            return Sql.inOrder(steps);
        }
    }

    public static Uni<RuleConfigSet> configs(SqlConnection db) {
        // prepared (cached per connection): every batch reads the configs, and a simple query was
        // parsed and planned each time (perf: the consumer's backend planning under the bench)
        return db.preparedQuery("select scope, scope_id, rule, config::text as config from rule_configs").execute().map(rows -> {
            Map<RuleConfigSet.Key, RuleOverride> m = new HashMap<>();
            for (Row r : rows) {
                m.put(new RuleConfigSet.Key(RuleConfigSet.Scope.valueOf(r.getString("scope")), r.getString("scope_id"),
                        RuleType.valueOf(r.getString("rule"))), Json.read(r.getString("config"), RuleOverride.class));
            }
            return new RuleConfigSet(m);
        });
    }

    /**
     * True when a batch with these changes appends alert events (and outbox rows): a fired or
     * resolved alert. A refresh only updates the open alert's row.
     */
    public static boolean appendsEvents(List<AlertChange> changes) {
        return changes.stream().anyMatch(c -> !(c instanceof AlertChange.Refreshed));
    }

    /**
     * Writes one batch inside the caller's transaction.
     *
     * @param graph what changed in the payment graph
     * @param format the form the rule state rows are written in
     */
    public static Uni<Void> commitBatch(SqlConnection db, long expectedPosition, long newPosition,
                                        Collection<AgentChanges> dirty, GraphChanges graph, List<AlertChange> changes,
                                        Instant now, StateFormat format) {
        List<Supplier<Uni<?>>> steps = new ArrayList<>();
        steps.add(() -> db.preparedQuery("update consumer_state set position = $2, update_time = $3"
                        + " where id = 1 and position = $1")
                .execute(Tuple.of(expectedPosition, newPosition, AlertRecords.odt(now)))
                .invoke(rows -> {
                    if (rows.rowCount() != 1) {
                        throw new LostLease("feed position moved from " + expectedPosition + " under this consumer");
                    }
                }));
        if (!dirty.isEmpty()) {
            addStateWrites(db, newPosition, dirty, steps, format);
        }
        addGraphWrites(db, graph, steps);
        // Only the last refresh of an alert in the batch matters, unless a resolve follows it.
        Map<String, Integer> lastChange = new HashMap<>();
        for (int i = 0; i < changes.size(); i++) {
            lastChange.put(changes.get(i).alert().alertId(), i);
        }
        if (appendsEvents(changes)) {
            steps.add(() -> AlertEvents.lock(db));
        }
        for (int i = 0; i < changes.size(); i++) {
            AlertChange c = changes.get(i);
            boolean last = lastChange.get(c.alert().alertId()) == i;
            if (c instanceof AlertChange.Fired f) {
                steps.add(() -> insert(db, f.alert()));
                steps.add(() -> AlertEvents.append(db, AlertEventType.ALERT_EVENT_TYPE_FIRED,
                        firing(f.alert()), "", now));
                for (String agentId : f.suspend()) {
                    steps.add(() -> db.preparedQuery("insert into suspensions (alert_id, agent_id, status, "
                                    + "next_attempt_time) values ($1, $2, 'PENDING', $3) on conflict do nothing")
                            .execute(Tuple.of(f.alert().alertId(), agentId, AlertRecords.odt(now))));
                }
            } else if (c instanceof AlertChange.Refreshed r && last) {
                steps.add(() -> db.preparedQuery("update alerts set last_seen_time = $2, evidence = $3::text::jsonb "
                                + "where alert_id = $1 and state <> 'RESOLVED'")
                        .execute(Tuple.of(r.alert().alertId(), AlertRecords.odt(r.alert().lastSeen()),
                                Json.write(r.alert().evidence()))));
            } else if (c instanceof AlertChange.Resolved res) {
                if (res.sweptAt() != null) {
                    steps.add(() -> db.preparedQuery("insert into sweep_resolutions (dedupe_key, judged_at) values ($1, $2) "
                                    + "on conflict (dedupe_key) do update set judged_at = greatest(sweep_resolutions.judged_at, excluded.judged_at)")
                            .execute(Tuple.of(res.alert().dedupeKey(), AlertRecords.odt(res.sweptAt()))));
                }
                steps.add(() -> db.preparedQuery("update alerts set state = 'RESOLVED', resolve_time = $2, "
                                + "last_seen_time = $3, evidence = $4::text::jsonb where alert_id = $1 and state <> 'RESOLVED' returning "
                                + AlertRecords.COLUMNS)
                        .execute(Tuple.of(res.alert().alertId(), AlertRecords.odt(res.at()),
                                AlertRecords.odt(res.alert().lastSeen()), Json.write(res.alert().evidence())))
                        .chain(rows -> rows.iterator().hasNext()
                                ? AlertEvents.append(db, AlertEventType.ALERT_EVENT_TYPE_RESOLVED,
                                        AlertRecords.fromRow(rows.iterator().next()), "", now).replaceWithVoid()
                                : Uni.createFrom().voidItem()));
            }
        }
        changes.stream().filter(c -> c instanceof AlertChange.Resolved r && r.sweptAt() != null).findFirst()
                .ifPresent(c -> steps.add(() -> db.preparedQuery("delete from sweep_resolutions where judged_at < $1")
                        .execute(Tuple.of(AlertRecords.odt(((AlertChange.Resolved) c).sweptAt().minus(Evaluator.SWEPT_KEEP))))));
        return Sql.inOrder(steps);
    }

    /**
     * Each dirty agent's head, the buckets its entries touched and the buckets pruned, the open tasks
     * paid and those no longer open: one statement each over arrays, whatever the number of agents.
     */
    private static void addStateWrites(SqlConnection db, long newPosition, Collection<AgentChanges> dirty,
                                       List<Supplier<Uni<?>>> steps, StateFormat format) {
        List<String> agentIds = new ArrayList<>(dirty.size());
        List<Buffer> heads = new ArrayList<>(dirty.size());
        List<String> writtenAgents = new ArrayList<>();
        List<Long> written = new ArrayList<>();
        List<Buffer> writtenData = new ArrayList<>();
        List<String> deletedAgents = new ArrayList<>();
        List<Long> deleted = new ArrayList<>();
        TaskRows tasks = new TaskRows();
        for (AgentChanges c : dirty) {
            String id = c.state().agentId;
            agentIds.add(id);
            heads.add(Buffer.buffer(StateCodec.head(c.state(), format)));
            for (long bucket : c.writtenBuckets()) {
                writtenAgents.add(id);
                written.add(bucket);
                writtenData.add(Buffer.buffer(StateCodec.bucket(c.state().buckets.get(bucket), format)));
            }
            for (long bucket : c.deletedBuckets()) {
                deletedAgents.add(id);
                deleted.add(bucket);
            }
            for (Map.Entry<String, AgentState.OpenTask> t : c.writtenTasks().entrySet()) {
                tasks.add(id, t.getKey(), t.getValue());
            }
            for (String task : c.deletedTasks()) {
                tasks.delete(id, task);
            }
        }
        steps.add(() -> db.preparedQuery(WRITE_HEADS)
                .execute(Tuple.of(agentIds.toArray(new String[0]), heads.toArray(new Buffer[0]), newPosition)));
        if (!deleted.isEmpty()) {
            steps.add(() -> db.preparedQuery("delete from agent_buckets b "
                            + "using unnest($1::text[], $2::bigint[]) as d (agent_id, bucket) "
                            + "where b.agent_id = d.agent_id and b.bucket = d.bucket")
                    .execute(Tuple.of(deletedAgents.toArray(new String[0]), deleted.toArray(new Long[0]))));
        }
        if (!written.isEmpty()) {
            steps.add(() -> db.preparedQuery(WRITE_BUCKETS)
                    .execute(Tuple.of(writtenAgents.toArray(new String[0]), written.toArray(new Long[0]),
                            writtenData.toArray(new Buffer[0]))));
        }
        tasks.addWrites(db, steps);
    }

    /** A batch's open-task rows to write and to delete, as parallel arrays. */
    private static final class TaskRows {
        private final List<String> agents = new ArrayList<>();
        private final List<String> ids = new ArrayList<>();
        private final List<Long> spends = new ArrayList<>();
        private final List<Long> lastPaid = new ArrayList<>();
        private final List<String> deletedAgents = new ArrayList<>();
        private final List<String> deletedIds = new ArrayList<>();

        void add(String agentId, String taskId, AgentState.OpenTask t) {
            agents.add(agentId);
            ids.add(taskId);
            spends.add(t.spend);
            lastPaid.add(t.lastEpochSecond);
        }

        void delete(String agentId, String taskId) {
            deletedAgents.add(agentId);
            deletedIds.add(taskId);
        }

        void addWrites(SqlConnection db, List<Supplier<Uni<?>>> steps) {
            if (!deletedIds.isEmpty()) {
                steps.add(() -> db.preparedQuery(DELETE_TASKS)
                        .execute(Tuple.of(deletedAgents.toArray(new String[0]), deletedIds.toArray(new String[0]))));
            }
            if (!ids.isEmpty()) {
                steps.add(() -> db.preparedQuery(WRITE_TASKS).execute(Tuple.of(agents.toArray(new String[0]),
                        ids.toArray(new String[0]), spends.toArray(new Long[0]), lastPaid.toArray(new Long[0]))));
            }
        }
    }

    /*
     * Heads and buckets: rows that exist are updated by a plain UPDATE and only the others inserted.
     * An upsert that meets an existing row (nearly every head, and the newest bucket of every batch
     * but the first of each bucket) locks it before updating it: a second WAL record per row. This
     * consumer is the only writer (advisory lock); the ON CONFLICT clause keeps it right regardless.
     */
    static final String WRITE_HEADS = """
            with d as (select * from unnest($1::text[], $2::bytea[]) as d (agent_id, state)),
            u as (update agent_state t set state = d.state, position = $3 from d where t.agent_id = d.agent_id
                  returning t.agent_id)
            insert into agent_state (agent_id, state, position)
            select d.agent_id, d.state, $3 from d where not exists (select 1 from u where u.agent_id = d.agent_id)
            on conflict (agent_id) do update set state = excluded.state, position = excluded.position""";

    static final String WRITE_BUCKETS = """
            with d as (select * from unnest($1::text[], $2::bigint[], $3::bytea[]) as d (agent_id, bucket, data)),
            u as (update agent_buckets t set data = d.data from d where t.agent_id = d.agent_id and t.bucket = d.bucket
                  returning t.agent_id, t.bucket)
            insert into agent_buckets (agent_id, bucket, data)
            select d.agent_id, d.bucket, d.data from d
            where not exists (select 1 from u where u.agent_id = d.agent_id and u.bucket = d.bucket)
            on conflict (agent_id, bucket) do update set data = excluded.data""";

    static final String WRITE_TASKS = """
            with d as (select * from unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
                       as d (agent_id, task_id, spend_micros, last_epoch_second)),
            u as (update agent_open_tasks t set spend_micros = d.spend_micros, last_epoch_second = d.last_epoch_second
                  from d where t.agent_id = d.agent_id and t.task_id = d.task_id
                  returning t.agent_id, t.task_id)
            insert into agent_open_tasks (agent_id, task_id, spend_micros, last_epoch_second)
            select d.agent_id, d.task_id, d.spend_micros, d.last_epoch_second from d
            where not exists (select 1 from u where u.agent_id = d.agent_id and u.task_id = d.task_id)
            on conflict (agent_id, task_id) do update
              set spend_micros = excluded.spend_micros, last_epoch_second = excluded.last_epoch_second""";

    static final String DELETE_TASKS = """
            delete from agent_open_tasks t using unnest($1::text[], $2::text[]) as d (agent_id, task_id)
            where t.agent_id = d.agent_id and t.task_id = d.task_id""";

    /** Deletes what the graph pruned, then inserts what it added and still holds (in that order). */
    private static void addGraphWrites(SqlConnection db, GraphChanges graph, List<Supplier<Uni<?>>> steps) {
        if (graph.pruned()) {
            steps.add(() -> db.preparedQuery("delete from graph_payments where recorded_epoch_milli < $1")
                    .execute(Tuple.of(graph.prunedBeforeEpochMilli())));
        }
        if (!graph.added().isEmpty()) {
            int n = graph.added().size();
            String[] from = new String[n];
            String[] to = new String[n];
            Long[] amounts = new Long[n];
            Long[] recorded = new Long[n];
            for (int i = 0; i < n; i++) {
                PaymentGraph.Payment p = graph.added().get(i);
                from[i] = p.from;
                to[i] = p.to;
                amounts[i] = p.amountMicros;
                recorded[i] = p.recordedEpochMilli;
            }
            // ordinality: ids follow the batch's order, which loading keeps among equal recorded times
            steps.add(() -> db.preparedQuery("insert into graph_payments (from_agent, to_agent, amount_micros, "
                            + "recorded_epoch_milli) select f, t, a, r from unnest($1::text[], $2::text[], $3::bigint[], "
                            + "$4::bigint[]) with ordinality as u (f, t, a, r, n) order by n")
                    .execute(Tuple.of(from, to, amounts, recorded)));
        }
    }

    private static Uni<?> insert(SqlConnection db, OpenAlert a) {
        return db.preparedQuery("insert into alerts (alert_id, rule, dedupe_key, agent_ids, team_id, severity, state, action, "
                        + "evidence, first_seen_time, last_seen_time) values ($1, $2, $3, $4, $5, $6, 'FIRING', $7, $8::text::jsonb, $9, $10)")
                .execute(Tuple.from(Arrays.asList(a.alertId(), a.rule().name(), a.dedupeKey(),
                        a.agentIds().toArray(new String[0]), a.teamId(), (short) AlertRecords.severity(a.severity()).getNumber(), a.action().name(),
                        Json.write(a.evidence()), AlertRecords.odt(a.firstSeen()), AlertRecords.odt(a.lastSeen()))));
    }

    /** The contract form of a just-fired alert. */
    public static Alert firing(OpenAlert a) {
        return Alert.newBuilder()
                .setAlertId(a.alertId())
                .setRule(AlertRecords.rule(a.rule()))
                .addAllAgentIds(a.agentIds())
                .setTeamId(a.teamId())
                .setSeverity(AlertRecords.severity(a.severity()))
                .setState(AlertState.ALERT_STATE_FIRING)
                .setAction(AlertRecords.action(a.action()))
                .setEvidence(AlertRecords.evidence(a.evidence()))
                .setFirstSeenTime(AlertRecords.ts(a.firstSeen()))
                .setLastSeenTime(AlertRecords.ts(a.lastSeen()))
                .setDedupeKey(a.dedupeKey())
                .build();
    }
}
