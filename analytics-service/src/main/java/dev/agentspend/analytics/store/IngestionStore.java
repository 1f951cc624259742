package dev.agentspend.analytics.store;

import dev.agentspend.analytics.domain.BatchDelta;
import dev.agentspend.analytics.domain.DayRollup;
import dev.agentspend.common.db.StatementCache;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.pgclient.PgConnection;
import io.vertx.pgclient.PgConnectOptions;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Writes a batch of ledger entries into the aggregates and moves the feed position, in ONE
 * transaction on the consumer's own connection: either the batch and its end position are both
 * committed or neither is, so a consumer that restarts (crash, deploy, lost feed) resumes right
 * after the last committed entry and counts every entry exactly once.
 *
 * <p>The position update is guarded ({@code WHERE position = <where this batch starts>}): if any other
 * writer moved the position, the update matches no row, the transaction rolls back and the
 * consumer starts over from the stored position. Together with the session advisory lock the
 * consumer holds (see {@link #tryLock}) this keeps several replicas from applying the feed twice.
 *
 * <p>Each aggregate is written with one set-based upsert per batch ({@code INSERT .. SELECT FROM
 * unnest(arrays) ON CONFLICT DO UPDATE SET x = x + excluded.x}); the batch is summed per key first.
 * The day rows get only the batch's late entries; the minutes that have settled are rolled up into
 * them in the same transaction, which moves the rollup's W with the position ({@link DayRollup}).
 */
@ApplicationScoped
public class IngestionStore {
    /** The advisory lock key of the ledger consumer: one per database, whatever the replica count. */
    public static final long CONSUMER_LOCK_KEY = 0x616e616c79746963L; // "analytic"
    /**
     * The feed_state row of the ledger feed. Named 'ledger' before the day rollup (V2); renamed so
     * that a consumer of the previous release, which would add every entry to the day rows, finds no
     * position during a rolling update.
     */
    public static final String LEDGER_FEED = "ledger-entries";

    @Inject
    Vertx vertx;

    @ConfigProperty(name = "quarkus.datasource.reactive.url")
    String url;

    @ConfigProperty(name = "quarkus.datasource.username")
    Optional<String> user;

    @ConfigProperty(name = "quarkus.datasource.password")
    Optional<String> password;

    /**
     * A physical connection of the consumer's own, outside the pool: the advisory lock lives as
     * long as it does, and closing it really ends the session (a pooled connection would only go
     * back to the pool, lock and all).
     */
    public Uni<SqlConnection> connect() {
        String uri = url.startsWith("vertx-reactive:") ? url.substring("vertx-reactive:".length()) : url;
        // its statements prepared once, as the pool's are: each batch sends the same few
        PgConnectOptions options = StatementCache.enable(PgConnectOptions.fromUri(uri));
        user.ifPresent(options::setUser);
        password.ifPresent(options::setPassword);
        options.addProperty("application_name", "analytics-ledger-consumer");
        return PgConnection.connect(vertx, options).map(c -> (SqlConnection) c);
    }

    /** Takes the consumer lock on this connection; false when another replica holds it. */
    public Uni<Boolean> tryLock(SqlConnection conn) {
        return conn.preparedQuery("SELECT pg_try_advisory_lock($1) AS locked").execute(Tuple.of(CONSUMER_LOCK_KEY))
                .map(rows -> rows.iterator().next().getBoolean("locked"));
    }

    /** Where the ledger feed's consumer resumes: the last position applied and the day rollup's W. */
    public record Resume(long position, Instant daysRolledThrough) {
    }

    /** The stored position of the ledger feed, with the day rollup's W (see {@link DayRollup}). */
    public Uni<Resume> resume(SqlConnection conn) {
        return conn.preparedQuery("SELECT f.position, r.through_minute FROM analytics.feed_state f, analytics.day_rollup r "
                        + "WHERE f.feed = $1").execute(Tuple.of(LEDGER_FEED))
                .map(rows -> {
                    if (rows.size() != 1) {
                        throw new IllegalStateException("no stored position of the feed '" + LEDGER_FEED
                                + "' in analytics.feed_state (migrations not applied?)");
                    }
                    Row r = rows.iterator().next();
                    return new Resume(r.getLong("position"), r.getOffsetDateTime("through_minute").toInstant());
                });
    }

    /**
     * Applies a batch that starts right after {@code fromPosition}, and rolls the minutes from
     * {@code rolledThrough} to {@code rollTo} into the day rows (nothing when they are equal); fails
     * with {@link StalePosition} if the stored position or W moved.
     */
    public Uni<Long> apply(SqlConnection conn, long fromPosition, BatchDelta d, Instant rolledThrough, Instant rollTo) {
        if (rollTo.isBefore(rolledThrough)) {
            throw new IllegalArgumentException("the day rollup never moves back: " + rolledThrough + " -> " + rollTo);
        }
        return conn.begin().chain(tx -> writeAll(conn, fromPosition, d, rolledThrough, rollTo)
                .chain(() -> tx.commit())
                .map(v -> d.lastPosition())
                .onFailure().call(t -> tx.rollback().onFailure().recoverWithNull()));
    }

    /** Thrown when the stored position (or W) is not where the batch starts: another writer applied it. */
    public static final class StalePosition extends RuntimeException {
        StalePosition(long expected) {
            super("the ledger feed position is no longer " + expected + " (or the day rollup moved); another consumer applied it");
        }
    }

    private Uni<Void> writeAll(SqlConnection c, long from, BatchDelta d, Instant rolledThrough, Instant rollTo) {
        return agents(c, d)
                .chain(() -> toolMinutes(c, d))
                .chain(() -> lateToolDays(c, d))
                .chain(() -> lateAgentDays(c, d))
                .chain(() -> tasks(c, d))
                .chain(() -> rollUpStrayFlowMinutes(c, d, rolledThrough))
                .chain(() -> flows(c, d))
                .chain(() -> lateFlowDays(c, d))
                .chain(() -> holds(c, d))
                // after this batch's minutes: the rolled minutes include them
                .chain(() -> rollUp(c, from, rolledThrough, rollTo))
                .chain(() -> c.preparedQuery(MOVE_POSITION)
                        .execute(Tuple.of(from, d.lastPosition(), LEDGER_FEED, odt(rollTo))))
                .map(rows -> {
                    if (rows.rowCount() != 1) {
                        throw new StalePosition(from);
                    }
                    return null;
                });
    }

    /**
     * The position moves only from where the batch starts, and only while W is what this batch
     * decided its late entries by (and rolled up to): else another writer applied entries or moved
     * W, and this transaction rolls back.
     */
    static final String MOVE_POSITION = """
            UPDATE analytics.feed_state SET position = $2, update_time = now()
            WHERE feed = $3 AND position = $1
              AND EXISTS (SELECT 1 FROM analytics.day_rollup WHERE through_minute = $4)""";

    /** W moves from $1 to $2 (no row: another writer moved it). */
    static final String MOVE_ROLLUP = "UPDATE analytics.day_rollup SET through_minute = $2 WHERE through_minute = $1";

    /**
     * The minute rows not rolled up yet whose minute is before $1 are marked rolled and added to the
     * day rows (tool-day, and agent-day's spend, calls and declines), in one statement. The rows
     * marked are exactly the minutes in [W, $1): every row before W is rolled (see ADD_TOOL_MINUTES).
     * Declined amounts saturate ({@link BatchDelta#addSaturated}).
     */
    public static final String ROLL_UP = """
            WITH r AS (
              UPDATE analytics.agent_tool_minute SET rolled = true WHERE NOT rolled AND minute < $1
              RETURNING agent_id, (minute AT TIME ZONE 'UTC')::date AS day, tool, team_id, spend_micros, call_count,
                        retry_call_count, retry_spend_micros, decline_count, declined_micros),
            t AS (
              INSERT INTO analytics.agent_tool_day AS t (agent_id, day, tool, team_id, spend_micros, call_count,
                  retry_call_count, retry_spend_micros, decline_count, declined_micros)
              SELECT agent_id, day, tool, team_id, SUM(spend_micros)::int8, SUM(call_count)::int8,
                     SUM(retry_call_count)::int8, SUM(retry_spend_micros)::int8, SUM(decline_count)::int8,
                     LEAST(SUM(declined_micros), 9223372036854775807)::int8
              FROM r GROUP BY 1, 2, 3, 4
              ON CONFLICT (agent_id, day, tool, team_id) DO UPDATE SET
                spend_micros = t.spend_micros + excluded.spend_micros, call_count = t.call_count + excluded.call_count,
                retry_call_count = t.retry_call_count + excluded.retry_call_count,
                retry_spend_micros = t.retry_spend_micros + excluded.retry_spend_micros,
                decline_count = t.decline_count + excluded.decline_count,
                declined_micros = LEAST(t.declined_micros::numeric + excluded.declined_micros, 9223372036854775807)::int8)
            INSERT INTO analytics.agent_day AS a (agent_id, day, spend_micros, call_count, decline_count)
            SELECT agent_id, day, SUM(spend_micros)::int8, SUM(call_count)::int8, SUM(decline_count)::int8
            FROM r GROUP BY 1, 2
            ON CONFLICT (agent_id, day) DO UPDATE SET
              spend_micros = a.spend_micros + excluded.spend_micros, call_count = a.call_count + excluded.call_count,
              decline_count = a.decline_count + excluded.decline_count""";

    /**
     * The flow minutes not rolled up yet whose minute is before $1 are marked and added to the flow
     * day rows, as {@link #ROLL_UP} does for the tool minutes (V4__flow_day_rollup.sql). Unlike the
     * tool minutes, unrolled rows may predate W: the rows stored before V4, and any a consumer of the
     * previous release inserted during a rolling update; this statement rolls those up too.
     */
    public static final String ROLL_UP_FLOWS = """
            WITH r AS (
              UPDATE analytics.agent_flow_minute SET rolled = true WHERE NOT rolled AND minute < $1
              RETURNING payer_agent_id, payee_agent_id, (minute AT TIME ZONE 'UTC')::date AS day, amount_micros,
                        payment_count)
            INSERT INTO analytics.agent_flow_day AS t (payer_agent_id, payee_agent_id, day, amount_micros, payment_count)
            SELECT payer_agent_id, payee_agent_id, day, SUM(amount_micros)::int8, SUM(payment_count)::int8
            FROM r GROUP BY 1, 2, 3
            ON CONFLICT (payer_agent_id, payee_agent_id, day) DO UPDATE SET
              amount_micros = t.amount_micros + excluded.amount_micros,
              payment_count = t.payment_count + excluded.payment_count""";

    private static Uni<Void> rollUp(SqlConnection c, long fromPosition, Instant from, Instant to) {
        if (!to.isAfter(from)) {
            return Uni.createFrom().voidItem();
        }
        return exec(c, ROLL_UP, odt(to))
                .chain(() -> exec(c, ROLL_UP_FLOWS, odt(to)))
                .chain(() -> c.preparedQuery(MOVE_ROLLUP).execute(Tuple.of(odt(from), odt(to))))
                .map(rows -> {
                    if (rows.rowCount() != 1) {
                        throw new StalePosition(fromPosition);
                    }
                    return null;
                });
    }

    private static OffsetDateTime odt(Instant t) {
        return OffsetDateTime.ofInstant(t, ZoneOffset.UTC);
    }

    /**
     * Agents seen in the feed: a new agent gets its team and currency from its entries; a known one
     * gets its currency if it had none and its team until identity's policy has told it. A row that
     * would not change is neither written nor locked (most agents of most batches): ON CONFLICT DO
     * UPDATE locks the row it finds before its WHERE can skip it, so those rows are left out
     * before the insert. (A row skipped on this statement's snapshot stays right: the policy
     * consumer only ever sets the policy, after which the feed changes nothing.) AgentUpsertTest
     * runs this statement.
     */
    static final String UPSERT_AGENTS = """
            INSERT INTO analytics.agent AS a (agent_id, team_id, currency_code)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS u(agent_id, team_id, currency_code)
            WHERE NOT EXISTS (
              SELECT 1 FROM analytics.agent k WHERE k.agent_id = u.agent_id
                AND NOT (k.currency_code = '' AND u.currency_code <> '')
                AND NOT (k.policy IS NULL AND u.team_id <> '' AND k.team_id <> u.team_id))
            ON CONFLICT (agent_id) DO UPDATE SET
              currency_code = CASE WHEN a.currency_code = '' THEN excluded.currency_code ELSE a.currency_code END,
              team_id = CASE WHEN a.policy IS NULL AND excluded.team_id <> '' THEN excluded.team_id ELSE a.team_id END
            WHERE (a.currency_code = '' AND excluded.currency_code <> '')
               OR (a.policy IS NULL AND excluded.team_id <> '' AND a.team_id <> excluded.team_id)
            """;

    private Uni<Void> agents(SqlConnection c, BatchDelta d) {
        if (d.agents.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        List<String> ids = new ArrayList<>();
        List<String> teams = new ArrayList<>();
        List<String> currencies = new ArrayList<>();
        d.agents.values().forEach(a -> {
            ids.add(a.agentId());
            teams.add(a.teamId());
            currencies.add(a.currencyCode());
        });
        return exec(c, UPSERT_AGENTS, ids.toArray(String[]::new), teams.toArray(String[]::new), currencies.toArray(String[]::new));
    }

    private Uni<Void> toolMinutes(SqlConnection c, BatchDelta d) {
        if (d.toolMinutes.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        int n = d.toolMinutes.size();
        String[] agent = new String[n];
        OffsetDateTime[] minute = new OffsetDateTime[n];
        String[] tool = new String[n];
        String[] team = new String[n];
        Boolean[] rolled = new Boolean[n];
        SumArrays sums = new SumArrays(n);
        int i = 0;
        for (Map.Entry<BatchDelta.ToolKey, BatchDelta.Sums> e : d.toolMinutes.entrySet()) {
            agent[i] = e.getKey().agentId();
            minute[i] = OffsetDateTime.ofInstant(e.getKey().minute(), ZoneOffset.UTC);
            tool[i] = e.getKey().tool();
            team[i] = e.getKey().teamId();
            rolled[i] = d.rolledUp(e.getKey().minute());
            sums.set(i++, e.getValue());
        }
        return exec(c, ADD_TOOL_MINUTES, agent, minute, tool, team, sums.spend, sums.calls, sums.retryCalls, sums.retrySpend,
                sums.declines, sums.declined, rolled);
    }

    private Uni<Void> lateToolDays(SqlConnection c, BatchDelta d) {
        if (d.lateToolDays.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        int n = d.lateToolDays.size();
        String[] agent = new String[n];
        LocalDate[] day = new LocalDate[n];
        String[] tool = new String[n];
        String[] team = new String[n];
        SumArrays sums = new SumArrays(n);
        int i = 0;
        for (Map.Entry<BatchDelta.ToolDayKey, BatchDelta.Sums> e : d.lateToolDays.entrySet()) {
            agent[i] = e.getKey().agentId();
            day[i] = e.getKey().day();
            tool[i] = e.getKey().tool();
            team[i] = e.getKey().teamId();
            sums.set(i++, e.getValue());
        }
        return exec(c, ADD_TOOL_DAYS, agent, day, tool, team, sums.spend, sums.calls, sums.retryCalls, sums.retrySpend,
                sums.declines, sums.declined);
    }

    private Uni<Void> lateAgentDays(SqlConnection c, BatchDelta d) {
        if (d.lateAgentDays.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        int n = d.lateAgentDays.size();
        String[] agent = new String[n];
        LocalDate[] day = new LocalDate[n];
        Long[] spend = new Long[n];
        Long[] calls = new Long[n];
        Long[] declines = new Long[n];
        int i = 0;
        for (Map.Entry<BatchDelta.AgentDayKey, BatchDelta.Sums> e : d.lateAgentDays.entrySet()) {
            agent[i] = e.getKey().agentId();
            day[i] = e.getKey().day();
            spend[i] = e.getValue().spendMicros;
            calls[i] = e.getValue().calls;
            declines[i++] = e.getValue().declines;
        }
        return exec(c, ADD_AGENT_DAYS, agent, day, spend, calls, declines);
    }

    /**
     * What a task row's update adds from {@code %1$s}, the batch's row of the same columns: the
     * plain UPDATE's {@code d} and the upsert's {@code excluded}.
     */
    private static final String ADD_TO_TASK = """
            cost_micros = t.cost_micros + %1$s.cost_micros,
                call_count = t.call_count + %1$s.call_count,
                retry_call_count = t.retry_call_count + %1$s.retry_call_count,
                first_payment_time = LEAST(t.first_payment_time, %1$s.first_payment_time),
                last_payment_time = GREATEST(t.last_payment_time, %1$s.last_payment_time),
                outcome = CASE WHEN t.completed_time IS NULL THEN %1$s.outcome ELSE t.outcome END,
                completed_time = COALESCE(t.completed_time, %1$s.completed_time)""";

    /** Adds a batch's task sums ({@link #tasks}); the parameters are parallel arrays, one element per task. */
    static final String ADD_TASKS = """
            WITH d AS (
              SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[], $6::timestamptz[],
                  $7::timestamptz[], $8::int4[], $9::timestamptz[])
                AS d(agent_id, task_id, cost_micros, call_count, retry_call_count, first_payment_time,
                     last_payment_time, outcome, completed_time)),
            old AS (
              SELECT t.agent_id, t.task_id, t.cost_micros AS old_cost, t.completed_time AS old_completed
              FROM analytics.task t JOIN d USING (agent_id, task_id)
              WHERE t.completed_time IS NOT NULL),
            u AS (
              UPDATE analytics.task AS t SET
                %1$s
              FROM d WHERE t.agent_id = d.agent_id AND t.task_id = d.task_id
              RETURNING t.agent_id, t.task_id, t.cost_micros, t.completed_time),
            i AS (
              INSERT INTO analytics.task AS t (agent_id, task_id, cost_micros, call_count, retry_call_count,
                  first_payment_time, last_payment_time, outcome, completed_time)
              SELECT d.* FROM d
              WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.agent_id = d.agent_id AND u.task_id = d.task_id)
              ON CONFLICT (agent_id, task_id) DO UPDATE SET
                %2$s
              RETURNING t.agent_id, t.task_id, t.cost_micros, t.completed_time),
            up AS (SELECT * FROM u UNION ALL SELECT * FROM i)
            INSERT INTO analytics.agent_day AS a (agent_id, day, completed_task_count, completed_task_micros)
            SELECT up.agent_id, (up.completed_time AT TIME ZONE 'UTC')::date,
                   SUM(CASE WHEN old.old_completed IS NULL THEN 1 ELSE 0 END),
                   SUM(CASE WHEN old.old_completed IS NULL THEN up.cost_micros ELSE up.cost_micros - old.old_cost END)
            FROM up LEFT JOIN old USING (agent_id, task_id)
            WHERE up.completed_time IS NOT NULL
            GROUP BY 1, 2
            ON CONFLICT (agent_id, day) DO UPDATE SET
              completed_task_count = a.completed_task_count + excluded.completed_task_count,
              completed_task_micros = a.completed_task_micros + excluded.completed_task_micros
            """.formatted(ADD_TO_TASK.formatted("d"), ADD_TO_TASK.formatted("excluded"));

    /**
     * Tasks, and the completed-task rollup of agent_day in the same statement: a task completed in
     * this batch adds 1 and its whole cost to its completion day; spend that reaches a task already
     * completed adds its delta to that day. The {@code old} CTE reads the rows as they were before
     * this statement (every sub-statement sees the same snapshot). A task is paid several times
     * over a few batches, so most of a batch's task rows exist: they get a plain UPDATE, and only
     * the others the upsert, which locks a row it finds before updating it (see {@link AggregateAdd}).
     */
    private Uni<Void> tasks(SqlConnection c, BatchDelta d) {
        if (d.tasks.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        int n = d.tasks.size();
        String[] agent = new String[n];
        String[] task = new String[n];
        Long[] cost = new Long[n];
        Long[] calls = new Long[n];
        Long[] retries = new Long[n];
        OffsetDateTime[] first = new OffsetDateTime[n];
        OffsetDateTime[] last = new OffsetDateTime[n];
        Integer[] outcome = new Integer[n];
        OffsetDateTime[] completed = new OffsetDateTime[n];
        int i = 0;
        for (Map.Entry<BatchDelta.TaskKey, BatchDelta.TaskDelta> e : d.tasks.entrySet()) {
            BatchDelta.TaskDelta t = e.getValue();
            agent[i] = e.getKey().agentId();
            task[i] = e.getKey().taskId();
            cost[i] = t.costMicros;
            calls[i] = t.calls;
            retries[i] = t.retryCalls;
            first[i] = t.firstPayment == null ? null : OffsetDateTime.ofInstant(t.firstPayment, ZoneOffset.UTC);
            last[i] = t.lastPayment == null ? null : OffsetDateTime.ofInstant(t.lastPayment, ZoneOffset.UTC);
            outcome[i] = t.outcome;
            completed[i++] = t.completedTime == null ? null : OffsetDateTime.ofInstant(t.completedTime, ZoneOffset.UTC);
        }
        return exec(c, ADD_TASKS, agent, task, cost, calls, retries, first, last, outcome, completed);
    }

    /**
     * Before a batch with late flows (minutes before W) adds them: rolls up the flow minutes before W
     * that are not rolled up, which only V4 (the rows stored before it) and a consumer of the release
     * before it (its inserts during a rolling update) leave behind. A late entry adds to its minute's
     * row and to the day row itself; on a row not rolled up yet, the rollup would later add it to the
     * day row a second time.
     */
    private static Uni<Void> rollUpStrayFlowMinutes(SqlConnection c, BatchDelta d, Instant rolledThrough) {
        if (d.lateFlowDays.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return exec(c, ROLL_UP_FLOWS, odt(rolledThrough));
    }

    private Uni<Void> flows(SqlConnection c, BatchDelta d) {
        if (d.flows.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        int n = d.flows.size();
        String[] payer = new String[n];
        String[] payee = new String[n];
        OffsetDateTime[] minute = new OffsetDateTime[n];
        Long[] amount = new Long[n];
        Long[] count = new Long[n];
        Boolean[] rolled = new Boolean[n];
        int i = 0;
        for (Map.Entry<BatchDelta.FlowKey, BatchDelta.FlowDelta> e : d.flows.entrySet()) {
            payer[i] = e.getKey().payerAgentId();
            payee[i] = e.getKey().payeeAgentId();
            minute[i] = OffsetDateTime.ofInstant(e.getKey().minute(), ZoneOffset.UTC);
            rolled[i] = d.rolledUp(e.getKey().minute());
            amount[i] = e.getValue().amountMicros;
            count[i++] = e.getValue().payments;
        }
        return exec(c, ADD_FLOW_MINUTES, payer, payee, minute, amount, count, rolled);
    }

    private Uni<Void> lateFlowDays(SqlConnection c, BatchDelta d) {
        if (d.lateFlowDays.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        int n = d.lateFlowDays.size();
        String[] payer = new String[n];
        String[] payee = new String[n];
        LocalDate[] day = new LocalDate[n];
        Long[] amount = new Long[n];
        Long[] count = new Long[n];
        int i = 0;
        for (Map.Entry<BatchDelta.FlowDayKey, BatchDelta.FlowDelta> e : d.lateFlowDays.entrySet()) {
            payer[i] = e.getKey().payerAgentId();
            payee[i] = e.getKey().payeeAgentId();
            day[i] = e.getKey().day();
            amount[i] = e.getValue().amountMicros;
            count[i++] = e.getValue().payments;
        }
        return exec(c, ADD_FLOW_DAYS, payer, payee, day, amount, count);
    }

    private Uni<Void> holds(SqlConnection c, BatchDelta d) {
        Uni<Void> opened = Uni.createFrom().voidItem();
        if (!d.holdsOpened.isEmpty()) {
            int n = d.holdsOpened.size();
            String[] hold = new String[n];
            String[] agent = new String[n];
            String[] tool = new String[n];
            Long[] amount = new Long[n];
            int i = 0;
            for (BatchDelta.OpenHold h : d.holdsOpened.values()) {
                hold[i] = h.holdId();
                agent[i] = h.agentId();
                tool[i] = h.tool();
                amount[i++] = h.amountMicros();
            }
            opened = exec(c, """
                    INSERT INTO analytics.open_hold (hold_id, agent_id, tool, amount_micros)
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[])
                    ON CONFLICT (hold_id) DO NOTHING
                    """, hold, agent, tool, amount);
        }
        if (d.holdsClosed.isEmpty()) {
            return opened;
        }
        String[] closed = d.holdsClosed.toArray(String[]::new);
        return opened.chain(() -> exec(c, "DELETE FROM analytics.open_hold WHERE hold_id = ANY($1::text[])", (Object) closed));
    }

    private static Uni<Void> exec(SqlConnection c, String sql, Object... params) {
        return c.preparedQuery(sql).execute(Tuple.from(params)).replaceWithVoid();
    }

    private static AggregateAdd.Column col(String name, String arrayType) {
        return new AggregateAdd.Column(name, arrayType);
    }

    /** The six sums of a tool aggregate row, in SumArrays' parameter order. */
    private static final List<AggregateAdd.Column> TOOL_SUMS = List.of(col("spend_micros", "int8[]"),
            col("call_count", "int8[]"), col("retry_call_count", "int8[]"), col("retry_spend_micros", "int8[]"),
            col("decline_count", "int8[]"), new AggregateAdd.Column("declined_micros", "int8[]", true));

    /** A new minute row is rolled up already when its minute is before W (a late entry's; see DayRollup). */
    static final String ADD_TOOL_MINUTES = new AggregateAdd("analytics.agent_tool_minute",
            List.of(col("agent_id", "text[]"), col("minute", "timestamptz[]"), col("tool", "text[]"), col("team_id", "text[]")),
            TOOL_SUMS, List.of(col("rolled", "bool[]"))).sql();

    static final String ADD_TOOL_DAYS = new AggregateAdd("analytics.agent_tool_day",
            List.of(col("agent_id", "text[]"), col("day", "date[]"), col("tool", "text[]"), col("team_id", "text[]")),
            TOOL_SUMS).sql();

    static final String ADD_AGENT_DAYS = new AggregateAdd("analytics.agent_day",
            List.of(col("agent_id", "text[]"), col("day", "date[]")),
            List.of(col("spend_micros", "int8[]"), col("call_count", "int8[]"), col("decline_count", "int8[]"))).sql();

    private static final List<AggregateAdd.Column> FLOW_SUMS = List.of(col("amount_micros", "int8[]"),
            col("payment_count", "int8[]"));

    /** As for the tool minutes: a new row is rolled up already when its minute is before W. */
    static final String ADD_FLOW_MINUTES = new AggregateAdd("analytics.agent_flow_minute",
            List.of(col("payer_agent_id", "text[]"), col("payee_agent_id", "text[]"), col("minute", "timestamptz[]")),
            FLOW_SUMS, List.of(col("rolled", "bool[]"))).sql();

    static final String ADD_FLOW_DAYS = new AggregateAdd("analytics.agent_flow_day",
            List.of(col("payer_agent_id", "text[]"), col("payee_agent_id", "text[]"), col("day", "date[]")),
            FLOW_SUMS).sql();

    /** The six sums of a tool aggregate row, as column arrays. */
    private static final class SumArrays {
        final Long[] spend;
        final Long[] calls;
        final Long[] retryCalls;
        final Long[] retrySpend;
        final Long[] declines;
        final Long[] declined;

        SumArrays(int n) {
            spend = new Long[n];
            calls = new Long[n];
            retryCalls = new Long[n];
            retrySpend = new Long[n];
            declines = new Long[n];
            declined = new Long[n];
        }

        void set(int i, BatchDelta.Sums s) {
            spend[i] = s.spendMicros;
            calls[i] = s.calls;
            retryCalls[i] = s.retryCalls;
            retrySpend[i] = s.retrySpendMicros;
            declines[i] = s.declines;
            declined[i] = s.declinedMicros;
        }
    }
}
