package dev.agentspend.analytics.store;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import io.smallrye.mutiny.Uni;
import io.vertx.core.json.JsonObject;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Reads of the aggregates. Every query is set-based and bounded by an index on agent or time. */
@ApplicationScoped
public class AnalyticsQueries {
    /** Far bounds for lifetime windows: both whole UTC days, so only the day rollup is read. */
    public static final Instant BEGINNING = Instant.parse("2000-01-01T00:00:00Z");
    public static final Instant END_OF_TIME = Instant.parse("2200-01-01T00:00:00Z");

    @Inject
    Pool pool;

    /** Sums of a tool over a window. */
    public record ToolSums(String tool, long spendMicros, long calls, long retryCalls, long retrySpendMicros,
                           long declines, long declinedMicros) {
    }

    /** An agent-to-agent edge. */
    public record Flow(String payer, String payee, long amountMicros, long payments) {
    }

    /** A step of a series. */
    public record Bin(Instant start, long valueMicros, long count) {
    }

    /** Per agent and day, for the fleet overview. */
    public record DayRow(String agentId, LocalDate day, long spendMicros, long completedTasks, long completedTaskMicros) {
    }

    /** An agent's largest tool over a window. */
    public record TopTool(String agentId, String tool, long spendMicros) {
    }

    /** A reconciliation line before the gap is computed. */
    public record InvoiceLineRow(String vendor, String currencyCode, String tool, LocalDate periodStart,
                                 LocalDate periodEnd, long invoiceMicros) {
    }

    public Uni<Optional<AgentRow>> agent(String agentId) {
        return pool.preparedQuery("SELECT * FROM analytics.agent WHERE agent_id = $1").execute(Tuple.of(agentId))
                .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(agentRow(rows.iterator().next())));
    }

    /** Every agent, optionally only one, of one team and carrying the given labels, by handle then id. */
    public Uni<List<AgentRow>> agents(String agentId, String teamId, Map<String, String> labels) {
        StringBuilder sql = new StringBuilder("SELECT * FROM analytics.agent WHERE true");
        List<Object> params = new ArrayList<>();
        if (!agentId.isEmpty()) {
            params.add(agentId);
            sql.append(" AND agent_id = $").append(params.size());
        }
        if (!teamId.isEmpty()) {
            params.add(teamId);
            sql.append(" AND team_id = $").append(params.size());
        }
        if (!labels.isEmpty()) {
            JsonObject json = new JsonObject();
            labels.forEach(json::put);
            params.add(json.encode());
            sql.append(" AND labels @> $").append(params.size()).append("::jsonb");
        }
        sql.append(" ORDER BY handle, agent_id");
        return pool.preparedQuery(sql.toString()).execute(Tuple.from(params)).map(rows -> {
            List<AgentRow> out = new ArrayList<>();
            rows.forEach(r -> out.add(agentRow(r)));
            return out;
        });
    }

    /** Costs of the agent's tasks completed in [start, end). */
    public Uni<long[]> completedTaskCosts(String agentId, Instant start, Instant end) {
        return pool.preparedQuery("SELECT cost_micros FROM analytics.task WHERE agent_id = $1 "
                        + "AND completed_time >= $2 AND completed_time < $3")
                .execute(Tuple.of(agentId, odt(start), odt(end)))
                .map(rows -> {
                    long[] out = new long[rows.size()];
                    int i = 0;
                    for (Row r : rows) {
                        out[i++] = r.getLong(0);
                    }
                    return out;
                });
    }

    /** Count and cost of the agent's tasks not completed yet. */
    public Uni<long[]> openTasks(String agentId) {
        return pool.preparedQuery("SELECT count(*) AS n, COALESCE(SUM(cost_micros), 0)::int8 AS total FROM analytics.task "
                        + "WHERE agent_id = $1 AND completed_time IS NULL")
                .execute(Tuple.of(agentId))
                .map(rows -> {
                    Row r = rows.iterator().next();
                    return new long[]{r.getLong("n"), r.getLong("total")};
                });
    }

    /** The agent's spend per minute bucket in [start, end). */
    public Uni<Map<Instant, Long>> spendPerMinute(String agentId, Instant start, Instant end) {
        return pool.preparedQuery("SELECT minute, SUM(spend_micros)::int8 AS spend FROM analytics.agent_tool_minute "
                        + "WHERE agent_id = $1 AND minute >= $2 AND minute < $3 GROUP BY minute")
                .execute(Tuple.of(agentId, odt(start), odt(end)))
                .map(rows -> {
                    Map<Instant, Long> out = new HashMap<>();
                    rows.forEach(r -> out.put(r.getOffsetDateTime("minute").toInstant(), r.getLong("spend")));
                    return out;
                });
    }

    /**
     * Sums per tool over [start, end) (whole minutes): whole UTC days from the day view (the day
     * rows and the minutes not rolled up yet), the ragged edges from the minutes. Filters are
     * optional (empty string: no filter).
     */
    public Uni<List<ToolSums>> toolSums(String agentId, String teamId, String tool, Instant start, Instant end) {
        List<Object> params = DaySplit.of(start, end).params();
        StringBuilder filter = new StringBuilder();
        if (!agentId.isEmpty()) {
            params.add(agentId);
            filter.append(" AND agent_id = $").append(params.size());
        }
        if (!teamId.isEmpty()) {
            params.add(teamId);
            filter.append(" AND team_id = $").append(params.size());
        }
        if (!tool.isEmpty()) {
            params.add(tool);
            filter.append(" AND tool = $").append(params.size());
        }
        String cols = "tool, spend_micros, call_count, retry_call_count, retry_spend_micros, decline_count, declined_micros";
        String sql = "SELECT tool, SUM(spend_micros)::int8 AS spend, SUM(call_count)::int8 AS calls, "
                + "SUM(retry_call_count)::int8 AS retry_calls, SUM(retry_spend_micros)::int8 AS retry_spend, "
                + "SUM(decline_count)::int8 AS declines, "
                + AggregateAdd.saturatedSum("SUM(declined_micros)") + " AS declined FROM ("
                + DaySplit.rows(cols, "agent_tool_minute", "agent_tool_day_all", filter.toString())
                + ") x GROUP BY tool ORDER BY spend DESC, tool";
        return pool.preparedQuery(sql).execute(Tuple.from(params)).map(rows -> {
            List<ToolSums> out = new ArrayList<>();
            rows.forEach(r -> out.add(new ToolSums(r.getString("tool"), r.getLong("spend"), r.getLong("calls"),
                    r.getLong("retry_calls"), r.getLong("retry_spend"), r.getLong("declines"), r.getLong("declined"))));
            return out;
        });
    }

    /** The agent's spend per UTC day in [from, to). */
    public Uni<Map<LocalDate, Long>> spendPerDay(String agentId, LocalDate from, LocalDate to) {
        return pool.preparedQuery("SELECT day, SUM(spend_micros)::int8 AS spend_micros FROM analytics.agent_day_all "
                        + "WHERE agent_id = $1 AND day >= $2 AND day < $3 GROUP BY day")
                .execute(Tuple.of(agentId, from, to))
                .map(rows -> {
                    Map<LocalDate, Long> out = new HashMap<>();
                    rows.forEach(r -> out.put(r.getLocalDate("day"), r.getLong("spend_micros")));
                    return out;
                });
    }

    /** The first UTC day the agent had any aggregate (spend, decline or task), if any. */
    public Uni<Optional<LocalDate>> firstActiveDay(String agentId) {
        return pool.preparedQuery("SELECT min(day) AS first FROM analytics.agent_day_all WHERE agent_id = $1")
                .execute(Tuple.of(agentId))
                .map(rows -> Optional.ofNullable(rows.iterator().next().getLocalDate("first")));
    }

    /** Open holds of the agent: tool and amount. */
    public Uni<List<ToolSums>> openHolds(String agentId) {
        return pool.preparedQuery("SELECT tool, SUM(amount_micros)::int8 AS held FROM analytics.open_hold "
                        + "WHERE agent_id = $1 GROUP BY tool")
                .execute(Tuple.of(agentId))
                .map(rows -> {
                    List<ToolSums> out = new ArrayList<>();
                    rows.forEach(r -> out.add(new ToolSums(r.getString("tool"), r.getLong("held"), 0, 0, 0, 0, 0)));
                    return out;
                });
    }

    /**
     * Agent-to-agent edges in [start, end), optionally touching one agent: whole UTC days from the
     * flow day view, the ragged edges from the minutes (as {@link #toolSums}).
     */
    public Uni<List<Flow>> flows(Instant start, Instant end, String agentId) {
        List<Object> params = DaySplit.of(start, end).params();
        String filter = "";
        if (!agentId.isEmpty()) {
            params.add(agentId);
            filter = " AND (payer_agent_id = $7 OR payee_agent_id = $7)";
        }
        String cols = "payer_agent_id, payee_agent_id, amount_micros, payment_count";
        String sql = "SELECT payer_agent_id, payee_agent_id, SUM(amount_micros)::int8 AS amount, "
                + "SUM(payment_count)::int8 AS payments FROM ("
                + DaySplit.rows(cols, "agent_flow_minute", "agent_flow_day_all", filter)
                + ") x GROUP BY 1, 2 ORDER BY amount DESC, 1, 2";
        return pool.preparedQuery(sql).execute(Tuple.from(params)).map(rows -> {
            List<Flow> out = new ArrayList<>();
            rows.forEach(r -> out.add(new Flow(r.getString(0), r.getString(1), r.getLong(2), r.getLong(3))));
            return out;
        });
    }

    /** Spend (or one tool's spend) per step of {@code stepSeconds} from {@code start}, over [start, end). */
    public Uni<Map<Instant, Bin>> spendSeries(String agentId, String tool, Instant start, Instant end, int stepSeconds) {
        String sql = "SELECT date_bin(make_interval(secs => $4), minute, $2) AS bin, SUM(spend_micros)::int8 AS spend, "
                + "SUM(call_count)::int8 AS calls FROM analytics.agent_tool_minute "
                + "WHERE agent_id = $1 AND minute >= $2 AND minute < $3" + (tool.isEmpty() ? "" : " AND tool = $5")
                + " GROUP BY 1";
        Tuple params = Tuple.of(agentId, odt(start), odt(end), (double) stepSeconds);
        if (!tool.isEmpty()) {
            params.addString(tool);
        }
        return pool.preparedQuery(sql).execute(params).map(AnalyticsQueries::bins);
    }

    /**
     * Spend (or one tool's spend) per UTC day over [start, end), both UTC midnights: from the day
     * view, so any range the windows allow, beyond the minutes' retention.
     */
    public Uni<Map<Instant, Bin>> spendSeriesByDay(String agentId, String tool, Instant start, Instant end) {
        String sql = "SELECT day::timestamp AT TIME ZONE 'UTC' AS bin, SUM(spend_micros)::int8 AS spend, "
                + "SUM(call_count)::int8 AS calls FROM analytics.agent_tool_day_all "
                + "WHERE agent_id = $1 AND day >= $2 AND day < $3" + (tool.isEmpty() ? "" : " AND tool = $4")
                + " GROUP BY day";
        Tuple params = Tuple.of(agentId, day(start), day(end));
        if (!tool.isEmpty()) {
            params.addString(tool);
        }
        return pool.preparedQuery(sql).execute(params).map(AnalyticsQueries::bins);
    }

    /** Tasks completed per step: value = total cost, count = tasks. */
    public Uni<Map<Instant, Bin>> completedTaskSeries(String agentId, Instant start, Instant end, int stepSeconds) {
        return pool.preparedQuery("SELECT date_bin(make_interval(secs => $4), completed_time, $2) AS bin, "
                        + "SUM(cost_micros)::int8 AS spend, count(*) AS calls FROM analytics.task "
                        + "WHERE agent_id = $1 AND completed_time >= $2 AND completed_time < $3 GROUP BY 1")
                .execute(Tuple.of(agentId, odt(start), odt(end), (double) stepSeconds))
                .map(AnalyticsQueries::bins);
    }

    private static Map<Instant, Bin> bins(RowSet<Row> rows) {
        Map<Instant, Bin> out = new LinkedHashMap<>();
        rows.forEach(r -> {
            Instant bin = r.getOffsetDateTime("bin").toInstant();
            out.put(bin, new Bin(bin, r.getLong("spend"), r.getLong("calls")));
        });
        return out;
    }

    /** Every agent's daily rows in [from, to), for the fleet overview; a day can come in several rows (sum them). */
    public Uni<List<DayRow>> dayRows(LocalDate from, LocalDate to) {
        return pool.preparedQuery("SELECT agent_id, day, spend_micros, completed_task_count, completed_task_micros "
                        + "FROM analytics.agent_day_all WHERE day >= $1 AND day < $2")
                .execute(Tuple.of(from, to))
                .map(rows -> {
                    List<DayRow> out = new ArrayList<>(rows.size());
                    rows.forEach(r -> out.add(new DayRow(r.getString(0), r.getLocalDate(1), r.getLong(2), r.getLong(3),
                            r.getLong(4))));
                    return out;
                });
    }

    /** Every agent's first active day (the fleet's baselines). */
    public Uni<Map<String, LocalDate>> firstActiveDays() {
        return pool.query("SELECT agent_id, min(day) AS first FROM analytics.agent_day_all GROUP BY agent_id").execute()
                .map(rows -> {
                    Map<String, LocalDate> out = new HashMap<>();
                    rows.forEach(r -> out.put(r.getString(0), r.getLocalDate(1)));
                    return out;
                });
    }

    /** Every agent's spend in minute buckets [from, to). */
    public Uni<Map<String, Long>> spendBetween(Instant from, Instant to) {
        return pool.preparedQuery("SELECT agent_id, SUM(spend_micros)::int8 FROM analytics.agent_tool_minute "
                        + "WHERE minute >= $1 AND minute < $2 GROUP BY agent_id")
                .execute(Tuple.of(odt(from), odt(to)))
                .map(rows -> {
                    Map<String, Long> out = new HashMap<>();
                    rows.forEach(r -> out.put(r.getString(0), r.getLong(1)));
                    return out;
                });
    }

    /** Every agent's largest tool by spend over UTC days [from, to). */
    public Uni<Map<String, TopTool>> topTools(LocalDate from, LocalDate to) {
        return pool.preparedQuery("""
                        SELECT DISTINCT ON (agent_id) agent_id, tool, spend FROM (
                          SELECT agent_id, tool, SUM(spend_micros)::int8 AS spend FROM analytics.agent_tool_day_all
                          WHERE day >= $1 AND day < $2 GROUP BY agent_id, tool) s
                        ORDER BY agent_id, spend DESC, tool
                        """)
                .execute(Tuple.of(from, to))
                .map(rows -> {
                    Map<String, TopTool> out = new HashMap<>();
                    rows.forEach(r -> out.put(r.getString(0), new TopTool(r.getString(0), r.getString(1), r.getLong(2))));
                    return out;
                });
    }

    /** Where ingestion stands: ledger position and policy version. */
    public Uni<long[]> feedPositions() {
        return pool.query("SELECT feed, position FROM analytics.feed_state").execute().map(rows -> {
            long[] out = new long[2];
            rows.forEach(r -> {
                if (IngestionStore.LEDGER_FEED.equals(r.getString(0))) {
                    out[0] = r.getLong(1);
                } else if ("policy".equals(r.getString(0))) {
                    out[1] = r.getLong(1);
                }
            });
            return out;
        });
    }

    static AgentRow agentRow(Row r) {
        Map<String, String> labels = new LinkedHashMap<>();
        Object raw = r.getValue("labels");
        JsonObject json = raw instanceof JsonObject j ? j : new JsonObject(String.valueOf(raw));
        json.forEach(e -> labels.put(e.getKey(), String.valueOf(e.getValue())));
        try {
            SpendingPolicy policy = r.getBuffer("policy") == null ? SpendingPolicy.getDefaultInstance()
                    : SpendingPolicy.parseFrom(r.getBuffer("policy").getBytes());
            WorkingHours hours = r.getBuffer("working_hours") == null ? WorkingHours.getDefaultInstance()
                    : WorkingHours.parseFrom(r.getBuffer("working_hours").getBytes());
            return new AgentRow(r.getString("agent_id"), r.getString("handle"), r.getString("team_id"), labels,
                    r.getString("currency_code"), policy, hours);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("stored policy of agent " + r.getString("agent_id") + " is unreadable", e);
        }
    }

    static OffsetDateTime odt(Instant t) {
        return OffsetDateTime.ofInstant(t, ZoneOffset.UTC);
    }

    static LocalDate day(Instant t) {
        return LocalDate.ofInstant(t, ZoneOffset.UTC);
    }

    /**
     * A window cut into its whole UTC days [fullStart, fullEnd), read from day rows, and the ragged
     * edges around them, read from minutes; a window without a whole day is all edge. The statement's
     * first six parameters: start, end, fullStart, fullEnd as times, then fullStart and fullEnd as days.
     */
    record DaySplit(Instant start, Instant end, Instant fullStart, Instant fullEnd) {
        static DaySplit of(Instant start, Instant end) {
            Instant fullStart = ceilDay(start);
            Instant fullEnd = floorDay(end);
            return fullStart.isBefore(fullEnd) ? new DaySplit(start, end, fullStart, fullEnd)
                    : new DaySplit(start, end, start, start);
        }

        /**
         * The window's rows of {@code columns}: its edges from the {@code minutes} table, its whole
         * days from the {@code days} view, both narrowed by {@code filter} (" AND ...", or empty).
         */
        static String rows(String columns, String minutes, String days, String filter) {
            return "SELECT " + columns + " FROM analytics." + minutes + " WHERE minute >= $1 AND minute < $2 "
                    + "AND NOT (minute >= $3 AND minute < $4)" + filter
                    + " UNION ALL SELECT " + columns + " FROM analytics." + days + " WHERE day >= $5 AND day < $6" + filter;
        }

        List<Object> params() {
            List<Object> params = new ArrayList<>();
            params.add(odt(start));
            params.add(odt(end));
            params.add(odt(fullStart));
            params.add(odt(fullEnd));
            params.add(day(fullStart));
            params.add(day(fullEnd));
            return params;
        }
    }

    static Instant floorDay(Instant t) {
        return day(t).atStartOfDay(ZoneOffset.UTC).toInstant();
    }

    static Instant ceilDay(Instant t) {
        Instant floor = floorDay(t);
        return floor.equals(t) ? t : floor.plusSeconds(86_400);
    }
}
