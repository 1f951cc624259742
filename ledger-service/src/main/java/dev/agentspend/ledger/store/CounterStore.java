package dev.agentspend.ledger.store;

import dev.agentspend.ledger.domain.CounterKey;
import dev.agentspend.ledger.domain.Usage;
import dev.agentspend.ledger.domain.Window;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.SqlClient;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Where spend counters live (migration V2). The hour, day, week and month windows and lifetime of
 * one scope and tool share a row of {@code ledger.window_counters} that holds each window's current
 * bucket; a payment therefore grows 2 rows (4 with a team) instead of 10 (20). A bucket that is no
 * longer the newest of its window, and every task bucket, is a row of {@code ledger.counters}.
 *
 * <p>Every bucket is in exactly one place. A write of a later bucket first moves the closed one to
 * {@code ledger.counters}; a write to a bucket older than the row's (a hold placed before its window
 * rolled, released or captured after) goes to {@code ledger.counters}. Both decisions are taken in
 * one statement on the rows it has locked, so a writer that does not hold the scope's lock (a team's
 * counters when another agent's hold is released) cannot make a delta land in a bucket nobody reads.
 */
final class CounterStore {
    private static final Window[] KINDS = {Window.HOUR, Window.DAY, Window.WEEK, Window.MONTH};
    private static final String[] COLUMN = {"hour", "day", "week", "month"};

    private CounterStore() {
    }

    /** One row of ledger.window_counters: a scope and a tool ('' for every tool). */
    record Group(String scopeId, String tool) {
        static final Comparator<Group> ORDER = (a, b) -> {
            int c = a.scopeId.compareTo(b.scopeId);
            return c != 0 ? c : a.tool.compareTo(b.tool);
        };

        static Group of(CounterKey k) {
            return new Group(k.scopeId(), k.tool());
        }
    }

    private static int kind(Window w) {
        for (int i = 0; i < KINDS.length; i++) {
            if (KINDS[i] == w) {
                return i;
            }
        }
        return -1;
    }

    private static boolean inWindowRow(CounterKey k) {
        return k.window().isCalendarOrLifetime();
    }

    // ------------------------------------------------------------------------------------ reads

    /**
     * The columns {@link WindowRow#of} reads, by position: scope and tool, then bucket, spent and held
     * of each window in {@link #KINDS} order, then lifetime's spent and held, then whether the row
     * counts every payment of its tool (migration V10). By position because a
     * batch reads some fifty of these rows, and a read by name is a search of the row's column names.
     */
    private static final String WINDOW_ROW_COLUMNS = "c.scope_id, c.tool, c.hour_bucket, c.hour_spent, c.hour_held, "
            + "c.day_bucket, c.day_spent, c.day_held, c.week_bucket, c.week_spent, c.week_held, "
            + "c.month_bucket, c.month_spent, c.month_held, c.lifetime_spent, c.lifetime_held, c.complete";

    /** The window row as read: each window's current bucket and usage, lifetime, and whether complete. */
    private record WindowRow(String[] buckets, Usage[] usage, Usage lifetime, boolean complete) {
        static WindowRow of(Row r) {
            String[] buckets = new String[KINDS.length];
            Usage[] usage = new Usage[KINDS.length];
            int column = 2;
            for (int i = 0; i < KINDS.length; i++) {
                buckets[i] = r.getString(column);
                usage[i] = new Usage(r.getLong(column + 1), r.getLong(column + 2));
                column += 3;
            }
            return new WindowRow(buckets, usage, new Usage(r.getLong(column), r.getLong(column + 1)),
                    r.getBoolean(column + 2));
        }
    }

    /**
     * A window row as a read found it: the current bucket of each window (hour, day, week, month;
     * null where none), all null for a row that does not exist ({@code stored} false); whether it
     * counts every payment of its tool ({@code complete}: always for the every-tool row, see
     * migration V10; never for a row that does not exist).
     */
    record RowRead(String[] buckets, boolean stored, boolean complete) {
        /** Whether a payment's spend adds to this row (see {@link dev.agentspend.ledger.domain.PolicyView#toolRowScopes}). */
        boolean counts(String tool) {
            return tool.isEmpty() || complete;
        }
    }

    /**
     * What a read found: the usage of every key, every window row it read, and the keys of the
     * ledger.counters rows it found (task buckets; a row the read did not find is not there).
     */
    record Read(Map<CounterKey, Usage> usage, Map<Group, RowRead> rows, Set<CounterKey> storedBuckets) {
    }

    /**
     * The usage of every key (absent counters are {@link Usage#ZERO}). One round trip, a second one
     * only for buckets older than their row's (rare: a capture or release of a hold placed before
     * its window rolled).
     */
    static Uni<Read> read(SqlClient db, Collection<CounterKey> keys) {
        List<CounterKey> windowKeys = new ArrayList<>();
        List<CounterKey> bucketKeys = new ArrayList<>();
        // hashed: the read takes no locks, so its rows need no order (see Tx.counterDeltas)
        Set<Group> groups = new HashSet<>();
        for (CounterKey k : keys) {
            if (inWindowRow(k)) {
                windowKeys.add(k);
                groups.add(Group.of(k));
            } else {
                bucketKeys.add(k);
            }
        }
        Uni<Map<Group, WindowRow>> rows = readRows(db, groups);
        Uni<Map<CounterKey, Usage>> buckets = readBuckets(db, bucketKeys);
        return Uni.combine().all().unis(rows, buckets).asTuple().chain(t -> {
            Map<Group, RowRead> rowsRead = new HashMap<>();
            for (Group g : groups) {
                WindowRow row = t.getItem1().get(g);
                rowsRead.put(g, row == null ? new RowRead(new String[KINDS.length], false, false)
                        : new RowRead(row.buckets(), true, row.complete()));
            }
            Map<CounterKey, Usage> out = new HashMap<>();
            for (CounterKey k : bucketKeys) {
                out.put(k, t.getItem2().getOrDefault(k, Usage.ZERO));
            }
            Set<CounterKey> storedBuckets = t.getItem2().keySet();
            List<CounterKey> closed = new ArrayList<>();
            for (CounterKey k : windowKeys) {
                WindowRow row = t.getItem1().get(Group.of(k));
                if (row == null) {
                    out.put(k, Usage.ZERO);
                } else if (k.window() == Window.LIFETIME) {
                    out.put(k, row.lifetime());
                } else {
                    int i = kind(k.window());
                    String current = row.buckets()[i];
                    int cmp = current == null ? 1 : k.bucket().compareTo(current);
                    if (cmp == 0) {
                        out.put(k, row.usage()[i]);
                    } else if (cmp > 0) {
                        out.put(k, Usage.ZERO);   // a window nobody has written yet
                    } else {
                        closed.add(k);
                    }
                }
            }
            if (closed.isEmpty()) {
                return Uni.createFrom().item(new Read(out, rowsRead, storedBuckets));
            }
            return readBuckets(db, closed).map(found -> {
                for (CounterKey k : closed) {
                    out.put(k, found.getOrDefault(k, Usage.ZERO));
                }
                return new Read(out, rowsRead, storedBuckets);
            });
        });
    }

    private static Uni<Map<Group, WindowRow>> readRows(SqlClient db, Collection<Group> groups) {
        if (groups.isEmpty()) {
            return Uni.createFrom().item(Map.of());
        }
        return db.preparedQuery("""
                        SELECT %s FROM ledger.window_counters c
                        JOIN unnest($1::text[], $2::text[]) AS k(scope_id, tool) ON c.scope_id = k.scope_id AND c.tool = k.tool"""
                        .formatted(WINDOW_ROW_COLUMNS))
                .execute(Tuple.tuple().addArrayOfString(groups.stream().map(Group::scopeId).toArray(String[]::new))
                        .addArrayOfString(groups.stream().map(Group::tool).toArray(String[]::new)))
                .map(rs -> {
                    Map<Group, WindowRow> out = new HashMap<>();
                    for (Row r : rs) {
                        out.put(new Group(r.getString(0), r.getString(1)), WindowRow.of(r));
                    }
                    return out;
                });
    }

    /** The rows of ledger.counters found for {@code keys}; absent keys are not in the map. */
    private static Uni<Map<CounterKey, Usage>> readBuckets(SqlClient db, List<CounterKey> keys) {
        if (keys.isEmpty()) {
            return Uni.createFrom().item(Map.of());
        }
        return db.preparedQuery("""
                        SELECT c.scope_id, c.bucket, c.tool, c.spent_micros, c.held_micros FROM ledger.counters c
                        JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(scope_id, bucket, tool)
                          ON c.scope_id = k.scope_id AND c.bucket = k.bucket AND c.tool = k.tool""")
                .execute(Tuple.tuple().addArrayOfString(keys.stream().map(CounterKey::scopeId).toArray(String[]::new))
                        .addArrayOfString(keys.stream().map(CounterKey::bucket).toArray(String[]::new))
                        .addArrayOfString(keys.stream().map(CounterKey::tool).toArray(String[]::new)))
                .map(rs -> {
                    Map<CounterKey, Usage> out = new HashMap<>();
                    for (Row r : rs) {
                        out.put(new CounterKey(r.getString("scope_id"), r.getString("bucket"), r.getString("tool")),
                                new Usage(r.getLong("spent_micros"), r.getLong("held_micros")));
                    }
                    return out;
                });
    }

    // ----------------------------------------------------------------------------------- writes

    /** What one transaction adds to one window row. */
    private static final class GroupWrite {
        final String[] target = new String[KINDS.length];
        long lifetimeSpent;
        long lifetimeHeld;
        Long lifetimeLimit;
    }

    /**
     * Adds {@code deltas} (spent, held per key) with the HARD limits in force on the counters that
     * grew. Sent pipelined, in this order: task buckets; the window rows locked in (scope, tool)
     * order, closed buckets and writes to them moved to ledger.counters; the window rows grown.
     *
     * <p>{@code settledRows}: window rows this transaction read under a lock that every writer of
     * them holds (an agent's own rows, under its agent row lock), with their current buckets as
     * read. Such a row cannot change before commit, so when nothing of it has to move (no window
     * rolled, no delta to an older bucket: every payment but the first of each hour) it skips the
     * move statement, its row lock and the lock's WAL record. A settled row that exists is grown by
     * a plain UPDATE rather than the upsert, whose conflict path locks the row (another WAL record)
     * before it updates it; new rows and team rows go through the upsert.
     *
     * <p>{@code settledBuckets}: the same for rows of ledger.counters (task buckets), read and found
     * under such a lock: grown by a plain UPDATE too (a task's payments after its first).
     */
    static Write write(SqlConnection conn, Map<CounterKey, long[]> deltas, Map<CounterKey, Long> limits,
                       Map<Group, RowRead> settledRows, Set<CounterKey> settledBuckets) {
        TreeMap<CounterKey, long[]> buckets = new TreeMap<>(CounterKey.ORDER);
        TreeMap<CounterKey, long[]> storedBuckets = new TreeMap<>(CounterKey.ORDER);
        // hashed while collecting (one lookup per key); the statements below get sorted maps
        Map<Group, GroupWrite> groups = new HashMap<>();
        Map<Group, List<CounterKey>> calendarByGroup = new HashMap<>();
        deltas.forEach((k, d) -> {
            if (!inWindowRow(k)) {
                (settledBuckets.contains(k) ? storedBuckets : buckets).put(k, d);
                return;
            }
            GroupWrite g = groups.computeIfAbsent(Group.of(k), x -> new GroupWrite());
            if (k.window() == Window.LIFETIME) {
                g.lifetimeSpent += d[0];
                g.lifetimeHeld += d[1];
                g.lifetimeLimit = limits.get(k);
            } else {
                int i = kind(k.window());
                if (g.target[i] == null || k.bucket().compareTo(g.target[i]) > 0) {
                    g.target[i] = k.bucket();
                }
                calendarByGroup.computeIfAbsent(Group.of(k), x -> new ArrayList<>()).add(k);
            }
        });
        Map<Group, String[]> before = new HashMap<>();
        TreeMap<Group, GroupWrite> moving = new TreeMap<>(Group.ORDER);
        List<CounterKey> calendar = new ArrayList<>();
        calendarByGroup.forEach((g, keys) -> {
            RowRead settled = settledRows.get(g);
            if (settled != null && nothingMoves(groups.get(g).target, settled.buckets(), keys)) {
                before.put(g, settled.buckets());
            } else {
                moving.put(g, groups.get(g));
                calendar.addAll(keys);
            }
        });
        List<Uni<?>> statements = new ArrayList<>();
        int checkedWrites = 0;
        if (!storedBuckets.isEmpty()) {
            statements.add(updateBuckets(conn, storedBuckets, limits));
            checkedWrites++;
        }
        if (!buckets.isEmpty()) {
            statements.add(upsertBuckets(conn, buckets, limits));
            checkedWrites++;
        }
        if (!calendar.isEmpty()) {
            statements.add(moveClosed(conn, moving, calendar, deltas, limits).invoke(before::putAll));
        }
        // settled rows where nothing moves (the common case) are checked by their statement; rows
        // that move or are created, by checkNothingLost when their statements answer
        TreeMap<Group, GroupWrite> settledGrown = new TreeMap<>(Group.ORDER);
        TreeMap<Group, GroupWrite> updated = new TreeMap<>(Group.ORDER);
        TreeMap<Group, GroupWrite> upserted = new TreeMap<>(Group.ORDER);
        groups.forEach((g, w) -> {
            RowRead settled = settledRows.get(g);
            boolean exists = settled != null && settled.stored();
            if (exists && !moving.containsKey(g)) {
                settledGrown.put(g, w);
            } else {
                (exists ? updated : upserted).put(g, w);
            }
        });
        if (!settledGrown.isEmpty()) {
            statements.add(growSettledRows(conn, settledGrown, deltas, limits));
            checkedWrites++;
        }
        Map<Group, String[]> after = new HashMap<>();
        if (!updated.isEmpty()) {
            statements.add(growRows(conn, UPDATE_ROWS, updated, deltas, limits).invoke(after::putAll));
        }
        if (!upserted.isEmpty()) {
            statements.add(growRows(conn, UPSERT_ROWS, upserted, deltas, limits).invoke(after::putAll));
        }
        Map<Group, GroupWrite> checkedHere = new HashMap<>(updated);
        checkedHere.putAll(upserted);
        Uni<Void> all = statements.isEmpty() ? Uni.createFrom().voidItem()
                : Uni.combine().all().unis(statements).discardItems().invoke(() -> checkNothingLost(checkedHere, before, after));
        return new Write(all, checkedWrites, !checkedHere.isEmpty() || !calendar.isEmpty());
    }

    /**
     * The statements of {@link #write}, sent when {@code statements} is subscribed. {@code checkedWrites}
     * of them end in ledger.require_rows (checked in the database); {@code answersToCheck}: others must
     * answer, and their answers pass {@code checkNothingLost}, before the transaction may commit.
     */
    record Write(Uni<Void> statements, int checkedWrites, boolean answersToCheck) {
    }

    /**
     * True when the move statement would do nothing for this row ({@code target}: the transaction's
     * newest bucket per window, {@code current}: the row's, {@code keys}: the transaction's calendar
     * keys of the row): no current bucket is older than the transaction's newest of its window, and no delta goes to a bucket older than the one the
     * row will hold (the same tests as {@link #moveClosedSql}, on the buckets as read).
     */
    static boolean nothingMoves(String[] target, String[] current, List<CounterKey> keys) {
        for (int i = 0; i < KINDS.length; i++) {
            if (target[i] != null && current[i] != null && current[i].compareTo(target[i]) < 0) {
                return false;
            }
        }
        for (CounterKey k : keys) {
            int i = kind(k.window());
            String kept = current[i] == null || current[i].compareTo(target[i]) < 0 ? target[i] : current[i];
            if (k.bucket().compareTo(kept) < 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Each window row ends at the later of its bucket before and the transaction's newest: else a
     * delta meant for the row was dropped. Cannot happen while every first write of a row holds its
     * scope's lock (see class comment); checked because a lost delta would be a silent overspend.
     */
    private static void checkNothingLost(Map<Group, GroupWrite> groups, Map<Group, String[]> before,
                                         Map<Group, String[]> after) {
        groups.forEach((g, w) -> {
            String[] was = before.get(g);
            String[] now = after.get(g);
            for (int i = 0; i < KINDS.length; i++) {
                if (w.target[i] == null) {
                    continue;
                }
                String old = was == null ? null : was[i];
                String expected = old == null || w.target[i].compareTo(old) > 0 ? w.target[i] : old;
                if (now == null || !expected.equals(now[i])) {
                    throw new IllegalStateException("window counter " + g + " " + KINDS[i] + " moved under the transaction: "
                            + old + " -> " + (now == null ? null : now[i]) + ", wrote " + w.target[i]);
                }
            }
        });
    }

    /** Adds to task buckets, creating their rows (a checked write: one row per bucket). */
    private static Uni<Void> upsertBuckets(SqlConnection conn, TreeMap<CounterKey, long[]> buckets, Map<CounterKey, Long> limits) {
        return conn.preparedQuery("""
                        WITH w AS (
                          INSERT INTO ledger.counters AS c (scope_id, bucket, tool, spent_micros, held_micros, hard_limit_micros)
                          SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
                          ON CONFLICT (scope_id, bucket, tool) DO UPDATE SET
                            spent_micros = c.spent_micros + EXCLUDED.spent_micros,
                            held_micros = c.held_micros + EXCLUDED.held_micros,
                            hard_limit_micros = CASE WHEN EXCLUDED.spent_micros + EXCLUDED.held_micros > 0
                                                     THEN EXCLUDED.hard_limit_micros ELSE c.hard_limit_micros END
                          RETURNING 1)
                        SELECT ledger.require_rows(count(*), $7, 'task counters') FROM w""")
                .execute(bucketArgs(buckets, limits).addLong((long) buckets.size()))
                .replaceWithVoid();
    }

    /**
     * Grows rows that exist and that only this transaction can change (see {@link #write}): the
     * upsert's conflict path would lock each row (a WAL record) before updating it. Every row must
     * be there: a delta that found no row would be lost, a silent overspend (a checked write).
     */
    private static Uni<Void> updateBuckets(SqlConnection conn, TreeMap<CounterKey, long[]> buckets, Map<CounterKey, Long> limits) {
        return conn.preparedQuery("""
                        WITH w AS (
                          UPDATE ledger.counters AS c SET
                            spent_micros = c.spent_micros + u.spent,
                            held_micros = c.held_micros + u.held,
                            hard_limit_micros = CASE WHEN u.spent + u.held > 0 THEN u.lim ELSE c.hard_limit_micros END
                          FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
                               AS u(scope_id, bucket, tool, spent, held, lim)
                          WHERE c.scope_id = u.scope_id AND c.bucket = u.bucket AND c.tool = u.tool RETURNING 1)
                        SELECT ledger.require_rows(count(*), $7, 'task counters read under the agents'' locks') FROM w""")
                .execute(bucketArgs(buckets, limits).addLong((long) buckets.size()))
                .replaceWithVoid();
    }

    private static Tuple bucketArgs(TreeMap<CounterKey, long[]> buckets, Map<CounterKey, Long> limits) {
        int n = buckets.size();
        String[] scopes = new String[n];
        String[] names = new String[n];
        String[] tools = new String[n];
        Long[] spent = new Long[n];
        Long[] held = new Long[n];
        Long[] lims = new Long[n];
        int i = 0;
        for (Map.Entry<CounterKey, long[]> e : buckets.entrySet()) {
            scopes[i] = e.getKey().scopeId();
            names[i] = e.getKey().bucket();
            tools[i] = e.getKey().tool();
            spent[i] = e.getValue()[0];
            held[i] = e.getValue()[1];
            lims[i] = limits.get(e.getKey());
            i++;
        }
        return Tuple.tuple().addArrayOfString(scopes).addArrayOfString(names).addArrayOfString(tools)
                .addArrayOfLong(spent).addArrayOfLong(held).addArrayOfLong(lims);
    }

    private static final String MOVE_CLOSED = moveClosedSql();

    /**
     * Locks the rows (id order), then moves to ledger.counters every current bucket older than the
     * transaction's newest of its window, and every delta to a bucket older than the row's bucket
     * after that. Returns each locked row's buckets as they were.
     */
    private static String moveClosedSql() {
        StringBuilder moved = new StringBuilder();
        for (int i = 0; i < KINDS.length; i++) {
            String c = COLUMN[i];
            moved.append("SELECT scope_id, ").append(c).append("_bucket AS bucket, tool, ").append(c).append("_spent AS spent, ")
                    .append(c).append("_held AS held, ").append(c).append("_limit AS lim, 0 AS src FROM cur WHERE ")
                    .append(c).append("_bucket COLLATE \"C\" < t_").append(c).append("\n  UNION ALL ");
        }
        StringBuilder rowBucket = new StringBuilder("CASE d.kind");
        for (int i = 0; i < KINDS.length; i++) {
            rowBucket.append(" WHEN ").append(i).append(" THEN cur.").append(COLUMN[i]).append("_bucket");
        }
        rowBucket.append(" END");
        return """
                WITH t AS (
                  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                    AS t(scope_id, tool, t_hour, t_day, t_week, t_month)),
                cur AS MATERIALIZED (
                  SELECT c.*, t.t_hour, t.t_day, t.t_week, t.t_month FROM ledger.window_counters c
                  JOIN t ON c.scope_id = t.scope_id AND c.tool = t.tool
                  ORDER BY c.scope_id, c.tool FOR UPDATE OF c),
                d AS (
                  SELECT * FROM unnest($7::text[], $8::text[], $9::text[], $10::int[], $11::bigint[], $12::bigint[],
                                       $13::bigint[], $14::text[]) AS d(scope_id, tool, bucket, kind, spent, held, lim, target)),
                moved AS (
                  %sSELECT d.scope_id, d.bucket, d.tool, d.spent, d.held, d.lim, 1 FROM d
                  LEFT JOIN cur ON cur.scope_id = d.scope_id AND cur.tool = d.tool
                  WHERE d.bucket COLLATE "C" < GREATEST((%s) COLLATE "C", d.target)),
                archived AS (
                  INSERT INTO ledger.counters AS c (scope_id, bucket, tool, spent_micros, held_micros, hard_limit_micros)
                  SELECT scope_id, bucket, tool, SUM(spent), SUM(held),
                         COALESCE(MIN(lim) FILTER (WHERE src = 1 AND spent + held > 0), MIN(lim) FILTER (WHERE src = 0))
                  FROM moved GROUP BY scope_id, bucket, tool ORDER BY scope_id, bucket, tool
                  ON CONFLICT (scope_id, bucket, tool) DO UPDATE SET
                    spent_micros = c.spent_micros + EXCLUDED.spent_micros,
                    held_micros = c.held_micros + EXCLUDED.held_micros,
                    hard_limit_micros = CASE WHEN EXCLUDED.spent_micros + EXCLUDED.held_micros > 0
                                             THEN EXCLUDED.hard_limit_micros ELSE c.hard_limit_micros END)
                SELECT scope_id, tool, hour_bucket, day_bucket, week_bucket, month_bucket FROM cur""".formatted(moved, rowBucket);
    }

    private static Uni<Map<Group, String[]>> moveClosed(SqlConnection conn, TreeMap<Group, GroupWrite> groups,
                                                        List<CounterKey> calendar, Map<CounterKey, long[]> deltas,
                                                        Map<CounterKey, Long> limits) {
        List<Group> touched = new ArrayList<>();
        groups.forEach((g, w) -> {
            for (String t : w.target) {
                if (t != null) {
                    touched.add(g);
                    return;
                }
            }
        });
        Tuple args = Tuple.tuple().addArrayOfString(touched.stream().map(Group::scopeId).toArray(String[]::new))
                .addArrayOfString(touched.stream().map(Group::tool).toArray(String[]::new));
        for (int i = 0; i < KINDS.length; i++) {
            int kind = i;
            args.addArrayOfString(touched.stream().map(g -> groups.get(g).target[kind]).toArray(String[]::new));
        }
        int n = calendar.size();
        String[] scopes = new String[n];
        String[] tools = new String[n];
        String[] names = new String[n];
        Integer[] kinds = new Integer[n];
        Long[] spent = new Long[n];
        Long[] held = new Long[n];
        Long[] lims = new Long[n];
        String[] targets = new String[n];
        for (int j = 0; j < n; j++) {
            CounterKey k = calendar.get(j);
            long[] d = deltas.get(k);
            scopes[j] = k.scopeId();
            tools[j] = k.tool();
            names[j] = k.bucket();
            kinds[j] = kind(k.window());
            spent[j] = d[0];
            held[j] = d[1];
            lims[j] = limits.get(k);
            targets[j] = groups.get(Group.of(k)).target[kinds[j]];
        }
        args.addArrayOfString(scopes).addArrayOfString(tools).addArrayOfString(names).addArrayOfInteger(kinds)
                .addArrayOfLong(spent).addArrayOfLong(held).addArrayOfLong(lims).addArrayOfString(targets);
        return conn.preparedQuery(MOVE_CLOSED).execute(args).map(CounterStore::bucketsByGroup);
    }

    private static final String UPSERT_ROWS = growRowsSql(true, false);
    /** The same for rows known to exist under this transaction's agent lock: no conflict path. */
    private static final String UPDATE_ROWS = growRowsSql(false, false);
    /**
     * The same for such rows where nothing moves (see {@link #nothingMoves}), a checked write: each
     * window the transaction adds to must hold no bucket or the transaction's, so that the delta
     * adds to it or starts it; a row missing or found otherwise fails the transaction.
     */
    static final String GROW_SETTLED_ROWS = growRowsSql(false, true);

    /**
     * Per window: the transaction's newest bucket replaces an older one (already moved by
     * {@link #moveClosedSql}), adds to an equal one, and leaves a newer one alone (its delta was
     * moved). Returns the buckets after. {@code upsert}: inserts rows that do not exist; otherwise
     * a plain UPDATE of rows that do.
     */
    private static String growRowsSql(boolean upsert, boolean settled) {
        String in = upsert ? "EXCLUDED." : "u.";
        StringBuilder columns = new StringBuilder("scope_id, tool");
        StringBuilder types = new StringBuilder("$1::text[], $2::text[]");
        StringBuilder set = new StringBuilder();
        int p = 3;
        for (String c : COLUMN) {
            columns.append(", ").append(c).append("_bucket, ").append(c).append("_spent, ").append(c).append("_held, ")
                    .append(c).append("_limit");
            types.append(", $").append(p++).append("::text[], $").append(p++).append("::bigint[], $").append(p++)
                    .append("::bigint[], $").append(p++).append("::bigint[]");
            String ex = in + c + "_bucket";
            String old = "c." + c + "_bucket";
            String keep = ex + " IS NULL OR " + ex + " COLLATE \"C\" < " + old;
            String same = ex + " = " + old;
            String spent = in + c + "_spent";
            String held = in + c + "_held";
            String limit = in + c + "_limit";
            set.append(c).append("_spent = CASE WHEN ").append(keep).append(" THEN c.").append(c).append("_spent WHEN ")
                    .append(same).append(" THEN c.").append(c).append("_spent + ").append(spent).append(" ELSE ")
                    .append(spent).append(" END,\n  ");
            set.append(c).append("_held = CASE WHEN ").append(keep).append(" THEN c.").append(c).append("_held WHEN ")
                    .append(same).append(" THEN c.").append(c).append("_held + ").append(held).append(" ELSE ")
                    .append(held).append(" END,\n  ");
            set.append(c).append("_limit = CASE WHEN ").append(keep).append(" THEN c.").append(c).append("_limit WHEN ")
                    .append(same).append(" THEN (CASE WHEN ").append(spent).append(" + ").append(held)
                    .append(" > 0 THEN ").append(limit).append(" ELSE c.").append(c).append("_limit END) ELSE ")
                    .append(limit).append(" END,\n  ");
            set.append(c).append("_bucket = CASE WHEN ").append(keep).append(" THEN ").append(old).append(" ELSE ").append(ex)
                    .append(" END,\n  ");
        }
        columns.append(", lifetime_spent, lifetime_held, lifetime_limit");
        types.append(", $").append(p++).append("::bigint[], $").append(p++).append("::bigint[], $").append(p).append("::bigint[]");
        set.append("""
                lifetime_spent = c.lifetime_spent + %1$slifetime_spent,
                  lifetime_held = c.lifetime_held + %1$slifetime_held,
                  lifetime_limit = CASE WHEN %1$slifetime_spent + %1$slifetime_held > 0
                                        THEN %1$slifetime_limit ELSE c.lifetime_limit END""".formatted(in));
        String returning = "\nRETURNING c.scope_id, c.tool, c.hour_bucket, c.day_bucket, c.week_bucket, c.month_bucket";
        if (settled) {
            StringBuilder asRead = new StringBuilder();
            for (String c : COLUMN) {
                asRead.append("\n  AND (u.").append(c).append("_bucket IS NULL OR c.").append(c).append("_bucket IS NULL OR c.")
                        .append(c).append("_bucket = u.").append(c).append("_bucket)");
            }
            return "WITH w AS (\nUPDATE ledger.window_counters AS c SET\n  " + set + "\nFROM unnest(" + types + ") AS u(" + columns + ")\n"
                    + "WHERE c.scope_id = u.scope_id AND c.tool = u.tool" + asRead + "\nRETURNING 1)\n"
                    + "SELECT ledger.require_rows(count(*), $" + (p + 1) + ", 'window counter rows read under the agents'' locks, "
                    + "in the buckets read') FROM w";
        }
        if (upsert) {
            // a tool's row inserted here is not complete: only a hold, a capture, a release or an
            // expiry writes a row that is not, and a payment of the tool before it was not counted
            return "INSERT INTO ledger.window_counters AS c (" + columns + ", complete)\nSELECT u.*, u.tool = '' FROM unnest("
                    + types + ") AS u(" + columns + ")\n"
                    + "ON CONFLICT (scope_id, tool) DO UPDATE SET\n  " + set + returning;
        }
        return "UPDATE ledger.window_counters AS c SET\n  " + set + "\nFROM unnest(" + types + ") AS u(" + columns + ")\n"
                + "WHERE c.scope_id = u.scope_id AND c.tool = u.tool" + returning;
    }

    private static Uni<Map<Group, String[]>> growRows(SqlConnection conn, String sql, TreeMap<Group, GroupWrite> groups,
                                                      Map<CounterKey, long[]> deltas, Map<CounterKey, Long> limits) {
        return conn.preparedQuery(sql).execute(growArgs(groups, deltas, limits)).map(CounterStore::bucketsByGroup);
    }

    private static Uni<Void> growSettledRows(SqlConnection conn, TreeMap<Group, GroupWrite> groups,
                                             Map<CounterKey, long[]> deltas, Map<CounterKey, Long> limits) {
        return conn.preparedQuery(GROW_SETTLED_ROWS).execute(growArgs(groups, deltas, limits).addLong((long) groups.size()))
                .replaceWithVoid();
    }

    private static Tuple growArgs(TreeMap<Group, GroupWrite> groups, Map<CounterKey, long[]> deltas, Map<CounterKey, Long> limits) {
        int n = groups.size();
        List<Group> order = new ArrayList<>(groups.keySet());
        List<GroupWrite> writes = new ArrayList<>(groups.values());
        Tuple args = Tuple.tuple().addArrayOfString(order.stream().map(Group::scopeId).toArray(String[]::new))
                .addArrayOfString(order.stream().map(Group::tool).toArray(String[]::new));
        for (int i = 0; i < KINDS.length; i++) {
            String[] target = new String[n];
            Long[] spent = new Long[n];
            Long[] held = new Long[n];
            Long[] lims = new Long[n];
            for (int j = 0; j < n; j++) {
                Group g = order.get(j);
                target[j] = writes.get(j).target[i];
                CounterKey key = target[j] == null ? null : new CounterKey(g.scopeId(), target[j], g.tool());
                long[] d = key == null ? null : deltas.get(key);
                spent[j] = d == null ? 0L : d[0];
                held[j] = d == null ? 0L : d[1];
                lims[j] = key == null ? null : limits.get(key);
            }
            args.addArrayOfString(target).addArrayOfLong(spent).addArrayOfLong(held).addArrayOfLong(lims);
        }
        args.addArrayOfLong(writes.stream().map(w -> w.lifetimeSpent).toArray(Long[]::new))
                .addArrayOfLong(writes.stream().map(w -> w.lifetimeHeld).toArray(Long[]::new))
                .addArrayOfLong(writes.stream().map(w -> w.lifetimeLimit).toArray(Long[]::new));
        return args;
    }

    /** Rows of scope_id, tool and the four windows' buckets (in {@link #KINDS} order), read by position. */
    private static Map<Group, String[]> bucketsByGroup(RowSet<Row> rs) {
        Map<Group, String[]> out = new HashMap<>();
        for (Row r : rs) {
            String[] b = new String[KINDS.length];
            for (int i = 0; i < KINDS.length; i++) {
                b[i] = r.getString(2 + i);
            }
            out.put(new Group(r.getString(0), r.getString(1)), b);
        }
        return out;
    }
}
