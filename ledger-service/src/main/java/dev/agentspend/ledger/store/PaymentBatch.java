package dev.agentspend.ledger.store;

import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import dev.agentspend.ledger.domain.CounterKey;
import dev.agentspend.ledger.domain.PolicyView;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.CompleteTaskResponse;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.UniEmitter;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Many payments in one transaction. The same steps as one payment, each done once for the whole
 * batch and sent pipelined: lock every agent row (id order), look up the request_ids already
 * done, release the agents' overdue holds, lock the team rows (id order), read every counter.
 * Then each payment is decided in arrival order against the
 * running state, so two payments of one agent in a batch see each other exactly as if they had
 * committed one after the other. The writes are set-based: agent rows and counters, then the
 * entries with the idempotency rows (each refers to its entry) in one statement, and the COMMIT, all
 * sent together: the writes check themselves in the database (see {@link Tx#flushAndCommit}, and
 * there the rare batch whose counter rows move or are created, whose writes answer first). The
 * batch runs its own transaction (see {@link Tx#begin}): BEGIN goes out with the reads, and the
 * feed position lock, which every batch waits for, is held from the entries statement to the
 * commit's flush without a round trip to this service in between.
 *
 * <p>Task completions (CompleteTask) go in the same batches, in their agent's arrival order: an
 * agent completes a task after its last payment for it, several times a second with short tasks,
 * and as a transaction of its own each cost PostgreSQL about eight statements and a commit. Here
 * a batch with completions reads which of their tasks are completed already (one statement,
 * after the agents' locks, which every completion takes) and writes the new task rows with the
 * agent rows. A completion of a completed task is refused (FAILED_PRECONDITION) alone: nothing of
 * it is written and the batch goes on.
 *
 * <p>Two calls with the same caller and request_id in one batch: the first is decided, the
 * second is answered as its replay (or ALREADY_EXISTS if the request differs); if the first was
 * refused, the second is decided in its turn.
 */
final class PaymentBatch {
    static final String PAY = "Pay";
    static final String COMPLETE_TASK = "CompleteTask";

    /**
     * One waiting call: a Pay ({@code req} a PayRequest) or a CompleteTask (a CompleteTaskRequest).
     *
     * @param key caller and request id, built once: the batch looks a job up by it several times, and a
     *            key built per lookup was a new string hashed each time (JFR: the batch's map lookups)
     * @param queuedNanos when the call was queued ({@link System#nanoTime}), for the queue wait metric
     */
    record Job(String caller, LedgerStore.Policy policy, Message req, String requestId, byte[] fingerprint,
               UniEmitter<? super LedgerStore.Result<Message>> out, String key, long queuedNanos) {
        Job(String caller, LedgerStore.Policy policy, PayRequest req, byte[] fingerprint,
            UniEmitter<? super LedgerStore.Result<Message>> out) {
            this(caller, policy, req, req.getRequestId(), fingerprint, out, caller + '\u0000' + req.getRequestId(),
                    System.nanoTime());
        }

        Job(String caller, LedgerStore.Policy policy, CompleteTaskRequest req, byte[] fingerprint,
            UniEmitter<? super LedgerStore.Result<Message>> out) {
            this(caller, policy, req, req.getRequestId(), fingerprint, out, caller + '\u0000' + req.getRequestId(),
                    System.nanoTime());
        }

        String method() {
            return req instanceof PayRequest ? PAY : COMPLETE_TASK;
        }

        String agentId() {
            return policy.view().agentId();
        }

        Message response(Entry.Builder e) {
            return req instanceof PayRequest ? PayResponse.newBuilder().setEntry(e).build()
                    : CompleteTaskResponse.newBuilder().setEntry(e).build();
        }

        Parser<? extends Message> parser() {
            return req instanceof PayRequest ? PayResponse.parser() : CompleteTaskResponse.parser();
        }

        void fail(Throwable t) {
            out.fail(t);
        }
    }

    /** A call decided in this batch: its entry (the response is the entry alone). */
    private record Decided(Job job, Entry.Builder entry) {
    }

    private final List<Job> jobs;
    private final Map<String, Job> leaders = new LinkedHashMap<>();
    private final Map<String, LedgerStore.Stored> done = new HashMap<>();
    private final Map<String, Decided> decided = new HashMap<>();
    private final Map<Job, RuntimeException> refused = new IdentityHashMap<>();
    /** Tasks completed before this batch or in it: agent id and task id. */
    private final Set<String> completedTasks = new HashSet<>();

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
        Set<String> teams = new TreeSet<>();
        Map<Job, List<CounterKey>> keysByJob = new IdentityHashMap<>();
        List<CounterKey> allKeys = new ArrayList<>();
        boolean completions = false;
        for (Job j : jobs) {
            PolicyView p = j.policy().view();
            currencyByAgent.put(p.agentId(), p.currency());
            if (j.req() instanceof PayRequest pay) {
                if (p.hasTeam()) {
                    teams.add(p.teamId());
                }
                // every Pay, not only the first of a request_id: a second one is decided if the first is refused
                List<CounterKey> keys = CounterKey.forPayment(p.agentId(), p.teamId(), pay.getTool(),
                        p.countedTask(pay.getTaskId()), tx.now);
                keysByJob.put(j, keys);
                allKeys.addAll(keys);
            } else {
                completions = true;
            }
        }
        List<Uni<Void>> reads = new ArrayList<>();
        reads.add(tx.begin());
        reads.add(tx.lockAgents(currencyByAgent));
        reads.add(findDone(tx));
        if (completions) {
            reads.add(findCompleted(tx));
        }
        reads.add(store.expireOverdue(tx, new TreeSet<>(currencyByAgent.keySet())));
        reads.add(tx.lockTeams(teams));
        reads.add(tx.loadCounters(allKeys));
        return Uni.combine().all().unis(reads).discardItems()
                .invoke(() -> {
                    for (Job j : jobs) {
                        if (!done.containsKey(j.key()) && !decided.containsKey(j.key())) {
                            decide(tx, j, keysByJob.get(j));
                        }
                    }
                })
                .call(() -> tx.flushAndCommit(() -> afterThisTask(committing)))
                .onFailure().call(tx::rollback);
    }

    private void decide(Tx tx, Job j, List<CounterKey> keys) {
        Entry.Builder e;
        if (j.req() instanceof PayRequest pay) {
            try {
                e = LedgerStore.decidePayment(tx, j.policy(), pay, keys);
            } catch (ToolNotCounted uncounted) {
                // refused before anything was decided; PaymentBatcher makes the tool counted and queues it again
                refused.put(j, uncounted);
                return;
            } catch (RefusedBeforeDeciding r) {
                refused.put(j, r.refusal());
                return;
            }
        } else {
            CompleteTaskRequest c = (CompleteTaskRequest) j.req();
            PolicyView p = j.policy().view();
            if (!completedTasks.add(taskKey(p.agentId(), c.getTaskId()))) {
                refused.put(j, Tx.failedPrecondition("TASK_ALREADY_COMPLETED",
                        "task '" + c.getTaskId() + "' of agent " + p.agentId() + " is already completed"));
                return;
            }
            e = LedgerStore.recordCompletion(tx, p, c);
        }
        tx.storeEntryResponse(e, j.caller(), j.requestId(), j.fingerprint(), j.method());
        decided.put(j.key(), new Decided(j, e));
    }

    private static String taskKey(String agentId, String taskId) {
        return agentId + '\u0000' + taskId;
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
        String[] requestIds = leaders.values().stream().map(Job::requestId).toArray(String[]::new);
        return tx.conn.preparedQuery("""
                        SELECT i.caller, i.request_id, i.method, i.fingerprint, i.response FROM ledger.stored_responses i
                        JOIN unnest($1::text[], $2::text[]) AS k(caller, request_id)
                          ON i.caller = k.caller AND i.request_id = k.request_id""")
                .execute(Tuple.tuple().addArrayOfString(callers).addArrayOfString(requestIds))
                .invoke(rows -> {
                    for (Row r : rows) {
                        done.put(r.getString("caller") + '\u0000' + r.getString("request_id"), LedgerStore.stored(r));
                    }
                })
                .replaceWithVoid();
    }

    /**
     * The tasks of this batch's completions already completed. Sent after the agents' locks: every
     * completion of an agent's task holds that agent's lock, so none can commit between this read
     * and this batch's commit.
     */
    private Uni<Void> findCompleted(Tx tx) {
        List<String> agentIds = new ArrayList<>();
        List<String> taskIds = new ArrayList<>();
        for (Job j : jobs) {
            if (j.req() instanceof CompleteTaskRequest c) {
                agentIds.add(j.agentId());
                taskIds.add(c.getTaskId());
            }
        }
        return tx.conn.preparedQuery("""
                        SELECT t.agent_id, t.task_id FROM ledger.tasks t
                        JOIN unnest($1::text[], $2::text[]) AS k(agent_id, task_id)
                          ON t.agent_id = k.agent_id AND t.task_id = k.task_id""")
                .execute(Tuple.tuple().addArrayOfString(agentIds.toArray(String[]::new))
                        .addArrayOfString(taskIds.toArray(String[]::new)))
                .invoke(rows -> {
                    for (Row r : rows) {
                        completedTasks.add(taskKey(r.getString("agent_id"), r.getString("task_id")));
                    }
                })
                .replaceWithVoid();
    }

    /** After commit: every caller gets its call's outcome. */
    void answer() {
        for (Job j : jobs) {
            try {
                RuntimeException refusal = refused.get(j);
                if (refusal != null) {
                    j.fail(refusal);
                    continue;
                }
                Decided d = decided.get(j.key());
                if (d != null && d.job() == j) {
                    j.out().complete(new LedgerStore.Result<>(j.response(d.entry()), false));
                    continue;
                }
                LedgerStore.Stored stored = done.get(j.key());
                if (stored == null) {
                    stored = new LedgerStore.Stored(d.job().method(), d.job().fingerprint(),
                            d.job().response(d.entry()).toByteArray());
                }
                LedgerStore.Result<? extends Message> r = LedgerStore.replay(stored, j.method(), j.fingerprint(),
                        j.parser(), j.requestId());
                j.out().complete(new LedgerStore.Result<>(r.response(), r.replayed()));
            } catch (RuntimeException ex) {
                j.fail(ex);
            }
        }
    }
}
