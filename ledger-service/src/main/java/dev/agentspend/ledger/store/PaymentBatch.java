package dev.agentspend.ledger.store;

import dev.agentspend.ledger.domain.CounterKey;
import dev.agentspend.ledger.domain.PolicyView;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.UniEmitter;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Many payments in one transaction. The same steps as one payment, each done once for the whole
 * batch and sent pipelined: lock every agent row (id order), look up the request_ids already
 * done, release the agents' overdue holds, lock the team rows (id order), read every counter,
 * discount teammates' overdue holds. Then each payment is decided in arrival order against the
 * running state, so two payments of one agent in a batch see each other exactly as if they had
 * committed one after the other. The writes are set-based: agent rows and counters, then (once
 * they have answered) the entries with the idempotency rows (the stored responses) in one
 * statement, sent together with the COMMIT. The batch runs its own transaction (see
 * {@link Tx#begin}): BEGIN goes out with the reads, and the feed position lock, which every batch
 * waits for, is held from the entries statement to the commit's flush without a round trip to
 * this service in between.
 *
 * <p>Two payments with the same caller and request_id in one batch: the first is decided, the
 * second is answered as its replay (or ALREADY_EXISTS if the request differs).
 */
final class PaymentBatch {
    private static final String METHOD = "Pay";

    /**
     * One waiting Pay call.
     *
     * @param key caller and request id, built once: the batch looks a job up by it several times, and a
     *            key built per lookup was a new string hashed each time (JFR: the batch's map lookups)
     */
    record Job(String caller, LedgerStore.Policy policy, PayRequest req, byte[] fingerprint,
               UniEmitter<? super LedgerStore.Result<PayResponse>> out, String key) {
        Job(String caller, LedgerStore.Policy policy, PayRequest req, byte[] fingerprint,
            UniEmitter<? super LedgerStore.Result<PayResponse>> out) {
            this(caller, policy, req, fingerprint, out, caller + '\u0000' + req.getRequestId());
        }

        void fail(Throwable t) {
            out.fail(t);
        }
    }

    private final List<Job> jobs;
    private final Map<String, Job> leaders = new LinkedHashMap<>();
    private final Map<String, LedgerStore.Stored> done = new HashMap<>();
    private final Map<String, Entry.Builder> decided = new HashMap<>();

    PaymentBatch(List<Job> jobs) {
        this.jobs = jobs;
        for (Job j : jobs) {
            leaders.putIfAbsent(j.key(), j);
        }
    }

    /**
     * Runs the batch in {@code tx}; {@code committing} runs once its entries and COMMIT are on their
     * way: in the event-loop task after the one that writes them (the connection flushes them when
     * that task ends), so that starting the next batch does not hold them back.
     */
    Uni<Void> run(LedgerStore store, Tx tx, Runnable committing) {
        Map<String, String> currencyByAgent = new TreeMap<>();
        Map<String, PolicyView> teamMember = new TreeMap<>();
        Map<String, List<CounterKey>> keysByJob = new HashMap<>();
        List<CounterKey> allKeys = new ArrayList<>();
        for (Job j : leaders.values()) {
            PolicyView p = j.policy().view();
            currencyByAgent.put(p.agentId(), p.currency());
            if (p.hasTeam()) {
                teamMember.putIfAbsent(p.teamId(), p);
            }
            List<CounterKey> keys = CounterKey.forPayment(p.agentId(), p.teamId(), j.req().getTool(),
                    j.req().getTaskId(), tx.now);
            keysByJob.put(j.key(), keys);
            allKeys.addAll(keys);
        }
        List<Uni<Void>> reads = new ArrayList<>();
        reads.add(tx.begin());
        reads.add(tx.lockAgents(currencyByAgent));
        reads.add(findDone(tx));
        reads.add(store.expireOverdue(tx, new TreeSet<>(currencyByAgent.keySet())));
        reads.add(tx.lockTeams(teamMember.keySet()));
        reads.add(tx.loadCounters(allKeys));
        for (PolicyView member : teamMember.values()) {
            // a teammate in this batch has had its overdue holds released above: it is not counted
            reads.add(store.discountTeammatesOverdueHolds(tx, member));
        }
        return Uni.combine().all().unis(reads).discardItems()
                .invoke(() -> {
                    for (Job j : leaders.values()) {
                        if (!done.containsKey(j.key())) {
                            Entry.Builder e = LedgerStore.decidePayment(tx, j.policy(), j.req(), keysByJob.get(j.key()));
                            tx.storePayResponse(e, j.caller(), j.req().getRequestId(), j.fingerprint());
                            decided.put(j.key(), e);
                        }
                    }
                })
                .call(tx::flushState)
                .invoke(() -> afterThisTask(committing))
                .call(tx::writeEntriesAndCommit)
                .onFailure().call(tx::rollback);
    }

    private static void afterThisTask(Runnable r) {
        io.vertx.core.Context context = io.vertx.core.Vertx.currentContext();
        if (context == null) {
            r.run();
        } else {
            context.runOnContext(v -> r.run());
        }
    }

    /** The request_ids of this batch already committed (by an earlier batch or another replica). */
    private Uni<Void> findDone(Tx tx) {
        String[] callers = leaders.values().stream().map(Job::caller).toArray(String[]::new);
        String[] requestIds = leaders.values().stream().map(j -> j.req().getRequestId()).toArray(String[]::new);
        return tx.conn.preparedQuery("""
                        SELECT i.caller, i.request_id, i.method, i.fingerprint, i.response FROM ledger.idempotency i
                        JOIN unnest($1::text[], $2::text[]) AS k(caller, request_id)
                          ON i.caller = k.caller AND i.request_id = k.request_id""")
                .execute(Tuple.tuple().addArrayOfString(callers).addArrayOfString(requestIds))
                .invoke(rows -> {
                    for (Row r : rows) {
                        done.put(r.getString("caller") + '\u0000' + r.getString("request_id"),
                                new LedgerStore.Stored(r.getString("method"), r.getBuffer("fingerprint").getBytes(),
                                        r.getBuffer("response").getBytes()));
                    }
                })
                .replaceWithVoid();
    }

    /** After commit: every caller gets its payment's outcome. */
    void answer() {
        for (Job j : jobs) {
            Job leader = leaders.get(j.key());
            try {
                Entry.Builder e = decided.get(j.key());
                if (e != null && leader == j) {
                    j.out().complete(new LedgerStore.Result<>(PayResponse.newBuilder().setEntry(e).build(), false));
                    continue;
                }
                LedgerStore.Stored stored = done.get(j.key());
                if (stored == null) {
                    stored = new LedgerStore.Stored(METHOD, leader.fingerprint(),
                            PayResponse.newBuilder().setEntry(e).build().toByteArray());
                }
                j.out().complete(LedgerStore.replay(stored, METHOD, j.fingerprint(), PayResponse.parser(),
                        j.req().getRequestId()));
            } catch (RuntimeException ex) {
                j.fail(ex);
            }
        }
    }
}
