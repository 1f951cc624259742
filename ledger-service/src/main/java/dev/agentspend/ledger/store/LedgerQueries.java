package dev.agentspend.ledger.store;

import dev.agentspend.common.api.PageTokens;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.ledger.config.LedgerConfig;
import dev.agentspend.ledger.domain.CapRule;
import dev.agentspend.ledger.domain.CounterKey;
import dev.agentspend.ledger.domain.PolicyView;
import dev.agentspend.ledger.domain.Scope;
import dev.agentspend.ledger.domain.Usage;
import dev.agentspend.ledger.domain.Window;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.ledger.v1.CapStatus;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.GetBalanceResponse;
import dev.agentspend.proto.ledger.v1.LedgerViolation;
import dev.agentspend.proto.ledger.v1.ListEntriesRequest;
import dev.agentspend.proto.ledger.v1.ListEntriesResponse;
import dev.agentspend.proto.ledger.v1.VerifyLedgerResponse;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Multi;
import jakarta.annotation.PostConstruct;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** The ledger's reads: balances and headroom, entry listings, verification and the entry feed. */
@ApplicationScoped
public class LedgerQueries {
    private static final org.jboss.logging.Logger LOG = org.jboss.logging.Logger.getLogger(LedgerQueries.class);
    private static final String PAGE_KIND = "entries";
    private final AtomicInteger activeStreams = new AtomicInteger();

    @Inject
    Pool pool;

    @Inject
    InstantSource clock;

    @Inject
    FeedNotifier notifier;

    @Inject
    LedgerStore store;

    @Inject
    LedgerConfig config;

    @Inject
    ToolCounters toolCounters;

    @Inject
    MeterRegistry registry;

    private Counter pagesFromMemory;
    private Counter pagesFromDatabase;

    @PostConstruct
    void registerMeters() {
        registry.gauge("agentspend.ledger.stream.subscribers", activeStreams);
        pagesFromMemory = registry.counter("agentspend.ledger.stream.reads", "source", "memory");
        pagesFromDatabase = registry.counter("agentspend.ledger.stream.reads", "source", "database");
    }

    /**
     * Balance, holds and headroom of every cap in its current window. Overdue holds are released
     * first (as the sweeper would), so the figures never include an expired hold.
     */
    public Uni<GetBalanceResponse> balance(PolicyView p, boolean fresh, String taskId) {
        Instant now = clock.instant();
        return pool.preparedQuery("SELECT 1 FROM ledger.holds WHERE agent_id = $1 AND status = 1 AND expire_time <= $2 LIMIT 1")
                .execute(Tuple.of(p.agentId(), LedgerStore.odt(now)))
                .chain(rows -> rows.iterator().hasNext() ? store.expireAgent(p.agentId(), p.currency()) : Uni.createFrom().voidItem())
                .chain(() -> pool.preparedQuery("SELECT balance_micros, held_micros, open_holds FROM ledger.agent_state WHERE agent_id = $1")
                        .execute(Tuple.of(p.agentId())))
                .chain(rows -> {
                    long balance = 0;
                    long held = 0;
                    int open = 0;
                    if (rows.iterator().hasNext()) {
                        Row r = rows.iterator().next();
                        balance = r.getLong("balance_micros");
                        held = r.getLong("held_micros");
                        open = r.getInteger("open_holds");
                    }
                    GetBalanceResponse.Builder out = GetBalanceResponse.newBuilder()
                            .setAgentId(p.agentId()).setTeamId(p.teamId()).setCurrencyCode(p.currency())
                            .setBalanceMicros(balance).setHeldMicros(held).setAvailableMicros(balance - held)
                            .setOpenHolds(open).setReadTime(Tx.timestamp(now)).setPolicyFresh(fresh);
                    List<CapRule> caps = new ArrayList<>(p.enforcedCaps());
                    if (p.sandbox()) {
                        caps.add(0, new CapRule(Scope.SANDBOX, Window.LIFETIME, p.sandboxCeiling(), true, "", 0, null));
                    }
                    List<CounterKey> keys = new ArrayList<>();
                    for (CapRule c : caps) {
                        CounterKey k = CounterKey.forCap(c, p.scopeId(c.scope()), taskId, now);
                        if (k != null) {
                            keys.add(k);
                        }
                    }
                    return counters(p, keys).map(usage -> {
                        for (CapRule c : caps) {
                            if (c.window() == Window.TASK && (taskId == null || taskId.isEmpty())) {
                                continue;
                            }
                            long limit = c.effectiveLimit(now);
                            CapStatus.Builder s = CapStatus.newBuilder().setScope(Protos.scope(c.scope()))
                                    .setWindow(Protos.window(c.window()))
                                    .setEnforcement(c.hard() ? CapEnforcement.CAP_ENFORCEMENT_HARD : CapEnforcement.CAP_ENFORCEMENT_SOFT)
                                    .setTool(c.tool()).setLimitMicros(limit);
                            if (c.window() == Window.PAYMENT) {
                                s.setHeadroomMicros(limit);
                            } else {
                                Usage u = usage.getOrDefault(CounterKey.forCap(c, p.scopeId(c.scope()), taskId, now), Usage.ZERO);
                                s.setSpentMicros(u.spent()).setHeldMicros(u.held())
                                        .setHeadroomMicros(Math.max(0, limit - u.spent() - u.held()));
                            }
                            if (c.window().isCalendar()) {
                                s.setWindowStartTime(Tx.timestamp(c.window().start(now)))
                                        .setWindowEndTime(Tx.timestamp(c.window().end(now)));
                            }
                            if (c.window() == Window.TASK) {
                                s.setTaskId(taskId);
                            }
                            out.addCaps(s);
                        }
                        return out.build();
                    });
                });
    }

    /** The synchronous_commit setting of the ledger's connections (expected: on). */
    public Uni<String> synchronousCommit() {
        return pool.query("SHOW synchronous_commit").execute().map(rows -> rows.iterator().next().getString(0));
    }

    /**
     * The usage of the caps' counters. A cap's tool counters that do not count every payment of
     * the tool yet (no decision has read them since the cap was set) are made to first, as the
     * next decision would, so the figures are those that decision will see.
     */
    private Uni<Map<CounterKey, Usage>> counters(PolicyView p, List<CounterKey> keys) {
        return CounterStore.read(pool, keys).chain(read -> {
            java.util.Set<String> uncounted = new java.util.TreeSet<>();
            for (CounterKey k : keys) {
                CounterStore.RowRead row = read.rows().get(CounterStore.Group.of(k));
                if (row != null && !row.counts(k.tool())) {
                    uncounted.add(k.tool());
                }
            }
            if (uncounted.isEmpty()) {
                return Uni.createFrom().item(read.usage());
            }
            Uni<Void> seeds = Uni.createFrom().voidItem();
            for (String tool : uncounted) {
                seeds = seeds.chain(() -> toolCounters.seed(p, tool));
            }
            return seeds.chain(() -> CounterStore.read(pool, keys)).map(CounterStore.Read::usage);
        });
    }

    /** Entries in position order, filtered; the page token carries the last position returned. */
    public Uni<ListEntriesResponse> list(ListEntriesRequest req) {
        int size = req.getPageSize() == 0 ? 100 : req.getPageSize();
        long after = 0;
        if (!req.getPageToken().isEmpty()) {
            after = PageTokens.decode(PAGE_KIND, req.getPageToken()).flatMap(LedgerQueries::parseLong)
                    .orElseThrow(() -> ApiException.invalid("page_token", "not a page token of ListEntries; pass the next_page_token of the previous page"));
        }
        StringBuilder sql = new StringBuilder("SELECT position, payload FROM ledger.entries WHERE position > $1");
        Tuple args = Tuple.tuple().addLong(after);
        int n = 1;
        if (!req.getAgentId().isEmpty()) {
            sql.append(" AND agent_id = $").append(++n);
            args.addString(req.getAgentId());
        }
        if (!req.getTeamId().isEmpty()) {
            sql.append(" AND team_id = $").append(++n);
            args.addString(req.getTeamId());
        }
        if (!req.getTool().isEmpty()) {
            sql.append(" AND tool = $").append(++n);
            args.addString(req.getTool());
        }
        if (!req.getTaskId().isEmpty()) {
            sql.append(" AND task_id = $").append(++n);
            args.addString(req.getTaskId());
        }
        if (req.hasStartTime()) {
            sql.append(" AND recorded_time >= $").append(++n);
            args.addOffsetDateTime(LedgerStore.odt(Tx.instant(req.getStartTime())));
        }
        if (req.hasEndTime()) {
            sql.append(" AND recorded_time < $").append(++n);
            args.addOffsetDateTime(LedgerStore.odt(Tx.instant(req.getEndTime())));
        }
        if (req.getDecisionValue() != 0) {
            sql.append(" AND decision = $").append(++n);
            args.addInteger(req.getDecisionValue());
        }
        if (req.getEventTypesCount() > 0) {
            sql.append(" AND event_type = ANY($").append(++n).append("::int[])");
            args.addArrayOfInteger(req.getEventTypesValueList().toArray(Integer[]::new));
        }
        sql.append(" ORDER BY position LIMIT $").append(++n);
        args.addInteger(size + 1);
        return pool.preparedQuery(sql.toString()).execute(args).map(rows -> {
            List<Entry> entries = LedgerStore.entries(rows);
            ListEntriesResponse.Builder out = ListEntriesResponse.newBuilder();
            if (entries.size() > size) {
                entries = entries.subList(0, size);
                out.setNextPageToken(PageTokens.encode(PAGE_KIND, Long.toString(entries.get(size - 1).getPosition())));
            }
            return out.addAllEntries(entries).build();
        });
    }

    private static java.util.Optional<Long> parseLong(String s) {
        try {
            return java.util.Optional.of(Long.parseLong(s));
        } catch (NumberFormatException e) {
            return java.util.Optional.empty();
        }
    }

    /** The feed's head: the last position handed out (0 before the first entry). */
    public Uni<Long> head() {
        return pool.preparedQuery("SELECT last_position FROM ledger.feed_position WHERE id = 1")
                .execute()
                .map(rows -> rows.iterator().next().getLong("last_position"));
    }

    /** Consecutive empty range reads of a feed subscription after which it reads past a gap. */
    static final int EMPTY_READS_BEFORE_OPEN_READ = 10;

    /**
     * The entry feed after {@code afterPosition}: pages from the entries this replica committed last
     * ({@link FeedTail}) when it holds them, else from the database; when caught up, waits
     * for a local commit or the poll interval, then reads again; ends when the subscriber cancels.
     * A page shorter than a full one was read caught up: the next read waits for a commit after the
     * read began (counted by the notifier, so one that came during the read is not missed) instead of
     * finding nothing first; under load that was every other read of every subscription.
     * Positions are assigned in commit order without gaps, so reading the next {@code stream-batch-size}
     * positions after the last seen never skips.
     * Each item is one non-empty page, in position order (at most {@code stream-batch-size}).
     */
    public Multi<List<FeedEntry>> pages(long afterPosition) {
        AtomicLong last = new AtomicLong(afterPosition);
        AtomicInteger emptyReads = new AtomicInteger();
        AtomicBoolean counted = new AtomicBoolean();
        int batch = config.ledger().streamBatchSize();
        Duration poll = config.ledger().streamPollInterval();
        AtomicLong caughtUpAtSignals = new AtomicLong(NOT_CAUGHT_UP);
        return Multi.createBy().repeating()
                .uni(() -> {
                    long caughtUp = caughtUpAtSignals.getAndSet(NOT_CAUGHT_UP);
                    Uni<Void> ready = caughtUp == NOT_CAUGHT_UP ? Uni.createFrom().voidItem() : notifier.awaitAfter(caughtUp, poll);
                    return ready.chain(() -> nextPage(last, emptyReads, caughtUpAtSignals, batch, poll));
                })
                .indefinitely()
                .select().where(page -> !page.isEmpty())
                .onSubscription().invoke(() -> {
                    counted.set(true);
                    activeStreams.incrementAndGet();
                })
                .onTermination().invoke(() -> {
                    if (counted.getAndSet(false)) {
                        activeStreams.decrementAndGet();
                    }
                });
    }

    private static final long NOT_CAUGHT_UP = -1;

    /** Reads the page after {@code last}; an empty read waits for a commit or the poll interval before it completes. */
    private Uni<List<FeedEntry>> nextPage(AtomicLong last, AtomicInteger emptyReads, AtomicLong caughtUpAtSignals, int batch,
                                      Duration poll) {
        boolean open = emptyReads.get() >= EMPTY_READS_BEFORE_OPEN_READ;
        long signalsBeforeRead = notifier.signals();
        return readPage(last.get(), batch, open).chain(page -> {
            if (!page.isEmpty()) {
                long first = page.get(0).position();
                if (first != last.get() + 1) {
                    LOG.warnf("the entry feed skips positions %d to %d: none is in ledger.entries", last.get() + 1, first - 1);
                }
                emptyReads.set(0);
                last.set(page.get(page.size() - 1).position());
                if (page.size() < batch) {
                    // emitted now; the next read first waits for a commit after this one began
                    caughtUpAtSignals.set(signalsBeforeRead);
                }
                return Uni.createFrom().item(page);
            }
            emptyReads.set(open ? 0 : emptyReads.get() + 1);
            return notifier.awaitAfter(signalsBeforeRead, poll).map(v -> page);
        });
    }

    /**
     * The next page after {@code after}. Bounded on both sides: the range holds exactly the next
     * page when positions have no gaps, and PostgreSQL plans the statement once per connection;
     * with only "position > $1 ... LIMIT $2" a custom plan beat the generic one on every execution
     * (bench --statements: 4,248 plans in 4,318 calls, 761 ms of planning in 20 s). The ledger
     * writes no gap, but a partial restore or a hand repair could leave one wider than a page, on
     * which the range read would find nothing forever: after some empty reads in a row one
     * {@code open} read looks past it.
     */
    private Uni<List<FeedEntry>> readPage(long after, int batch, boolean open) {
        if (!open) {
            List<FeedEntry> committedHere = notifier.fromTail(after, batch);
            if (!committedHere.isEmpty()) {
                pagesFromMemory.increment();
                return Uni.createFrom().item(committedHere);
            }
        }
        pagesFromDatabase.increment();
        String sql = open
                ? "SELECT position, payload FROM ledger.entries WHERE position > $1::bigint ORDER BY position LIMIT $2::bigint"
                : """
                  SELECT position, payload FROM ledger.entries
                  WHERE position > $1::bigint AND position <= $1::bigint + $2::bigint
                  ORDER BY position LIMIT $2::bigint""";
        return pool.preparedQuery(sql).execute(Tuple.of(after, (long) batch)).map(rows -> {
            List<FeedEntry> page = new ArrayList<>(rows.size());
            for (Row r : rows) {
                page.add(FeedEntry.of(r.getLong(0), r.getBuffer(1).getBytes()));
            }
            return page;
        });
    }

    /** StreamEntries subscriptions currently served (a subscription ends when its client cancels). */
    public int activeStreams() {
        return activeStreams.get();
    }

    /**
     * Entries whose transfer names an account that does not exist: no foreign key refuses them
     * (see migration V8), the ledger only writes accounts it created.
     */
    static final String UNKNOWN_ACCOUNTS = """
            SELECT e.entry_id AS subject, 'moves ' || e.transfer_micros || ' from ' || e.from_account_id || ' to '
                   || e.to_account_id || ': ' || string_agg(k.account_id, ' and ' ORDER BY k.leg)
                   || CASE WHEN count(*) > 1 THEN ' do not exist' ELSE ' does not exist' END AS description
            FROM ledger.entries e
            CROSS JOIN LATERAL (VALUES (1, e.from_account_id), (2, e.to_account_id)) AS k(leg, account_id)
            WHERE e.transfer_micros IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM ledger.accounts a WHERE a.account_id = k.account_id)
            GROUP BY e.position, e.entry_id, e.transfer_micros, e.from_account_id, e.to_account_id
            ORDER BY e.position""";

    /**
     * A total of rows per counter scope and tool, as the window rows keep them: per agent and per
     * team ($1: the total, $2: the relation), each for every tool ('') and per tool (tool '' rows
     * of the relation count only in the every-tool total, whose row has the same name). Rows of no
     * team make a total for team '', which no counter row has.
     */
    private static final String PER_SCOPE_AND_TOOL = """
            SELECT agent_id AS scope_id, CASE WHEN GROUPING(tool) = 1 THEN '' ELSE tool END AS tool, %1$s AS total
            FROM %2$s GROUP BY GROUPING SETS ((agent_id), (agent_id, tool)) HAVING GROUPING(tool) = 1 OR tool <> ''
            UNION ALL
            SELECT team_id, CASE WHEN GROUPING(tool) = 1 THEN '' ELSE tool END, %1$s
            FROM %2$s GROUP BY GROUPING SETS ((team_id), (team_id, tool)) HAVING GROUPING(tool) = 1 OR tool <> ''""";

    /** Checks every invariant and reports each violation (at most 1,000). */
    public Uni<VerifyLedgerResponse> verify() {
        List<LedgerViolation> found = new ArrayList<>();
        VerifyLedgerResponse.Builder out = VerifyLedgerResponse.newBuilder().setVerifyTime(Tx.timestamp(clock.instant()));
        // overdue holds are released first, so that the counters checked are the canonical ones
        return store.sweepAll().chain(() -> pool.withTransaction(conn -> conn.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute()
                .chain(() -> check(conn, found, "transfer_balances", """
                        SELECT entry_id AS subject, 'postings sum to ' || SUM(amount_micros) || ' instead of 0' AS description
                        FROM ledger.every_posting GROUP BY entry_id HAVING SUM(amount_micros) <> 0 OR COUNT(DISTINCT currency_code) > 1"""))
                .chain(() -> check(conn, found, "transfer_balances", """
                        SELECT e.entry_id AS subject, 'an approved money movement without postings' AS description
                        FROM ledger.entries e WHERE e.event_type IN (1, 5, 9, 11, 12)
                          AND NOT EXISTS (SELECT 1 FROM ledger.every_posting p WHERE p.entry_id = e.entry_id)"""))
                .chain(() -> check(conn, found, "unknown_account", UNKNOWN_ACCOUNTS))
                .chain(() -> check(conn, found, "account_balance", """
                        SELECT s.agent_id AS subject, 'balance ' || s.balance_micros || ' but postings sum to '
                               || COALESCE(p.total, 0) AS description
                        FROM ledger.agent_state s
                        LEFT JOIN (SELECT account_id, SUM(amount_micros) AS total FROM ledger.every_posting GROUP BY account_id) p
                          ON p.account_id = 'agent:' || s.agent_id
                        WHERE s.balance_micros <> COALESCE(p.total, 0)"""))
                .chain(() -> check(conn, found, "negative_balance", """
                        SELECT agent_id AS subject, 'balance ' || balance_micros || ', held ' || held_micros
                               || ': available is negative' AS description
                        FROM ledger.agent_state WHERE balance_micros < 0 OR balance_micros - held_micros < 0"""))
                .chain(() -> check(conn, found, "hard_cap", """
                        SELECT scope_id || ' ' || bucket || CASE WHEN tool = '' THEN '' ELSE ' ' || tool END AS subject,
                               'spent ' || spent_micros || ' + held ' || held_micros || ' exceeds the HARD limit '
                               || hard_limit_micros AS description
                        FROM ledger.every_counter
                        WHERE hard_limit_micros IS NOT NULL AND spent_micros + held_micros > hard_limit_micros"""))
                .chain(() -> check(conn, found, "holds", """
                        SELECT s.agent_id AS subject, 'held ' || s.held_micros || ' / ' || s.open_holds || ' open, but open holds sum to '
                               || COALESCE(h.total, 0) || ' / ' || COALESCE(h.n, 0) AS description
                        FROM ledger.agent_state s
                        LEFT JOIN (SELECT agent_id, SUM(amount_micros) AS total, COUNT(*) AS n FROM ledger.holds
                                   WHERE status = 1 GROUP BY agent_id) h ON h.agent_id = s.agent_id
                        WHERE s.held_micros <> COALESCE(h.total, 0) OR s.open_holds <> COALESCE(h.n, 0)"""))
                .chain(() -> check(conn, found, "holds", """
                        SELECT c.scope_id || CASE WHEN c.tool = '' THEN '' ELSE ' ' || c.tool END AS subject,
                               'lifetime counter holds ' || c.lifetime_held || ' but open holds sum to '
                               || COALESCE(h.total, 0) AS description
                        FROM ledger.window_counters c
                        LEFT JOIN (%s) h ON h.scope_id = c.scope_id AND h.tool = c.tool
                        WHERE c.lifetime_held <> COALESCE(h.total, 0)""".formatted(PER_SCOPE_AND_TOOL.formatted(
                        "SUM(amount_micros)", "ledger.holds WHERE status = 1"))))
                // a tool's row counts every payment only once complete (migration V10); its held amounts always
                .chain(() -> check(conn, found, "spend_counters", """
                        SELECT c.scope_id || CASE WHEN c.tool = '' THEN '' ELSE ' ' || c.tool END AS subject,
                               'lifetime spend counter ' || c.lifetime_spent || ' but entries sum to '
                               || COALESCE(e.total, 0) AS description
                        FROM ledger.window_counters c
                        LEFT JOIN (%s) e ON e.scope_id = c.scope_id AND e.tool = c.tool
                        WHERE (c.tool = '' OR c.complete) AND c.lifetime_spent <> COALESCE(e.total, 0)""".formatted(
                        PER_SCOPE_AND_TOOL.formatted("SUM(spend_micros) FILTER (WHERE event_type <> 12)", "ledger.entries"))))
                .chain(() -> check(conn, found, "positions", """
                        SELECT 'entries' AS subject, COUNT(*) || ' entries but positions run from ' || COALESCE(MIN(position), 0)
                               || ' to ' || COALESCE(MAX(position), 0) AS description
                        FROM ledger.entries HAVING COUNT(*) <> COALESCE(MAX(position), 0) OR COALESCE(MIN(position), 1) <> 1"""))
                .chain(() -> conn.query("""
                        SELECT (SELECT COUNT(*) FROM ledger.entries) AS entries, (SELECT COUNT(*) FROM ledger.accounts) AS accounts""")
                        .execute())
                .map(rows -> {
                    Row r = rows.iterator().next();
                    return out.setEntryCount(r.getLong("entries")).setAccountCount(r.getLong("accounts"))
                            .addAllViolations(found).setConsistent(found.isEmpty()).build();
                })));
    }

    private static Uni<Void> check(io.vertx.mutiny.sqlclient.SqlConnection conn, List<LedgerViolation> found, String name, String sql) {
        return conn.query(sql + " LIMIT 1000").execute().invoke(rows -> {
            for (Row r : rows) {
                if (found.size() < 1000) {
                    found.add(LedgerViolation.newBuilder().setCheck(name).setSubjectId(r.getString("subject"))
                            .setDescription(r.getString("description")).build());
                }
            }
        }).replaceWithVoid();
    }
}
