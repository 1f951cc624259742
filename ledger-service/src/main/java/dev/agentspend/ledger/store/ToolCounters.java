package dev.agentspend.ledger.store;

import dev.agentspend.ledger.domain.PolicyView;
import dev.agentspend.ledger.domain.ToolSeed;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Makes a tool's window rows count every payment of the tool, the first time a cap reads them
 * (migration V10, {@link PolicyView#toolRowScopes}). Until then payments add only to the
 * every-tool row; the tool's row holds exact held amounts (holds always write it) and a partial
 * spend. The seed rebuilds the spend from the scope's entries and marks the row complete, which it
 * stays: payments add to it from then on.
 *
 * <p>It runs in a transaction of its own, never inside a decision's: it takes the agent's and the
 * team's locks, which every payment that could add to the rows holds while it decides whether to,
 * then the rows' own locks, which every hold, capture, release and expiry writing them takes; its
 * reads come after those locks (each statement sees what committed before it started), so no
 * spend is missed or counted twice. A decision that finds a row it needs not complete throws
 * {@link ToolNotCounted} before deciding anything; {@link #whenCounted} seeds and runs it again.
 * That happens once per scope and tool for good, not once per replica: the flag is in the row.
 *
 * <p>The seed reads every entry of the scope with that tool (an index on the scope, then the
 * rows), once: an agent with a million payments of the tool holds its lock for that read.
 */
@ApplicationScoped
public class ToolCounters {
    private static final Logger LOG = Logger.getLogger(ToolCounters.class);

    /** Locks the rows of the tool ($2) of the scopes ($1), creating missing ones; returns those not complete. */
    static final String LOCK_ROWS = """
            INSERT INTO ledger.window_counters AS c (scope_id, tool)
            SELECT s, $2 FROM unnest($1::text[]) AS u(s) ORDER BY s COLLATE "C"
            ON CONFLICT (scope_id, tool) DO UPDATE SET complete = false WHERE NOT c.complete
            RETURNING c.scope_id""";

    static final String READ_ROW = """
            SELECT hour_bucket, hour_held, hour_limit, day_bucket, day_held, day_limit,
                   week_bucket, week_held, week_limit, month_bucket, month_held, month_limit
            FROM ledger.window_counters WHERE scope_id = $1 AND tool = $2""";

    static final String READ_CLOSED = """
            SELECT bucket FROM ledger.counters WHERE scope_id = $1 AND tool = $2 AND bucket NOT LIKE 'T:%'""";

    /**
     * The spend the counters count, per UTC hour: every entry but reversals (which do not touch
     * counters), a capture in the hour its hold was placed (as it is counted), others when recorded.
     */
    private static final String SPENT_BY_HOUR = """
            SELECT floor(extract(epoch FROM COALESCE(h.placed_time, e.recorded_time)) / 3600)::bigint AS hour,
                   SUM(e.spend_micros)::bigint AS spent
            FROM ledger.entries e
            LEFT JOIN ledger.holds h ON e.event_type = 5 AND h.hold_id = e.hold_id
            WHERE %s AND e.tool = $2 AND e.event_type <> 12 AND e.spend_micros <> 0
            GROUP BY 1""";
    static final String AGENT_SPENT_BY_HOUR = SPENT_BY_HOUR.formatted("e.agent_id = $1");
    static final String TEAM_SPENT_BY_HOUR = SPENT_BY_HOUR.formatted("e.team_id = $1 AND e.team_id <> ''");

    static final String WRITE_ROW = """
            UPDATE ledger.window_counters SET
              hour_bucket = $3, hour_spent = $4, hour_held = $5, hour_limit = $6,
              day_bucket = $7, day_spent = $8, day_held = $9, day_limit = $10,
              week_bucket = $11, week_spent = $12, week_held = $13, week_limit = $14,
              month_bucket = $15, month_spent = $16, month_held = $17, month_limit = $18,
              lifetime_spent = $19, complete = true
            WHERE scope_id = $1 AND tool = $2""";

    /** Closed buckets: spend set, held added (a bucket that leaves the row), limit kept where one is. */
    static final String WRITE_CLOSED = """
            INSERT INTO ledger.counters AS c (scope_id, bucket, tool, spent_micros, held_micros, hard_limit_micros)
            SELECT $1, b, $2, s, h, l FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::bigint[]) AS u(b, s, h, l)
            ORDER BY b COLLATE "C"
            ON CONFLICT (scope_id, bucket, tool) DO UPDATE SET
              spent_micros = EXCLUDED.spent_micros,
              held_micros = c.held_micros + EXCLUDED.held_micros,
              hard_limit_micros = COALESCE(c.hard_limit_micros, EXCLUDED.hard_limit_micros)""";

    @Inject
    Pool pool;

    @Inject
    InstantSource clock;

    @Inject
    MeterRegistry registry;

    private Counter seeded;

    @PostConstruct
    void metrics() {
        seeded = Counter.builder("agentspend.ledger.tool.counters.seeded")
                .description("Tool window rows rebuilt from their scope's entries when a cap first read them")
                .register(registry);
    }

    /**
     * Runs {@code call}; if it stops at a tool whose counters a cap reads and that do not count
     * every payment yet, makes them do and runs it once more.
     */
    <T> Uni<T> whenCounted(Supplier<Uni<? extends T>> call) {
        return Uni.createFrom().deferred(call).onFailure(ToolNotCounted.class).recoverWithUni(t -> {
            ToolNotCounted uncounted = (ToolNotCounted) t;
            return seed(uncounted.view(), uncounted.tool())
                    .chain(() -> Uni.createFrom().deferred(call))
                    .onFailure(ToolNotCounted.class)
                    .transform(again -> new IllegalStateException("counters still incomplete after their seed", again));
        });
    }

    /** Makes every window row of {@code tool} that a cap of {@code p} reads count every payment. */
    Uni<Void> seed(PolicyView p, String tool) {
        List<String> scopes = p.toolRowScopes(tool);
        if (scopes.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return pool.withConnection(conn -> Uni.createFrom().deferred(() -> {
            Tx tx = new Tx(conn, clock.instant());
            Uni<List<String>> incomplete = conn.preparedQuery(LOCK_ROWS)
                    .execute(Tuple.tuple().addArrayOfString(scopes.toArray(String[]::new)).addString(tool))
                    .map(rows -> {
                        List<String> out = new ArrayList<>();
                        rows.forEach(r -> out.add(r.getString(0)));
                        return out;
                    });
            return Uni.combine().all().unis(tx.begin(), tx.lockAgents(Map.of(p.agentId(), p.currency())),
                            tx.lockTeams(p.hasTeam() ? List.of(p.teamId()) : List.of()), incomplete).asTuple()
                    .chain(t -> seedEach(tx, p, tool, t.getItem4(), 0))
                    .call(() -> tx.flushAndCommit(() -> { }))
                    .onFailure().call(tx::rollback);
        }));
    }

    private Uni<Void> seedEach(Tx tx, PolicyView p, String tool, List<String> scopes, int from) {
        if (from >= scopes.size()) {
            return Uni.createFrom().voidItem();
        }
        return seedRow(tx, scopes.get(from).equals(p.agentId()), scopes.get(from), tool)
                .chain(() -> seedEach(tx, p, tool, scopes, from + 1));
    }

    /** Reads the row, its closed buckets and the scope's entries (after the locks), then writes the seed. */
    private Uni<Void> seedRow(Tx tx, boolean agentScope, String scope, String tool) {
        SqlConnection conn = tx.conn;
        Tuple key = Tuple.of(scope, tool);
        return Uni.combine().all().unis(
                        conn.preparedQuery(READ_ROW).execute(key),
                        conn.preparedQuery(READ_CLOSED).execute(key),
                        conn.preparedQuery(agentScope ? AGENT_SPENT_BY_HOUR : TEAM_SPENT_BY_HOUR).execute(key))
                .asTuple()
                .chain(t -> {
                    ToolSeed.StoredRow row = storedRow(t.getItem1());
                    List<String> closed = new ArrayList<>();
                    t.getItem2().forEach(r -> closed.add(r.getString(0)));
                    Map<Long, Long> byHour = new HashMap<>();
                    t.getItem3().forEach(r -> byHour.put(r.getLong(0), r.getLong(1)));
                    ToolSeed.Plan plan = ToolSeed.plan(tx.now, row, byHour, closed);
                    LOG.infof("counting tool '%s' of %s from now on: rebuilt from %d hours of its entries, %d micros spent",
                            tool, scope, byHour.size(), plan.lifetimeSpentMicros());
                    return Uni.combine().all().unis(writeRow(conn, scope, tool, plan), writeClosed(conn, scope, tool, plan))
                            .discardItems();
                })
                .invoke(() -> seeded.increment());
    }

    private static ToolSeed.StoredRow storedRow(RowSet<Row> rows) {
        if (!rows.iterator().hasNext()) {
            throw new IllegalStateException("the window row locked for the seed is gone");
        }
        Row r = rows.iterator().next();
        int n = ToolSeed.CALENDAR.length;
        String[] buckets = new String[n];
        long[] held = new long[n];
        Long[] limits = new Long[n];
        for (int i = 0; i < n; i++) {
            buckets[i] = r.getString(3 * i);
            held[i] = r.getLong(3 * i + 1);
            limits[i] = r.getLong(3 * i + 2);
        }
        return new ToolSeed.StoredRow(buckets, held, limits);
    }

    private static Uni<Void> writeRow(SqlConnection conn, String scope, String tool, ToolSeed.Plan plan) {
        Tuple args = Tuple.of(scope, tool);
        for (ToolSeed.Bucket b : plan.windows()) {
            args.addString(b.bucket()).addLong(b.spentMicros()).addLong(b.heldMicros()).addLong(b.limitMicros());
        }
        args.addLong(plan.lifetimeSpentMicros());
        return conn.preparedQuery(WRITE_ROW).execute(args).invoke(rs -> {
            if (rs.rowCount() != 1) {
                throw new IllegalStateException("the seed of " + scope + "/" + tool + " wrote " + rs.rowCount() + " rows");
            }
        }).replaceWithVoid();
    }

    private static Uni<Void> writeClosed(SqlConnection conn, String scope, String tool, ToolSeed.Plan plan) {
        List<ToolSeed.Bucket> closed = new ArrayList<>(plan.moved());
        plan.closedSpentMicros().forEach((b, spent) -> closed.add(new ToolSeed.Bucket(b, spent, 0, null)));
        if (closed.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return conn.preparedQuery(WRITE_CLOSED)
                .execute(Tuple.of(scope, tool)
                        .addArrayOfString(closed.stream().map(ToolSeed.Bucket::bucket).toArray(String[]::new))
                        .addArrayOfLong(closed.stream().map(ToolSeed.Bucket::spentMicros).toArray(Long[]::new))
                        .addArrayOfLong(closed.stream().map(ToolSeed.Bucket::heldMicros).toArray(Long[]::new))
                        .addArrayOfLong(closed.stream().map(ToolSeed.Bucket::limitMicros).toArray(Long[]::new)))
                .invoke(rs -> {
                    if (rs.rowCount() != closed.size()) {
                        throw new IllegalStateException("the seed of " + scope + "/" + tool + " wrote " + rs.rowCount()
                                + " closed buckets of " + closed.size());
                    }
                })
                .replaceWithVoid();
    }
}
