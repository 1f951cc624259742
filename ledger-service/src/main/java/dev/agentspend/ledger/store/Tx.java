package dev.agentspend.ledger.store;

import com.google.protobuf.Timestamp;
import dev.agentspend.common.api.Ids;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.ledger.domain.CounterKey;
import dev.agentspend.ledger.domain.Money;
import dev.agentspend.ledger.domain.Usage;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One writing transaction of the ledger. Locks are taken in one global order: agent rows (sorted
 * by id), then team rows (sorted), then counters (task buckets, then window rows, each sorted;
 * see {@link CounterStore}), then the feed position row, which is the last statement before commit. Everything the transaction writes is collected
 * here and written set-based: {@link #flushState}, then {@link #writeEntriesAndCommit}.
 */
final class Tx {
    private static final org.jboss.logging.Logger LOG = org.jboss.logging.Logger.getLogger(Tx.class);
    final SqlConnection conn;
    final Instant now;
    private final Map<String, AgentRow> agents = new TreeMap<>();
    // hashed, not sorted: CounterStore.write puts the keys in lock order itself. A batch's few
    // hundred keys (a dozen per payment) went through sorted maps here and in CounterStore, each
    // lookup comparing strings: under the benchmark (perf) TreeMap was 7.5% of the ledger's CPU
    // samples, 4.2% with this map hashed, 1.1% with CounterStore's too (HashMap 3.0% -> 4.1%)
    private final Map<CounterKey, long[]> counterDeltas = new HashMap<>();
    private final Map<CounterKey, Long> hardLimits = new HashMap<>();
    private final Map<CounterKey, Usage> loaded = new HashMap<>();
    private final Map<CounterStore.Group, CounterStore.RowRead> windowRowsRead = new HashMap<>();
    private final java.util.Set<CounterKey> bucketsFound = new java.util.HashSet<>();
    private final java.util.Set<CounterKey> requested = new java.util.HashSet<>();
    private final List<Entry.Builder> entries = new ArrayList<>();
    private final Map<String, Transfer> transfers = new HashMap<>();
    private final Map<String, StoredResponse> storedResponses = new HashMap<>();
    private final java.util.Set<String> lockedTeams = new java.util.HashSet<>();
    private final List<TaskRow> taskRows = new ArrayList<>();
    /** Statements sent that end in ledger.require_rows: COMMIT goes only if that many ran. */
    private int checkedWrites;
    /** The entries as written (payload bytes and positions), once the entries statement answered. */
    private List<FeedEntry> written = List.of();
    private boolean committed;

    String caller;
    String requestId;

    Tx(SqlConnection conn, Instant now) {
        this.conn = conn;
        this.now = now;
    }

    /** The idempotency key this transaction writes (checked again under the agent's lock). */
    void idempotency(String caller, String requestId) {
        this.caller = caller;
        this.requestId = requestId;
    }

    /** An agent's state row, locked for the rest of the transaction. */
    static final class AgentRow {
        final String agentId;
        final String currency;
        long balance;
        long held;
        int openHolds;
        boolean dirty;

        AgentRow(String agentId, String currency, long balance, long held, int openHolds) {
            this.agentId = agentId;
            this.currency = currency;
            this.balance = balance;
            this.held = held;
            this.openHolds = openHolds;
        }
    }

    /**
     * Locks the agent rows that exist ($1: agent ids, sorted) and inserts the missing ones ($2: their
     * currencies). Its plan must find the rows by the primary key, not read the whole table: see
     * the random_page_cost setting in application.properties ({@code AgentRowPlansTest}).
     */
    static final String LOCK_AGENTS = """
            WITH locked AS (
              SELECT agent_id, currency_code, balance_micros, held_micros, open_holds FROM ledger.agent_state
              WHERE agent_id = ANY($1::text[]) ORDER BY agent_id FOR UPDATE),
            added AS (
              INSERT INTO ledger.agent_state (agent_id, currency_code)
              SELECT a, c FROM unnest($1::text[], $2::text[]) AS u(a, c)
              WHERE NOT EXISTS (SELECT 1 FROM locked l WHERE l.agent_id = u.a) ORDER BY a
              ON CONFLICT (agent_id) DO UPDATE SET agent_id = EXCLUDED.agent_id
              RETURNING agent_id, currency_code, balance_micros, held_micros, open_holds, (xmax = 0) AS inserted)
            SELECT *, false AS inserted FROM locked
            UNION ALL
            SELECT * FROM added""";

    /**
     * Writes the locked agent rows' balances, holds and hold counts ($5: how many, a checked write:
     * see {@link #flushAndCommit}); the same plan rule as {@link #LOCK_AGENTS}.
     */
    static final String UPDATE_AGENTS = """
            WITH w AS (
              UPDATE ledger.agent_state s SET balance_micros = u.balance, held_micros = u.held, open_holds = u.holds
              FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::int[]) AS u(agent_id, balance, held, holds)
              WHERE s.agent_id = u.agent_id RETURNING 1)
            SELECT ledger.require_rows(count(*), $5, 'agent rows locked by this transaction') FROM w""";

    /**
     * Locks the agents' rows in id order, creating rows and accounts on first use. One statement
     * for any number of agents, the same order every other transaction uses: the rows that exist
     * are locked first (FOR UPDATE, in id order), then the missing ones are inserted in id order.
     * An agent whose row another transaction is inserting right now is missing from this
     * statement's snapshot: its insert waits for that transaction and locks the row it committed.
     * Existing rows are only locked, not updated: an upsert (ON CONFLICT DO UPDATE) would write a
     * new version of every agent's row, and the transaction updates the row once anyway.
     */
    Uni<Void> lockAgents(Map<String, String> currencyByAgent) {
        TreeMap<String, String> wanted = new TreeMap<>(currencyByAgent);
        wanted.keySet().removeAll(agents.keySet());
        if (wanted.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        String[] ids = wanted.keySet().toArray(String[]::new);
        String[] currencies = wanted.values().toArray(String[]::new);
        return conn.preparedQuery(LOCK_AGENTS)
                .execute(Tuple.tuple().addArrayOfString(ids).addArrayOfString(currencies))
                .chain(rows -> {
                    List<Tuple> accounts = new ArrayList<>();
                    for (Row r : rows) {
                        AgentRow a = new AgentRow(r.getString("agent_id"), r.getString("currency_code"),
                                r.getLong("balance_micros"), r.getLong("held_micros"), r.getInteger("open_holds"));
                        agents.put(a.agentId, a);
                        if (r.getBoolean("inserted")) {
                            accounts.add(Tuple.of(Accounts.agent(a.agentId), a.agentId, a.currency,
                                    Accounts.funding(a.currency), Accounts.vendor(a.currency)));
                        }
                    }
                    if (accounts.isEmpty()) {
                        return Uni.createFrom().voidItem();
                    }
                    return conn.preparedQuery("""
                                    INSERT INTO ledger.accounts (account_id, kind, owner_id, currency_code) VALUES
                                    ($1, 'AGENT', $2, $3), ($4, 'FUNDING', 'funding', $3), ($5, 'VENDOR', 'vendor', $3)
                                    ON CONFLICT (account_id) DO NOTHING""")
                            .executeBatch(accounts)
                            .replaceWithVoid();
                });
    }

    /**
     * Locks the teams' rows in id order (after every agent row), in one statement. A team's counters
     * must not have been read by this transaction before: counters are read once, so a decision
     * would judge the team by a read from before its lock and miss what a teammate committed
     * meanwhile (a HARD cap overrun). Requested is what counts: pipelined statements run in the
     * order they were requested.
     */
    Uni<Void> lockTeams(Collection<String> teamIds) {
        String[] ids = new java.util.TreeSet<>(teamIds).stream()
                .filter(t -> t != null && !t.isEmpty() && lockedTeams.add(t)).toArray(String[]::new);
        if (ids.length == 0) {
            return Uni.createFrom().voidItem();
        }
        if (!requested.isEmpty()) {
            java.util.Set<String> locking = java.util.Set.of(ids);
            for (CounterKey k : requested) {
                if (locking.contains(k.scopeId())) {
                    throw new IllegalStateException("team " + k.scopeId() + "'s counter " + k
                            + " was read before the team's lock");
                }
            }
        }
        return conn.preparedQuery("""
                        INSERT INTO ledger.team_state (team_id)
                        SELECT t FROM unnest($1::text[]) AS u(t) ORDER BY t
                        ON CONFLICT (team_id) DO UPDATE SET team_id = EXCLUDED.team_id""")
                .execute(Tuple.tuple().addArrayOfString(ids)).replaceWithVoid();
    }

    AgentRow agent(String agentId) {
        AgentRow a = agents.get(agentId);
        if (a == null) {
            throw new IllegalStateException("agent " + agentId + " is not locked by this transaction");
        }
        return a;
    }

    /** Reads counters (current values plus what this transaction already changed). */
    Uni<Void> loadCounters(Collection<CounterKey> keys) {
        // each counter is read once, by the first request for it: a later read would be a later
        // snapshot, and this transaction's own changes are kept apart from what it read
        List<CounterKey> missing = keys.stream().filter(requested::add).toList();
        if (missing.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return CounterStore.read(conn, missing).invoke(r -> {
            loaded.putAll(r.usage());
            windowRowsRead.putAll(r.rows());
            bucketsFound.addAll(r.storedBuckets());
        }).replaceWithVoid();
    }

    /** The usage of a loaded counter, including this transaction's pending changes. */
    Usage usage(CounterKey key) {
        Usage base = loaded.get(key);
        if (base == null) {
            throw new IllegalStateException("counter " + key + " was not loaded");
        }
        long[] d = counterDeltas.get(key);
        if (d == null) {
            return base;
        }
        return new Usage(Money.add(base.spent(), d[0], "a spend counter"), Money.add(base.held(), d[1], "a hold counter"));
    }

    /**
     * Before a decision for {@code view} that reads {@code tool}'s counters: each window row of the
     * tool that a cap of {@code view} reads counts every payment of the tool, or this throws
     * {@link ToolNotCounted} (nothing is decided yet: the caller makes the rows complete, see
     * {@link ToolCounters}, and runs again). The rows must have been read by this transaction.
     */
    void requireCounted(dev.agentspend.ledger.domain.PolicyView view, String tool) {
        for (String scope : view.toolRowScopes(tool)) {
            CounterStore.RowRead row = windowRowsRead.get(new CounterStore.Group(scope, tool));
            if (row == null) {
                throw new IllegalStateException("the window row of " + scope + " and " + tool + " was not read");
            }
            if (!row.complete()) {
                throw new ToolNotCounted(view, tool);
            }
        }
    }

    /**
     * The counters a payment's spend adds to, of {@code keys} (a payment's, all read by this
     * transaction): all but those of a tool's window row that does not count every payment of the
     * tool (see {@link dev.agentspend.ledger.domain.PolicyView#toolRowScopes}). Holds, captures,
     * releases and expiries add to every key: held amounts are exact in every row.
     */
    List<CounterKey> countedKeys(List<CounterKey> keys) {
        List<CounterKey> counted = null;
        // a payment's keys come a row at a time (CounterKey.forPayment): one lookup per row
        CounterStore.Group group = null;
        boolean groupCounts = true;
        for (int i = 0; i < keys.size(); i++) {
            CounterKey k = keys.get(i);
            boolean counts = true;
            if (!k.tool().isEmpty() && k.window().isCalendarOrLifetime()) {
                if (group == null || !group.scopeId().equals(k.scopeId()) || !group.tool().equals(k.tool())) {
                    group = CounterStore.Group.of(k);
                    CounterStore.RowRead row = windowRowsRead.get(group);
                    if (row == null) {
                        throw new IllegalStateException("counter " + k + " was not read");
                    }
                    groupCounts = row.counts(k.tool());
                }
                counts = groupCounts;
            }
            if (!counts && counted == null) {
                counted = new ArrayList<>(keys.subList(0, i));
            } else if (counts && counted != null) {
                counted.add(k);
            }
        }
        return counted == null ? keys : counted;
    }

    /** Adds to counters: spent and held deltas (negative to release). */
    void addToCounters(Collection<CounterKey> keys, long spentDelta, long heldDelta) {
        for (CounterKey k : keys) {
            long[] d = counterDeltas.computeIfAbsent(k, x -> new long[2]);
            d[0] = Money.add(d[0], spentDelta, "a spend counter");
            d[1] = Money.add(d[1], heldDelta, "a hold counter");
        }
    }

    void recordHardLimits(Map<CounterKey, Long> limits) {
        limits.forEach((k, v) -> hardLimits.merge(k, v, Math::min));
    }

    /** Money moved by one entry, written in the entry's row (both legs: from pays, to receives). */
    record Transfer(String fromAccount, String toAccount, long amountMicros) {
    }

    /**
     * Records that entry {@code e} moves {@code amountMicros} of its currency from one account to
     * another. One transfer per entry; the legs are -amount and +amount, so they sum to zero by
     * construction.
     */
    void transfer(Entry.Builder e, String currency, String fromAccount, String toAccount, long amountMicros) {
        if (amountMicros <= 0 || fromAccount.equals(toAccount)) {
            throw new IllegalStateException("transfer " + e.getEntryId() + " of " + amountMicros + " from "
                    + fromAccount + " to " + toAccount + ": the amount must be positive and the accounts differ");
        }
        if (!currency.equals(e.getCurrencyCode())) {
            throw new IllegalStateException("transfer " + e.getEntryId() + " in " + currency
                    + " but its entry is in " + e.getCurrencyCode());
        }
        if (transfers.putIfAbsent(e.getEntryId(), new Transfer(fromAccount, toAccount, amountMicros)) != null) {
            throw new IllegalStateException("entry " + e.getEntryId() + " already has a transfer");
        }
    }

    /**
     * Who may replay a call: the key its stored response is found by, the request's fingerprint, the
     * method, and the response's fields after its entry (field 1, which the idempotency row refers to
     * by position: {@code ledger.stored_responses}): empty where the response is the entry alone (Pay,
     * CompleteTask, Credit, PayAgent, Reverse), the hold (field 2) for Hold, Capture and Release.
     * Serialized fields concatenated are the message with both, and fields are serialized in number
     * order, so entry bytes then these are the bytes of the whole response.
     */
    record StoredResponse(String caller, String requestId, byte[] fingerprint, String method, byte[] fieldsAfterEntry) {
    }

    /**
     * Stores entry {@code e}'s response, a message whose only field is the entry (field 1), for
     * replays of {@code caller}'s {@code requestId}: its idempotency row is written with the entry and
     * refers to it by position, known only there ({@code ledger.stored_responses} rebuilds the bytes
     * for a replay). The entry must be queued here.
     */
    void storeEntryResponse(Entry.Builder e, String caller, String requestId, byte[] fingerprint, String method) {
        storeResponse(e, caller, requestId, fingerprint, method, new byte[0]);
    }

    /**
     * The same for a response with more fields than its entry: {@code fieldsAfterEntry} serialized.
     *
     * <p>A decline for POLICY_UNAVAILABLE is recorded (its entry) but not stored as the request's
     * answer: it says the ledger could not decide (identity's policy feed went quiet), not what the
     * request is worth, so a retry with the same request_id once the feed is back is decided then,
     * as a retry after an UNAVAILABLE status would be. Stored, it was the answer to that request_id
     * for the whole retention.
     */
    void storeResponse(Entry.Builder e, String caller, String requestId, byte[] fingerprint, String method,
                       byte[] fieldsAfterEntry) {
        if (e.getDeclineReason() == DeclineReason.DECLINE_REASON_POLICY_UNAVAILABLE) {
            return;
        }
        if (storedResponses.putIfAbsent(e.getEntryId(),
                new StoredResponse(caller, requestId, fingerprint, method, fieldsAfterEntry)) != null) {
            throw new IllegalStateException("entry " + e.getEntryId() + " already has a stored response");
        }
    }

    /** A completed task's row (ledger.tasks), written with the agent rows and counters. */
    private record TaskRow(String agentId, String taskId, int outcome, String entryId) {
    }

    /**
     * Queues the row that marks {@code agentId}'s task completed by entry {@code entryId}. The caller
     * holds the agent's lock and has checked that the task is not completed yet: the row is inserted
     * without a conflict clause, so a second completion fails the transaction rather than vanish.
     */
    void completeTask(String agentId, String taskId, int outcome, String entryId) {
        taskRows.add(new TaskRow(agentId, taskId, outcome, entryId));
    }

    /** Queues an entry; its id is assigned now, its position at flush. */
    Entry.Builder entry(EventType type, String agentId, String teamId) {
        Entry.Builder e = Entry.newBuilder()
                // time-ordered: the unique index on entry ids grows at its end (see Ids)
                .setEntryId(Ids.newTimeOrderedId("ent", now.toEpochMilli()))
                .setEventType(type)
                .setAgentId(agentId)
                .setTeamId(teamId == null ? "" : teamId)
                .setDecision(Decision.DECISION_APPROVED)
                .setRecordedTime(timestamp(now));
        entries.add(e);
        return e;
    }

    boolean hasEntries() {
        return !entries.isEmpty();
    }

    /** The agent rows and counters queued so far (everything but the entries), pipelined; checked when they answer. */
    Uni<Void> flushState() {
        return all(stateWrites().statements());
    }

    /**
     * Writes the agent rows, counters and task rows, then the entries, and commits. Every write is
     * checked inside its statement (ledger.require_rows, migration V9) except those of counter rows
     * that move to a new bucket or are created, which this service checks from their answers: then
     * the entries and COMMIT wait for those answers. Otherwise everything goes out at once: the
     * answers come back while the next batch is already reading. {@code sent} runs once the entries
     * and COMMIT are on their way.
     */
    Uni<Void> flushAndCommit(Runnable sent) {
        return Uni.createFrom().deferred(() -> {
            StateWrites state = stateWrites();
            if (state.answersToCheck() || entries.isEmpty()) {
                return all(state.statements()).chain(() -> {
                    Uni<Void> commit = writeEntriesAndCommit();
                    sent.run();
                    return commit;
                });
            }
            Uni<Void> everything = firstFailure(all(state.statements()), writeEntriesAndCommit());
            sent.run();
            return everything;
        });
    }

    /**
     * The statements writing the agent rows, counters and task rows (none sent before subscribed);
     * {@code answersToCheck}: some must answer, and their answers be checked, before COMMIT goes.
     */
    private record StateWrites(List<Uni<Void>> statements, boolean answersToCheck) {
    }

    private StateWrites stateWrites() {
        List<Uni<Void>> writes = new ArrayList<>();
        boolean answersToCheck = false;
        List<AgentRow> dirty = agents.values().stream().filter(a -> a.dirty).toList();
        if (!dirty.isEmpty()) {
            checkedWrites++;
            writes.add(conn.preparedQuery(UPDATE_AGENTS)
                    .execute(Tuple.tuple()
                            .addArrayOfString(dirty.stream().map(a -> a.agentId).toArray(String[]::new))
                            .addArrayOfLong(dirty.stream().map(a -> a.balance).toArray(Long[]::new))
                            .addArrayOfLong(dirty.stream().map(a -> a.held).toArray(Long[]::new))
                            .addArrayOfInteger(dirty.stream().map(a -> a.openHolds).toArray(Integer[]::new))
                            .addLong((long) dirty.size()))
                    .replaceWithVoid());
        }
        if (!counterDeltas.isEmpty()) {
            CounterStore.Write counters = CounterStore.write(conn, counterDeltas, hardLimits, settledWindowRows(), settledBuckets());
            checkedWrites += counters.checkedWrites();
            answersToCheck = counters.answersToCheck();
            writes.add(counters.statements());
        }
        if (!taskRows.isEmpty()) {
            checkedWrites++;
            writes.add(conn.preparedQuery("""
                            WITH w AS (
                              INSERT INTO ledger.tasks (agent_id, task_id, outcome, entry_id)
                              SELECT * FROM unnest($1::text[], $2::text[], $3::smallint[], $4::text[]) RETURNING 1)
                            SELECT ledger.require_rows(count(*), $5, 'completed task rows') FROM w""")
                    .execute(Tuple.tuple()
                            .addArrayOfString(taskRows.stream().map(TaskRow::agentId).toArray(String[]::new))
                            .addArrayOfString(taskRows.stream().map(TaskRow::taskId).toArray(String[]::new))
                            .addArrayOfShort(taskRows.stream().map(t -> (short) t.outcome()).toArray(Short[]::new))
                            .addArrayOfString(taskRows.stream().map(TaskRow::entryId).toArray(String[]::new))
                            .addLong((long) taskRows.size()))
                    .replaceWithVoid());
            taskRows.clear();
        }
        return new StateWrites(writes, answersToCheck);
    }

    private static Uni<Void> all(List<Uni<Void>> writes) {
        if (writes.isEmpty()) {
            return Uni.createFrom().voidItem();
        }
        return Uni.combine().all().unis(writes).discardItems();
    }

    /**
     * Subscribes to both in order (pipelined on the connection) and fails with the first failure in
     * that order: the one that aborted the transaction, not a later statement's "transaction is aborted".
     */
    private static Uni<Void> firstFailure(Uni<Void> first, Uni<Void> second) {
        return Uni.combine().all().unis(first, second).collectFailures().discardItems()
                .onFailure(io.smallrye.mutiny.CompositeException.class)
                .transform(t -> ((io.smallrye.mutiny.CompositeException) t).getCauses().get(0));
    }

    // A transaction this class runs itself, for group commit: BEGIN goes out with the first
    // statements and COMMIT right behind the entries, where Vert.x's Transaction waits for every
    // statement's answer before sending either. Not for a connection inside withTransaction.

    /** BEGIN, to be sent pipelined ahead of the transaction's first statements. */
    Uni<Void> begin() {
        return conn.query("BEGIN").execute().replaceWithVoid();
    }

    /**
     * Commits, the entries (feed position lock) sent with the COMMIT: the lock is held for
     * PostgreSQL's work and the commit's WAL flush, not for a round trip to this service. Call
     * after {@link #stateWrites} (see {@link #flushAndCommit}). Fails if anything did not commit;
     * then {@link #rollback} ends the transaction.
     */
    private Uni<Void> writeEntriesAndCommit() {
        if (entries.isEmpty()) {
            return conn.query("COMMIT").execute().replaceWithVoid();
        }
        String lastEntry = entries.get(entries.size() - 1).getEntryId();
        // it goes into the COMMIT query's text
        if (!Ids.isWellFormed(lastEntry, "ent")) {
            throw new IllegalStateException("entry id " + lastEntry + " is not one this service makes");
        }
        Uni<Void> insert = insertEntries();
        // A statement the client refuses before sending it (a parameter that does not fit) fails
        // here and the connection sends the next one: COMMIT alone would then keep the balances
        // and counters without their entries, or entries without their balances. require_written
        // fails the transaction unless the entries statement and every checked write ran, and in
        // one simple query an error skips the COMMIT after it.
        Uni<Void> commit = conn.query("SELECT ledger.require_written('" + lastEntry + "', " + checkedWrites + "); COMMIT")
                .execute().replaceWithVoid();
        return firstFailure(insert, commit).invoke(() -> committed = true);
    }

    /**
     * The entries this transaction committed, in position order, with the payload bytes written:
     * what the feed reads back from ledger.entries. Only after {@link #flushAndCommit} succeeded.
     */
    List<FeedEntry> committedEntries() {
        if (!entries.isEmpty() && !committed) {
            throw new IllegalStateException("the entries of a transaction that did not commit are not the feed's");
        }
        return written;
    }

    /**
     * Ends a failed transaction. A connection already gone has nothing to end (the pool drops it);
     * after a COMMIT that ran, PostgreSQL only warns that no transaction is in progress.
     */
    Uni<Void> rollback() {
        return conn.query("ROLLBACK").execute().replaceWithVoid().onFailure().recoverWithUni(t -> {
            LOG.warnf("ROLLBACK of a failed batch failed (%s)", t.toString());
            return Uni.createFrom().voidItem();
        });
    }

    /**
     * The window rows read by this transaction that nobody else can change before it commits: an
     * agent's own rows (scope = the agent), written only under the agent's row lock, which this
     * transaction holds. Team rows are not: another agent's expiring hold releases a team's counters
     * without the team's lock. Used once: the rows as read are stale after this transaction writes.
     */
    private Map<CounterStore.Group, CounterStore.RowRead> settledWindowRows() {
        Map<CounterStore.Group, CounterStore.RowRead> settled = new HashMap<>();
        windowRowsRead.forEach((g, row) -> {
            if (agents.containsKey(g.scopeId())) {
                settled.put(g, row);
            }
        });
        windowRowsRead.clear();
        return settled;
    }

    /** The same for task buckets (ledger.counters rows) the reads found: the agents' own. */
    private java.util.Set<CounterKey> settledBuckets() {
        java.util.Set<CounterKey> settled = new java.util.HashSet<>();
        for (CounterKey k : bucketsFound) {
            if (agents.containsKey(k.scopeId())) {
                settled.add(k);
            }
        }
        bucketsFound.clear();
        return settled;
    }

    private Uni<Void> insertEntries() {
        int n = entries.size();
        String[] ids = new String[n];
        Integer[] types = new Integer[n];
        String[] agentIds = new String[n];
        String[] teams = new String[n];
        String[] tools = new String[n];
        String[] tasks = new String[n];
        Integer[] decisions = new Integer[n];
        Long[] amounts = new Long[n];
        Long[] spends = new Long[n];
        String[] currencies = new String[n];
        String[] holds = new String[n];
        String[] reversed = new String[n];
        io.vertx.core.buffer.Buffer[] payloads = new io.vertx.core.buffer.Buffer[n];
        byte[][] payloadBytes = new byte[n][];
        // null where an entry moves no money
        String[] fromAccounts = new String[n];
        String[] toAccounts = new String[n];
        Long[] transferAmounts = new Long[n];
        int transfersWritten = 0;
        int replays = 0;
        String[] replayEntries = new String[storedResponses.size()];
        String[] replayCallers = new String[storedResponses.size()];
        String[] replayRequestIds = new String[storedResponses.size()];
        io.vertx.core.buffer.Buffer[] replayFingerprints = new io.vertx.core.buffer.Buffer[storedResponses.size()];
        String[] replayMethods = new String[storedResponses.size()];
        io.vertx.core.buffer.Buffer[] replaySuffixes = new io.vertx.core.buffer.Buffer[storedResponses.size()];
        for (int i = 0; i < n; i++) {
            Entry.Builder e = entries.get(i);
            ids[i] = e.getEntryId();
            types[i] = e.getEventTypeValue();
            agentIds[i] = e.getAgentId();
            teams[i] = e.getTeamId();
            tools[i] = e.getTool();
            tasks[i] = e.getTaskId();
            decisions[i] = e.getDecisionValue();
            amounts[i] = e.getAmountMicros();
            spends[i] = e.getSpendMicros();
            currencies[i] = e.getCurrencyCode();
            holds[i] = e.getHoldId();
            reversed[i] = e.getReversedEntryId();
            payloadBytes[i] = e.clearPosition().build().toByteArray();
            payloads[i] = io.vertx.core.buffer.Buffer.buffer(payloadBytes[i]);
            Transfer t = transfers.get(ids[i]);
            if (t != null) {
                fromAccounts[i] = t.fromAccount();
                toAccounts[i] = t.toAccount();
                transferAmounts[i] = t.amountMicros();
                transfersWritten++;
            }
            StoredResponse replay = storedResponses.get(ids[i]);
            if (replay != null) {
                replayEntries[replays] = ids[i];
                replayCallers[replays] = replay.caller();
                replayRequestIds[replays] = replay.requestId();
                replayFingerprints[replays] = io.vertx.core.buffer.Buffer.buffer(replay.fingerprint());
                replayMethods[replays] = replay.method();
                replaySuffixes[replays] = io.vertx.core.buffer.Buffer.buffer(replay.fieldsAfterEntry());
                replays++;
            }
        }
        if (transfersWritten != transfers.size()) {
            throw new IllegalStateException((transfers.size() - transfersWritten) + " transfers for entries not queued");
        }
        if (replays != storedResponses.size()) {
            throw new IllegalStateException((storedResponses.size() - replays) + " stored responses for entries not queued");
        }
        OffsetDateTime recorded = OffsetDateTime.ofInstant(now, ZoneOffset.UTC);
        // The UPDATE of the single feed_position row is the serialization point: its lock is held
        // until commit, so positions are handed out in commit order (no outbox gap). The idempotency
        // rows take their entries' positions in the same statement: no round trip to this service and
        // back while the lock is held.
        Tuple args = entryArgs(n, ids, types, agentIds, teams, tools, tasks, decisions, amounts, spends, currencies,
                holds, reversed, payloads, recorded).addArrayOfString(fromAccounts).addArrayOfString(toAccounts)
                .addArrayOfLong(transferAmounts).addArrayOfString(replayEntries).addArrayOfString(replayCallers)
                .addArrayOfString(replayRequestIds);
        args.getDelegate().addArrayOfBuffer(replayFingerprints);
        args.addArrayOfString(replayMethods);
        args.getDelegate().addArrayOfBuffer(replaySuffixes);
        return conn.preparedQuery("""
                        WITH p AS (
                          UPDATE ledger.feed_position SET last_position = last_position + $1 WHERE id = 1
                          RETURNING last_position - $1 AS base),
                        e AS (
                          INSERT INTO ledger.entries (position, entry_id, event_type, agent_id, team_id, tool, task_id,
                              decision, amount_micros, spend_micros, currency_code, hold_id, reversed_entry_id,
                              recorded_time, payload, from_account_id, to_account_id, transfer_micros)
                          SELECT p.base + u.ord, u.entry_id, u.event_type, u.agent_id, u.team_id, u.tool, u.task_id,
                                 u.decision, u.amount, u.spend, u.currency, u.hold_id, u.reversed, $15,
                                 u.payload, u.from_account, u.to_account, u.transfer
                          FROM p, unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[],
                                         $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::bytea[],
                                         $16::text[], $17::text[], $18::bigint[])
                               WITH ORDINALITY AS u(entry_id, event_type, agent_id, team_id, tool, task_id, decision,
                                                    amount, spend, currency, hold_id, reversed, payload,
                                                    from_account, to_account, transfer, ord)
                          RETURNING position, entry_id),
                        r AS (
                          INSERT INTO ledger.idempotency (caller, request_id, method, fingerprint, entry_position,
                              response_suffix)
                          SELECT k.caller, k.request_id, k.method, k.fingerprint, e.position,
                                 NULLIF(k.after_entry, '\\x'::bytea)
                          FROM unnest($19::text[], $20::text[], $21::text[], $22::bytea[], $23::text[], $24::bytea[])
                               AS k(entry_id, caller, request_id, fingerprint, method, after_entry)
                          JOIN e ON e.entry_id = k.entry_id)
                        SELECT position, entry_id FROM e""")
                .execute(args)
                .invoke(rows -> {
                    Map<String, Long> positions = new HashMap<>();
                    for (Row r : rows) {
                        positions.put(r.getString("entry_id"), r.getLong("position"));
                    }
                    FeedEntry[] feed = new FeedEntry[n];
                    for (int i = 0; i < n; i++) {
                        long position = positions.get(ids[i]);
                        entries.get(i).setPosition(position);
                        feed[i] = FeedEntry.of(position, payloadBytes[i]);
                    }
                    // in position order, whatever order RETURNING gave the rows in
                    java.util.Arrays.sort(feed, java.util.Comparator.comparingLong(FeedEntry::position));
                    written = List.of(feed);
                })
                .replaceWithVoid();
    }

    /** Payloads go as bytea[] in binary: no base64 to encode here and decode in PostgreSQL. */
    private static Tuple entryArgs(int n, String[] ids, Integer[] types, String[] agentIds, String[] teams, String[] tools,
                                   String[] tasks, Integer[] decisions, Long[] amounts, Long[] spends, String[] currencies,
                                   String[] holds, String[] reversed, io.vertx.core.buffer.Buffer[] payloads,
                                   OffsetDateTime recorded) {
        Tuple t = Tuple.tuple().addInteger(n).addArrayOfString(ids).addArrayOfInteger(types)
                .addArrayOfString(agentIds).addArrayOfString(teams).addArrayOfString(tools)
                .addArrayOfString(tasks).addArrayOfInteger(decisions).addArrayOfLong(amounts)
                .addArrayOfLong(spends).addArrayOfString(currencies).addArrayOfString(holds)
                .addArrayOfString(reversed);
        t.getDelegate().addArrayOfBuffer(payloads);
        return t.addOffsetDateTime(recorded);
    }

    static Timestamp timestamp(Instant t) {
        return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }

    static Instant instant(Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    }

    static ApiException failedPrecondition(String reason, String message) {
        return ApiException.of(ErrorCode.FAILED_PRECONDITION, reason, message);
    }
}
