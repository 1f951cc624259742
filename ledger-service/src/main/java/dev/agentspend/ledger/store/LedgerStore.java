package dev.agentspend.ledger.store;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.agentspend.common.api.Ids;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.ledger.config.LedgerConfig;
import dev.agentspend.ledger.domain.Authorizer;
import dev.agentspend.ledger.domain.CapRule;
import dev.agentspend.ledger.domain.CounterKey;
import dev.agentspend.ledger.domain.Decision;
import dev.agentspend.ledger.domain.Money;
import dev.agentspend.ledger.domain.PolicyView;
import dev.agentspend.proto.ledger.v1.CaptureRequest;
import dev.agentspend.proto.ledger.v1.CaptureResponse;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.CreditResponse;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import dev.agentspend.proto.ledger.v1.Hold;
import dev.agentspend.proto.ledger.v1.HoldRequest;
import dev.agentspend.proto.ledger.v1.HoldResponse;
import dev.agentspend.proto.ledger.v1.HoldStatus;
import dev.agentspend.proto.ledger.v1.PayAgentRequest;
import dev.agentspend.proto.ledger.v1.PayAgentResponse;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.ReleaseRequest;
import dev.agentspend.proto.ledger.v1.ReleaseResponse;
import dev.agentspend.proto.ledger.v1.ReverseRequest;
import dev.agentspend.proto.ledger.v1.ReverseResponse;
import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.RowSet;
import io.vertx.mutiny.sqlclient.Tuple;
import io.vertx.pgclient.PgException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The ledger's writing transactions, on the reactive PostgreSQL client: each operation is one
 * transaction that locks what it decides on (agent rows, then team rows), decides with the
 * domain rules, writes set-based, records its entries last under the feed position lock, and
 * stores its response for idempotent replays, all before commit.
 */
@ApplicationScoped
public class LedgerStore {
    @Inject
    Pool pool;

    @Inject
    InstantSource clock;

    @Inject
    FeedNotifier notifier;

    @Inject
    LedgerConfig config;

    @Inject
    ToolCounters toolCounters;

    /** A response and whether it is the replay of an earlier request with the same request_id. */
    public record Result<T>(T response, boolean replayed) {
    }

    /** An agent whose policy the caller resolved: the view to enforce and whether it is fresh. */
    public record Policy(PolicyView view, boolean fresh) {
    }

    /** Thrown inside a transaction that finds, under its lock, the request already done. */
    private static final class AlreadyDone extends RuntimeException {
        AlreadyDone() {
            super(null, null, false, false);
        }
    }

    /** A response being built and its entry, whose position is known only after the flush. */
    private record Pending<B extends Message.Builder>(B builder, Entry.Builder entry) {
        @SuppressWarnings("unchecked")
        <T extends Message> T finish() {
            Message.Builder b = builder;
            b.setField(b.getDescriptorForType().findFieldByName("entry"), entry.build());
            return (T) b.build();
        }
    }

    record Stored(String method, byte[] fingerprint, byte[] response) {
    }

    // ---------------------------------------------------------------- idempotency

    /**
     * One write call (not Pay or CompleteTask, which go in batches: {@link PaymentBatcher}) in a
     * transaction of its own, run as a Pay batch runs its transaction rather than in
     * {@code pool.withTransaction}: that one held the feed position lock, which every Pay batch waits
     * for, from the entries' insert through two round trips to this service (the stored response, then
     * COMMIT) and the commit's flush. (CompleteTask, when it ran so with a completion every ten
     * payments, {@code ./agentspend bench --task-calls 10}, made the batches' entries statement wait
     * 0.50 ms per payment, three quarters of all statement time.) Here BEGIN goes out with the lock of
     * {@code agents} (agent id to currency; empty where {@code work} finds its agents itself and
     * re-checks under their lock) and the idempotency re-check; {@code work} reads, decides, queues
     * the entry (and may write before it); the agent rows and counters are written; the entries
     * statement, which also stores the idempotency row (its entry's position and the response's
     * other fields, from which {@code ledger.stored_responses} rebuilds the response), goes out with
     * COMMIT.
     */
    private <T extends Message, B extends Message.Builder> Uni<Result<T>> writeCall(
            String caller, String requestId, String method, byte[] fingerprint, Parser<T> parser,
            Map<String, String> agents, Function<Tx, Uni<Pending<B>>> work) {
        return lookup(caller, requestId).chain(stored -> {
            if (stored != null) {
                return Uni.createFrom().item(replay(stored, method, fingerprint, parser, requestId));
            }
            return inOwnTransaction(agents, tx -> {
                        tx.idempotency(caller, requestId);
                        return recheck(tx);
                    }, tx -> work.apply(tx).invoke(pd -> tx.storeResponse(pd.entry(), caller, requestId, fingerprint,
                            method, pd.builder().build().toByteArray())))
                    .map(pd -> pd.<T>finish())
                    .map(r -> new Result<>(r, false))
                    .onFailure(t -> t instanceof AlreadyDone || isUniqueViolation(t, "idempotency"))
                    .recoverWithUni(() -> replayStored(caller, requestId, method, fingerprint, parser));
        });
    }

    /**
     * A transaction of its own, begun and committed as a Pay batch's is (see {@link #writeCall}):
     * BEGIN, the lock of {@code agents} and {@code underLock} sent together (PostgreSQL runs them in
     * that order), then {@code work}, the agent rows and counters, and the entries with COMMIT.
     */
    private <R> Uni<R> inOwnTransaction(Map<String, String> agents, Function<Tx, Uni<Void>> underLock,
                                        Function<Tx, Uni<R>> work) {
        return pool.withConnection(conn -> Uni.createFrom().deferred(() -> {
            Tx tx = new Tx(conn, clock.instant());
            return Uni.combine().all().unis(tx.begin(), tx.lockAgents(agents), underLock.apply(tx)).discardItems()
                    .chain(() -> work.apply(tx))
                    .call(r -> tx.flushAndCommit(() -> { }))
                    .invoke(r -> notifier.committed(tx.committedEntries()))
                    .onFailure().call(tx::rollback);
        }));
    }

    /** A duplicate of this request committed first: its stored response, as a replay. */
    <T extends Message> Uni<Result<T>> replayStored(String caller, String requestId, String method,
                                                           byte[] fingerprint, Parser<T> parser) {
        return lookup(caller, requestId).map(again -> {
            if (again == null) {
                throw new IllegalStateException("idempotency row vanished for " + method);
            }
            return replay(again, method, fingerprint, parser, requestId);
        });
    }

    static boolean isUniqueViolation(Throwable t, String table) {
        return t instanceof PgException pg && "23505".equals(pg.getSqlState())
                && pg.getMessage() != null && pg.getMessage().contains(table);
    }

    private Uni<Stored> lookup(String caller, String requestId) {
        return pool.preparedQuery("SELECT method, fingerprint, response FROM ledger.stored_responses WHERE caller = $1 AND request_id = $2")
                .execute(Tuple.of(caller, requestId))
                .map(rows -> rows.iterator().hasNext() ? stored(rows.iterator().next()) : null);
    }

    /** A row of {@code ledger.stored_responses}: its method, fingerprint and response. */
    static Stored stored(Row r) {
        io.vertx.mutiny.core.buffer.Buffer response = r.getBuffer("response");
        if (response == null) {
            // an idempotency row refers to its entry, written in the same transaction; entries are never deleted
            throw new IllegalStateException("the stored response of " + r.getString("method")
                    + " refers to an entry that does not exist");
        }
        return new Stored(r.getString("method"), r.getBuffer("fingerprint").getBytes(), response.getBytes());
    }

    /** Inside the locked transaction: stop if a concurrent duplicate committed first. */
    private Uni<Void> recheck(Tx tx) {
        return tx.conn.preparedQuery("SELECT 1 FROM ledger.idempotency WHERE caller = $1 AND request_id = $2")
                .execute(Tuple.of(tx.caller, tx.requestId))
                .invoke(rows -> {
                    if (rows.iterator().hasNext()) {
                        throw new AlreadyDone();
                    }
                })
                .replaceWithVoid();
    }

    static <T extends Message> Result<T> replay(Stored stored, String method, byte[] fingerprint, Parser<T> parser,
                                                        String requestId) {
        if (!stored.method().equals(method) || !MessageDigest.isEqual(stored.fingerprint(), fingerprint)) {
            throw ApiException.of(ErrorCode.ALREADY_EXISTS, "REQUEST_ID_REUSED",
                    "request_id '" + requestId + "' was already used for a different request (" + stored.method()
                            + "); use a new request_id for a new request");
        }
        try {
            return new Result<>(parser.parseFrom(stored.response()), true);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("stored response of " + method + " is unreadable", e);
        }
    }

    // ---------------------------------------------------------------- payments and holds

    /**
     * Decides one payment inside {@code tx}, which holds the agent's and team's locks and has
     * loaded {@code keys}: records its entry and, if approved, its spend and transfer.
     */
    static Entry.Builder decidePayment(Tx tx, Policy policy, PayRequest req, List<CounterKey> keys) {
        PolicyView p = policy.view();
        tx.requireCounted(p, req.getTool());
        Tx.AgentRow a = tx.agent(p.agentId());
        Authorizer.Request ar = new Authorizer.Request(req.getAmountMicros(), req.getAmountMicros(),
                req.getTool(), req.getTaskId(), tx.now, tx.now, false);
        Decision d;
        try {
            d = Authorizer.decide(p, policy.fresh(), account(a), tx::usage, ar);
        } catch (ApiException refusal) {
            // only reads so far: the batch can refuse this call alone and go on
            throw new RefusedBeforeDeciding(refusal);
        }
        Entry.Builder e = tx.entry(d.approved() ? EventType.EVENT_TYPE_PAYMENT_APPROVED
                : EventType.EVENT_TYPE_PAYMENT_DECLINED, p.agentId(), p.teamId());
        describe(e, req.getRequestId(), req.getAmountMicros(), req.getCurrencyCode(), req.getTool(),
                req.getTaskId(), req.getCallId(), req.getAttempt(), req.getLabelsMap());
        if (req.hasOccurredTime()) {
            e.setOccurredTime(req.getOccurredTime());
        }
        Protos.apply(d, e);
        if (d.approved()) {
            spend(tx, p, a, keys, ar, e);
            tx.transfer(e, p.currency(), Accounts.agent(p.agentId()), Accounts.vendor(p.currency()), req.getAmountMicros());
        }
        e.setBalanceMicros(a.balance);
        return e;
    }

    public Uni<Result<HoldResponse>> hold(String caller, Policy policy, HoldRequest req, byte[] fingerprint) {
        PolicyView p = policy.view();
        Duration ttl = req.hasTtl() ? Duration.ofSeconds(req.getTtl().getSeconds(), req.getTtl().getNanos())
                : config.ledger().holdDefaultTtl();
        return toolCounters.whenCounted(() -> writeCall(caller, req.getRequestId(), "Hold", fingerprint, HoldResponse.parser(),
                Map.of(p.agentId(), p.currency()), tx -> {
            List<CounterKey> keys = CounterKey.forPayment(p.agentId(), p.teamId(), req.getTool(), req.getTaskId(), tx.now);
            return readUnderAgentLock(tx, p, keys)
                        .chain(() -> {
                            return Uni.createFrom().voidItem().chain(v -> {
                                tx.requireCounted(p, req.getTool());
                                Tx.AgentRow a = tx.agent(p.agentId());
                                Authorizer.Request ar = new Authorizer.Request(req.getAmountMicros(), req.getAmountMicros(),
                                        req.getTool(), req.getTaskId(), tx.now, tx.now, true);
                                Decision d = Authorizer.decide(p, policy.fresh(), account(a), tx::usage, ar);
                                Entry.Builder e = tx.entry(d.approved() ? EventType.EVENT_TYPE_HOLD_PLACED
                                        : EventType.EVENT_TYPE_HOLD_DECLINED, p.agentId(), p.teamId());
                                describe(e, req.getRequestId(), req.getAmountMicros(), req.getCurrencyCode(), req.getTool(),
                                        req.getTaskId(), req.getCallId(), req.getAttempt(), req.getLabelsMap());
                                if (req.hasOccurredTime()) {
                                    e.setOccurredTime(req.getOccurredTime());
                                }
                                Protos.apply(d, e);
                                e.setBalanceMicros(a.balance);
                                HoldResponse.Builder out = HoldResponse.newBuilder();
                                if (!d.approved()) {
                                    return Uni.createFrom().item(new Pending<>(out, e));
                                }
                                a.held = Money.add(a.held, req.getAmountMicros(), "the agent's held amount");
                                a.openHolds++;
                                a.dirty = true;
                                tx.addToCounters(keys, 0, req.getAmountMicros());
                                tx.recordHardLimits(Authorizer.hardLimits(p, ar));
                                Instant expire = tx.now.plus(ttl);
                                Hold hold = Hold.newBuilder()
                                        .setHoldId(Ids.newId("hold")).setAgentId(p.agentId()).setTeamId(p.teamId())
                                        .setAmountMicros(req.getAmountMicros()).setCurrencyCode(p.currency())
                                        .setTool(req.getTool()).setTaskId(req.getTaskId()).setCallId(req.getCallId())
                                        .setStatus(HoldStatus.HOLD_STATUS_OPEN)
                                        .setCreateTime(Tx.timestamp(tx.now)).setExpireTime(Tx.timestamp(expire)).build();
                                e.setHoldId(hold.getHoldId()).setHoldExpireTime(hold.getExpireTime());
                                return tx.conn.preparedQuery("""
                                                INSERT INTO ledger.holds (hold_id, agent_id, team_id, amount_micros, currency_code,
                                                    tool, task_id, call_id, status, placed_time, expire_time)
                                                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10)""")
                                        .execute(Tuple.tuple().addString(hold.getHoldId()).addString(p.agentId())
                                                .addString(p.teamId()).addLong(req.getAmountMicros()).addString(p.currency())
                                                .addString(req.getTool()).addString(req.getTaskId()).addString(req.getCallId())
                                                .addOffsetDateTime(odt(tx.now)).addOffsetDateTime(odt(expire)))
                                        .map(r -> new Pending<>(out.setHold(hold), e));
                            });
                        });
        }));
    }

    /**
     * The reads of a one-agent authorization once its agent's row is locked, sent pipelined in one
     * round trip. PostgreSQL runs them in the order sent: the release of the agent's overdue holds,
     * the team's row lock, then the counters (read once both locks are held). A teammate's overdue
     * hold still counts in the team's counters until its own agent's transaction or the sweeper
     * releases it: only a transaction holding that agent's lock may decide it is gone, or a capture
     * of it that began before its expiry could spend it after a payment had counted it as released.
     */
    private Uni<Void> readUnderAgentLock(Tx tx, PolicyView p, List<CounterKey> keys) {
        return Uni.combine().all().unis(
                        expireOverdue(tx, p.agentId()),
                        tx.lockTeams(List.of(p.teamId())),
                        tx.loadCounters(keys))
                .discardItems();
    }

    /** Releases every overdue hold now (VerifyLedger starts with it, so counters are canonical). */
    public Uni<Void> sweepAll() {
        return sweepRounds(50);
    }

    private Uni<Void> sweepRounds(int left) {
        return sweepExpiredHolds().chain(n -> n == 0 || left <= 1 ? Uni.createFrom().voidItem() : sweepRounds(left - 1));
    }

    /** A hold row read under its agent's lock. */
    record HoldRow(String holdId, String agentId, String teamId, long amount, String currency, String tool,
                           String taskId, String callId, int status, Instant placed, Instant expire, long captured) {
        Hold toProto() {
            return Hold.newBuilder().setHoldId(holdId).setAgentId(agentId).setTeamId(teamId).setAmountMicros(amount)
                    .setCurrencyCode(currency).setTool(tool).setTaskId(taskId).setCallId(callId)
                    .setStatusValue(status).setCreateTime(Tx.timestamp(placed)).setExpireTime(Tx.timestamp(expire))
                    .setCapturedMicros(captured).build();
        }

        List<CounterKey> keys() {
            return CounterKey.forPayment(agentId, teamId, tool, taskId, placed);
        }

        static HoldRow of(Row r) {
            return new HoldRow(r.getString("hold_id"), r.getString("agent_id"), r.getString("team_id"),
                    r.getLong("amount_micros"), r.getString("currency_code"), r.getString("tool"), r.getString("task_id"),
                    r.getString("call_id"), r.getInteger("status"), r.getOffsetDateTime("placed_time").toInstant(),
                    r.getOffsetDateTime("expire_time").toInstant(), r.getLong("captured_micros"));
        }
    }

    static final String HOLD_COLUMNS = "hold_id, agent_id, team_id, amount_micros, currency_code, tool, task_id, "
            + "call_id, status, placed_time, expire_time, captured_micros";

    /**
     * The hold's owner (it never changes), read first under the caller's own lock, so that another
     * agent's hold is refused before anything else is read. Reads on the transaction's own
     * connection: a second connection per transaction could exhaust the pool under load.
     */
    private Uni<HoldRow> holdOf(Tx tx, String holdId, String agentId) {
        return tx.conn.preparedQuery("SELECT " + HOLD_COLUMNS + " FROM ledger.holds WHERE hold_id = $1")
                .execute(Tuple.of(holdId))
                .map(rows -> {
                    if (!rows.iterator().hasNext()) {
                        throw ApiException.notFound("hold", holdId);
                    }
                    HoldRow h = HoldRow.of(rows.iterator().next());
                    if (!h.agentId().equals(agentId)) {
                        throw ApiException.of(ErrorCode.PERMISSION_DENIED, "NOT_YOUR_HOLD",
                                "hold '" + holdId + "' belongs to another agent");
                    }
                    return h;
                });
    }

    private Uni<HoldRow> openHold(Tx tx, String holdId) {
        return tx.conn.preparedQuery("SELECT " + HOLD_COLUMNS + " FROM ledger.holds WHERE hold_id = $1")
                .execute(Tuple.of(holdId))
                .map(rows -> {
                    HoldRow h = HoldRow.of(rows.iterator().next());
                    if (h.status() != HoldStatus.HOLD_STATUS_OPEN_VALUE) {
                        String state = HoldStatus.forNumber(h.status()).name().substring("HOLD_STATUS_".length()).toLowerCase();
                        throw Tx.failedPrecondition("HOLD_NOT_OPEN", "hold '" + holdId + "' is " + state
                                + (h.status() == HoldStatus.HOLD_STATUS_EXPIRED_VALUE ? " (at " + h.expire() + ")" : ""));
                    }
                    return h;
                });
    }

    /**
     * @param teamCaps the caps of a team by id: a hold placed while its agent was in another team is
     *                 captured in that team's windows, and a capture above it is held to that team's caps
     */
    public Uni<Result<CaptureResponse>> capture(String caller, Policy policy, CaptureRequest req, byte[] fingerprint,
                                                java.util.function.Function<String, List<CapRule>> teamCaps) {
        PolicyView p = policy.view();
        return toolCounters.whenCounted(() -> writeCall(caller, req.getRequestId(), "Capture", fingerprint, CaptureResponse.parser(),
                Map.of(p.agentId(), p.currency()), tx ->
                holdOf(tx, req.getHoldId(), p.agentId())
                        // above its hold the capture is decided on the team's counters: its lock
                        // first, before the release of overdue holds reads any of them (a hold's
                        // team never changes)
                        .chain(h0 -> req.getAmountMicros() > h0.amount() ? tx.lockTeams(List.of(h0.teamId()))
                                : Uni.createFrom().voidItem())
                        .chain(() -> expireOverdue(tx, p.agentId()))
                        .chain(() -> openHold(tx, req.getHoldId()))
                        .chain(h -> {
                            long amount = req.getAmountMicros();
                            long excess = amount - h.amount();
                            Uni<Decision> decision;
                            // the capture is counted in the windows of the hold's placement
                            PolicyView view = p.teamId().equals(h.teamId()) ? p
                                    : new PolicyView(p.agentId(), h.teamId(), p.status(), p.sandbox(), p.currency(),
                                            p.agentCaps(), teamCaps.apply(h.teamId()), p.maxConcurrentHolds(),
                                            p.sandboxCeiling());
                            // decided as if the hold were not there: its reservation is taken out of the
                            // counters and of the held balance, and the whole amount is authorized
                            Authorizer.Request ar = new Authorizer.Request(amount, amount, h.tool(), h.taskId(),
                                    h.placed(), tx.now, false);
                            if (excess <= 0) {
                                decision = Uni.createFrom().item(new Decision(true, null, null, List.of(), ""));
                            } else {
                                decision = tx.lockTeams(List.of(h.teamId()))
                                        .chain(() -> tx.loadCounters(h.keys()))
                                        .map(v -> {
                                            tx.requireCounted(view, h.tool());
                                            // the hold's own reservation is released by this capture
                                            tx.addToCounters(h.keys(), 0, -h.amount());
                                            Tx.AgentRow a = tx.agent(p.agentId());
                                            Authorizer.Account acct = new Authorizer.Account(a.balance, a.held - h.amount(), a.openHolds);
                                            Decision d = Authorizer.decide(view, policy.fresh(), acct, tx::usage, ar);
                                            tx.addToCounters(h.keys(), 0, h.amount());
                                            return d;
                                        });
                            }
                            return decision.chain(d -> {
                                Tx.AgentRow a = tx.agent(p.agentId());
                                Entry.Builder e = tx.entry(d.approved() ? EventType.EVENT_TYPE_HOLD_CAPTURED
                                        : EventType.EVENT_TYPE_CAPTURE_DECLINED, p.agentId(), h.teamId());
                                describe(e, req.getRequestId(), amount, h.currency(), h.tool(), h.taskId(), h.callId(), 0,
                                        req.getLabelsMap());
                                e.setHoldId(h.holdId());
                                if (req.hasOccurredTime()) {
                                    e.setOccurredTime(req.getOccurredTime());
                                }
                                Protos.apply(d, e);
                                CaptureResponse.Builder out = CaptureResponse.newBuilder();
                                if (!d.approved()) {
                                    e.setBalanceMicros(a.balance);
                                    return Uni.createFrom().item(new Pending<>(out.setHold(h.toProto()), e));
                                }
                                a.held = a.held - h.amount();
                                a.openHolds--;
                                a.balance = Money.subtract(a.balance, amount, "the agent's balance");
                                a.dirty = true;
                                tx.addToCounters(h.keys(), amount, -h.amount());
                                if (excess > 0) {
                                    tx.recordHardLimits(Authorizer.hardLimits(view, ar));
                                }
                                e.setSpendMicros(amount).setBalanceMicros(a.balance);
                                tx.transfer(e, h.currency(), Accounts.agent(p.agentId()), Accounts.vendor(h.currency()), amount);
                                Hold closed = h.toProto().toBuilder().setStatus(HoldStatus.HOLD_STATUS_CAPTURED)
                                        .setCapturedMicros(amount).build();
                                return closeHold(tx, h.holdId(), HoldStatus.HOLD_STATUS_CAPTURED, amount)
                                        .map(v -> new Pending<>(out.setHold(closed), e));
                            });
                        })));
    }

    public Uni<Result<ReleaseResponse>> release(String caller, Policy policy, ReleaseRequest req, byte[] fingerprint) {
        PolicyView p = policy.view();
        return writeCall(caller, req.getRequestId(), "Release", fingerprint, ReleaseResponse.parser(),
                Map.of(p.agentId(), p.currency()), tx ->
                holdOf(tx, req.getHoldId(), p.agentId())
                        .chain(h0 -> expireOverdue(tx, p.agentId()))
                        .chain(() -> openHold(tx, req.getHoldId()))
                        .chain(h -> {
                            Tx.AgentRow a = tx.agent(p.agentId());
                            a.held -= h.amount();
                            a.openHolds--;
                            a.dirty = true;
                            tx.addToCounters(h.keys(), 0, -h.amount());
                            Entry.Builder e = tx.entry(EventType.EVENT_TYPE_HOLD_RELEASED, p.agentId(), h.teamId());
                            describe(e, req.getRequestId(), h.amount(), h.currency(), h.tool(), h.taskId(), h.callId(), 0, Map.of());
                            e.setHoldId(h.holdId()).setBalanceMicros(a.balance);
                            if (req.hasOccurredTime()) {
                                e.setOccurredTime(req.getOccurredTime());
                            }
                            Hold closed = h.toProto().toBuilder().setStatus(HoldStatus.HOLD_STATUS_RELEASED).build();
                            return closeHold(tx, h.holdId(), HoldStatus.HOLD_STATUS_RELEASED, 0)
                                    .map(v -> new Pending<>(ReleaseResponse.newBuilder().setHold(closed), e));
                        }));
    }

    private Uni<Void> closeHold(Tx tx, String holdId, HoldStatus status, long captured) {
        return tx.conn.preparedQuery("UPDATE ledger.holds SET status = $2, captured_micros = $3, close_time = $4 WHERE hold_id = $1")
                .execute(Tuple.of(holdId, status.getNumber(), captured, odt(tx.now)))
                .replaceWithVoid();
    }

    /**
     * Releases the agent's overdue holds inside a transaction that holds the agent's lock, so an
     * expired hold never counts against the decision that follows, and records HOLD_EXPIRED.
     */
    private Uni<Void> expireOverdue(Tx tx, String agentId) {
        return expireOverdue(tx, List.of(agentId));
    }

    /** The same for several agents, all locked by {@code tx}, in one statement. */
    Uni<Void> expireOverdue(Tx tx, java.util.Collection<String> agentIds) {
        return tx.conn.preparedQuery("UPDATE ledger.holds SET status = 4, close_time = $2 "
                        + "WHERE agent_id = ANY($1) AND status = 1 AND expire_time <= $2 RETURNING " + HOLD_COLUMNS)
                .execute(Tuple.tuple().addArrayOfString(agentIds.toArray(String[]::new)).addOffsetDateTime(odt(tx.now)))
                .map(rows -> {
                    List<HoldRow> expired = new ArrayList<>();
                    rows.forEach(r -> expired.add(HoldRow.of(r)));
                    expired.sort(Comparator.comparing(HoldRow::agentId).thenComparing(HoldRow::expire)
                            .thenComparing(HoldRow::holdId));
                    return expired;
                })
                .chain(expired -> {
                    if (expired.isEmpty()) {
                        return Uni.createFrom().voidItem();
                    }
                    List<CounterKey> keys = new ArrayList<>();
                    expired.forEach(h -> keys.addAll(h.keys()));
                    return tx.loadCounters(keys).invoke(v -> {
                        for (HoldRow h : expired) {
                            Tx.AgentRow a = tx.agent(h.agentId());
                            a.held -= h.amount();
                            a.openHolds--;
                            a.dirty = true;
                            tx.addToCounters(h.keys(), 0, -h.amount());
                            Entry.Builder e = tx.entry(EventType.EVENT_TYPE_HOLD_EXPIRED, h.agentId(), h.teamId());
                            describe(e, "", h.amount(), h.currency(), h.tool(), h.taskId(), h.callId(), 0, Map.of());
                            e.setHoldId(h.holdId()).setBalanceMicros(a.balance).setHoldExpireTime(Tx.timestamp(h.expire()))
                                    .setNote("the hold expired at " + h.expire() + " and was released");
                        }
                    });
                });
    }

    /** The sweeper: releases every overdue hold, one agent per transaction. Returns how many agents. */
    public Uni<Integer> sweepExpiredHolds() {
        Instant now = clock.instant();
        return pool.preparedQuery("SELECT DISTINCT agent_id, currency_code FROM ledger.holds WHERE status = 1 AND expire_time <= $1 LIMIT 200")
                .execute(Tuple.of(odt(now)))
                .chain(rows -> {
                    Uni<Integer> chain = Uni.createFrom().item(0);
                    for (Row r : rows) {
                        String agentId = r.getString("agent_id");
                        String currency = r.getString("currency_code");
                        chain = chain.chain(n -> expireAgent(agentId, currency).map(v -> n + 1));
                    }
                    return chain;
                });
    }

    /** Releases one agent's overdue holds in its own transaction. */
    public Uni<Void> expireAgent(String agentId, String currency) {
        return inOwnTransaction(Map.of(agentId, currency), tx -> expireOverdue(tx, agentId),
                tx -> Uni.createFrom().voidItem());
    }

    // ---------------------------------------------------------------- agent payments, tasks, admin

    public Uni<Result<PayAgentResponse>> payAgent(String caller, Policy policy, PolicyView payee, PayAgentRequest req,
                                                  byte[] fingerprint) {
        PolicyView p = policy.view();
        return toolCounters.whenCounted(() -> writeCall(caller, req.getRequestId(), "PayAgent", fingerprint, PayAgentResponse.parser(),
                Map.of(p.agentId(), p.currency(), payee.agentId(), payee.currency()), tx -> {
                            List<CounterKey> keys = CounterKey.forPayment(p.agentId(), p.teamId(), req.getTool(),
                                    p.countedTask(req.getTaskId()), tx.now);
                            // the counters read after the team's lock, as a Pay's are: not first by
                            // the release of an overdue hold that shares them, before the lock
                            return readUnderAgentLock(tx, p, keys).map(v -> {
                                tx.requireCounted(p, req.getTool());
                                Tx.AgentRow a = tx.agent(p.agentId());
                                Tx.AgentRow b = tx.agent(payee.agentId());
                                Authorizer.Request ar = new Authorizer.Request(req.getAmountMicros(), req.getAmountMicros(),
                                        req.getTool(), req.getTaskId(), tx.now, tx.now, false);
                                Decision d = Authorizer.decide(p, policy.fresh(), account(a), tx::usage, ar);
                                Entry.Builder e = tx.entry(d.approved() ? EventType.EVENT_TYPE_AGENT_PAYMENT_APPROVED
                                        : EventType.EVENT_TYPE_AGENT_PAYMENT_DECLINED, p.agentId(), p.teamId());
                                describe(e, req.getRequestId(), req.getAmountMicros(), req.getCurrencyCode(), req.getTool(),
                                        req.getTaskId(), req.getCallId(), req.getAttempt(), req.getLabelsMap());
                                e.setCounterpartyAgentId(payee.agentId());
                                if (req.hasOccurredTime()) {
                                    e.setOccurredTime(req.getOccurredTime());
                                }
                                Protos.apply(d, e);
                                if (d.approved()) {
                                    b.balance = Money.add(b.balance, req.getAmountMicros(), "the payee's balance");
                                    b.dirty = true;
                                    spend(tx, p, a, keys, ar, e);
                                    tx.transfer(e, p.currency(), Accounts.agent(p.agentId()), Accounts.agent(payee.agentId()),
                                            req.getAmountMicros());
                                }
                                e.setBalanceMicros(a.balance);
                                return new Pending<>(PayAgentResponse.newBuilder(), e);
                            });
                        }));
    }

    /**
     * Records the completion of {@code req}'s task inside {@code tx}, which holds the agent's lock and
     * has found the task not completed (a task is completed once): its entry and its task row.
     */
    static Entry.Builder recordCompletion(Tx tx, PolicyView p, CompleteTaskRequest req) {
        Entry.Builder e = tx.entry(EventType.EVENT_TYPE_TASK_COMPLETED, p.agentId(), p.teamId());
        describe(e, req.getRequestId(), 0, p.currency(), "", req.getTaskId(), "", 0, req.getLabelsMap());
        e.setTaskOutcome(req.getOutcome()).setBalanceMicros(tx.agent(p.agentId()).balance);
        if (req.hasOccurredTime()) {
            e.setOccurredTime(req.getOccurredTime());
        }
        tx.completeTask(p.agentId(), req.getTaskId(), req.getOutcomeValue(), e.getEntryId());
        return e;
    }

    public Uni<Result<CreditResponse>> credit(String caller, PolicyView p, CreditRequest req, byte[] fingerprint) {
        return writeCall(caller, req.getRequestId(), "Credit", fingerprint, CreditResponse.parser(),
                Map.of(p.agentId(), p.currency()), tx -> {
                    Tx.AgentRow a = tx.agent(p.agentId());
                    a.balance = Money.add(a.balance, req.getAmountMicros(), "the agent's balance");
                    a.dirty = true;
                    Entry.Builder e = tx.entry(EventType.EVENT_TYPE_CREDIT, p.agentId(), p.teamId());
                    describe(e, req.getRequestId(), req.getAmountMicros(), req.getCurrencyCode(), "", "", "", 0, Map.of());
                    e.setNote(req.getNote()).setBalanceMicros(a.balance);
                    tx.transfer(e, p.currency(), Accounts.funding(p.currency()), Accounts.agent(p.agentId()),
                            req.getAmountMicros());
                    return Uni.createFrom().item(new Pending<>(CreditResponse.newBuilder(), e));
                });
    }

    public Uni<Result<ReverseResponse>> reverse(String caller, ReverseRequest req, byte[] fingerprint) {
        // the agents are known once the entry is read: locked then, and the request re-checked under their lock
        return writeCall(caller, req.getRequestId(), "Reverse", fingerprint, ReverseResponse.parser(), Map.of(), tx ->
                tx.conn.preparedQuery("SELECT payload FROM ledger.entries WHERE entry_id = $1")
                        .execute(Tuple.of(req.getEntryId()))
                        .map(rows -> {
                            if (!rows.iterator().hasNext()) {
                                throw ApiException.notFound("entry", req.getEntryId());
                            }
                            return parseEntry(rows.iterator().next());
                        })
                        .chain(orig -> {
                            EventType type = orig.getEventType();
                            boolean agentPayment = type == EventType.EVENT_TYPE_AGENT_PAYMENT_APPROVED;
                            if (type != EventType.EVENT_TYPE_PAYMENT_APPROVED && type != EventType.EVENT_TYPE_HOLD_CAPTURED
                                    && type != EventType.EVENT_TYPE_CREDIT && !agentPayment) {
                                throw Tx.failedPrecondition("NOT_REVERSIBLE", "entry '" + orig.getEntryId() + "' is a "
                                        + type.name().substring("EVENT_TYPE_".length()).toLowerCase()
                                        + "; only approved payments, captures, agent payments and credits can be reversed");
                            }
                            Map<String, String> lock = new HashMap<>();
                            lock.put(orig.getAgentId(), orig.getCurrencyCode());
                            if (agentPayment) {
                                lock.put(orig.getCounterpartyAgentId(), orig.getCurrencyCode());
                            }
                            // a reversal takes money back from an agent: its overdue holds must not count
                            // against what is available, as for every decision (HOLD_EXPIRED first)
                            return tx.lockAgents(lock)
                                    .chain(() -> expireOverdue(tx, new java.util.TreeSet<>(lock.keySet())))
                                    .chain(() -> recheck(tx))
                                    .chain(() -> tx.conn.preparedQuery(
                                                    "SELECT COALESCE(SUM(amount_micros), 0)::bigint AS done FROM ledger.entries WHERE reversed_entry_id = $1")
                                            .execute(Tuple.of(orig.getEntryId())))
                                    .map(rows -> {
                                        long done = rows.iterator().next().getLong("done");
                                        long remaining = orig.getAmountMicros() - done;
                                        if (remaining <= 0) {
                                            throw Tx.failedPrecondition("ALREADY_REVERSED", "entry '" + orig.getEntryId() + "' is already fully reversed");
                                        }
                                        long amount = req.getAmountMicros() == 0 ? remaining : req.getAmountMicros();
                                        if (amount > remaining) {
                                            throw Tx.failedPrecondition("REVERSAL_TOO_LARGE", "only " + remaining
                                                    + " micros of entry '" + orig.getEntryId() + "' are left to reverse, not " + amount);
                                        }
                                        String cur = orig.getCurrencyCode();
                                        Tx.AgentRow agent = tx.agent(orig.getAgentId());
                                        Entry.Builder e = tx.entry(EventType.EVENT_TYPE_REVERSAL, orig.getAgentId(), orig.getTeamId());
                                        describe(e, req.getRequestId(), amount, cur, orig.getTool(), orig.getTaskId(),
                                                orig.getCallId(), orig.getAttempt(), Map.of());
                                        e.setReversedEntryId(orig.getEntryId()).setCounterpartyAgentId(orig.getCounterpartyAgentId())
                                                .setNote(req.getNote());
                                        if (type == EventType.EVENT_TYPE_CREDIT) {
                                            requireAvailable(agent, amount, "the agent");
                                            agent.balance -= amount;
                                            tx.transfer(e, cur, Accounts.agent(agent.agentId), Accounts.funding(cur), amount);
                                        } else if (agentPayment) {
                                            Tx.AgentRow payee = tx.agent(orig.getCounterpartyAgentId());
                                            requireAvailable(payee, amount, "the payee");
                                            payee.balance -= amount;
                                            payee.dirty = true;
                                            agent.balance = Money.add(agent.balance, amount, "the agent's balance");
                                            e.setSpendMicros(-amount);
                                            tx.transfer(e, cur, Accounts.agent(payee.agentId), Accounts.agent(agent.agentId), amount);
                                        } else {
                                            agent.balance = Money.add(agent.balance, amount, "the agent's balance");
                                            e.setSpendMicros(-amount);
                                            tx.transfer(e, cur, Accounts.vendor(cur), Accounts.agent(agent.agentId), amount);
                                        }
                                        agent.dirty = true;
                                        e.setBalanceMicros(agent.balance);
                                        return new Pending<>(ReverseResponse.newBuilder(), e);
                                    });
                        }));
    }

    private static void requireAvailable(Tx.AgentRow a, long amount, String who) {
        if (a.balance - a.held < amount) {
            throw Tx.failedPrecondition("INSUFFICIENT_BALANCE", who + " (" + a.agentId + ") has only "
                    + (a.balance - a.held) + " micros available; the reversal of " + amount + " micros would make it negative");
        }
    }

    // ---------------------------------------------------------------- helpers

    /**
     * Applies an approved spend: balance, counters (with the HARD limits in force; a tool's only
     * where they count every payment, see {@link Tx#countedKeys}) and the entry's spend.
     */
    static void spend(Tx tx, PolicyView p, Tx.AgentRow a, List<CounterKey> keys, Authorizer.Request ar, Entry.Builder e) {
        a.balance = Money.subtract(a.balance, ar.increment(), "the agent's balance");
        a.dirty = true;
        tx.addToCounters(tx.countedKeys(keys), ar.increment(), 0);
        tx.recordHardLimits(Authorizer.hardLimits(p, ar));
        e.setSpendMicros(ar.increment());
    }

    static Authorizer.Account account(Tx.AgentRow a) {
        return new Authorizer.Account(a.balance, a.held, a.openHolds);
    }

    static void describe(Entry.Builder e, String requestId, long amount, String currency, String tool, String taskId,
                                 String callId, int attempt, Map<String, String> labels) {
        e.setRequestId(requestId).setAmountMicros(amount).setCurrencyCode(currency).setTool(tool).setTaskId(taskId)
                .setCallId(callId).setAttempt(attempt).putAllLabels(labels);
    }

    /**
     * The Entry of a row with its payload and, when the row has it, its position. Parsed into the
     * builder that gets the position: the feed reads every entry once per consumer, and parsing
     * first, then copying into a builder and out again, made three messages of one.
     */
    static Entry parseEntry(Row r) {
        try {
            Entry.Builder e = Entry.newBuilder().mergeFrom(r.getBuffer("payload").getBytes());
            int position = r.getColumnIndex("position");
            if (position >= 0) {
                e.setPosition(r.getLong(position));
            }
            return e.build();
        } catch (InvalidProtocolBufferException ex) {
            throw new IllegalStateException("unreadable entry payload", ex);
        }
    }

    static OffsetDateTime odt(Instant t) {
        return OffsetDateTime.ofInstant(t, ZoneOffset.UTC);
    }

    Pool pool() {
        return pool;
    }

    static List<Entry> entries(RowSet<Row> rows) {
        List<Entry> out = new ArrayList<>();
        rows.forEach(r -> out.add(parseEntry(r)));
        return out;
    }
}
