package dev.agentspend.analytics.domain;

import java.time.Instant;
import java.time.LocalDate;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The change a batch of entries makes to every aggregate, summed per key in memory so that the
 * store writes each aggregate row once per batch with one set-based upsert.
 *
 * <p>Rules: spend adds {@code spend_micros} (approved payments, captures and agent payments add,
 * reversals subtract, holds count only when captured); a call is an approved payment, capture or
 * agent payment, a retry a call with attempt &gt; 1 (a reversal of a retry takes its spend back
 * from the retry spend, since the ledger copies the refunded entry's attempt onto the reversal); declines are counted apart with the amount
 * asked and never add to spend.
 *
 * <p>Day sums: the day rows are rolled up from the minutes (see {@link DayRollup}); a batch adds to
 * them only the entries whose minute is before the rollup's {@code daysRolledThrough} (late
 * entries: their minute has been rolled up already). The others reach the day rows with the rollup
 * of their minute, so each entry is counted there once.
 */
public final class BatchDelta {
    /** Sums of one aggregate row. */
    public static final class Sums {
        public long spendMicros;
        public long calls;
        public long retryCalls;
        public long retrySpendMicros;
        public long declines;
        public long declinedMicros;

        void add(EntryFacts e) {
            spendMicros = Math.addExact(spendMicros, e.spendMicros());
            if (e.isCall()) {
                calls++;
            }
            if (e.isRetry()) {
                retryCalls++;
            }
            if (e.attempt() > 1) {
                // a retry's spend, and its refund: a reversal carries the attempt of the entry it refunds
                retrySpendMicros = Math.addExact(retrySpendMicros, e.spendMicros());
            }
            if (e.isDecline()) {
                declines++;
                declinedMicros = addSaturated(declinedMicros, e.amountMicros());
            }
        }
    }

    /**
     * Sums of amounts asked in declined calls stop at the largest bigint instead of overflowing: the
     * ledger declines any positive amount (up to Long.MAX_VALUE) without moving money, so two such
     * calls of one agent would otherwise fail every batch that carries them, and the consumer would
     * stop at that feed position for good. A figure this large says "absurd amounts asked" already.
     */
    public static long addSaturated(long sumMicros, long addedMicros) {
        if (sumMicros < 0 || addedMicros < 0) {
            throw new IllegalArgumentException("declined amounts are never negative: " + sumMicros + ", " + addedMicros);
        }
        return addedMicros > Long.MAX_VALUE - sumMicros ? Long.MAX_VALUE : sumMicros + addedMicros;
    }

    /** Per agent, minute, tool and team. */
    public record ToolKey(String agentId, Instant minute, String tool, String teamId) {
    }

    /** Per agent, UTC day, tool and team. */
    public record ToolDayKey(String agentId, LocalDate day, String tool, String teamId) {
    }

    /** Per agent and UTC day. */
    public record AgentDayKey(String agentId, LocalDate day) {
    }

    /** Per agent and task. */
    public record TaskKey(String agentId, String taskId) {
    }

    /** A task's change: cost, calls, retries, first and last payment, and its completion if in the batch. */
    public static final class TaskDelta {
        public long costMicros;
        public long calls;
        public long retryCalls;
        public Instant firstPayment;
        public Instant lastPayment;
        public int outcome;
        public Instant completedTime;
    }

    /** Per payer, payee and minute. */
    public record FlowKey(String payerAgentId, String payeeAgentId, Instant minute) {
    }

    /** Per payer, payee and UTC day. */
    public record FlowDayKey(String payerAgentId, String payeeAgentId, LocalDate day) {
    }

    /** An agent-to-agent flow's change. */
    public static final class FlowDelta {
        public long amountMicros;
        public long payments;

        void add(EntryFacts e) {
            amountMicros = Math.addExact(amountMicros,
                    e.kind() == EntryFacts.Kind.REVERSAL ? e.spendMicros() : e.amountMicros());
            if (e.kind() == EntryFacts.Kind.AGENT_PAYMENT) {
                payments++;
            }
        }
    }

    /** What the batch tells about an agent (its team and currency at the time of its last entry). */
    public record AgentSeen(String agentId, String teamId, String currencyCode) {
    }

    /** A hold placed in the batch and still open at its end. */
    public record OpenHold(String holdId, String agentId, String tool, long amountMicros) {
    }

    public final Map<ToolKey, Sums> toolMinutes = new LinkedHashMap<>();
    /** Day sums of the late entries only (see the class comment). */
    public final Map<ToolDayKey, Sums> lateToolDays = new LinkedHashMap<>();
    public final Map<AgentDayKey, Sums> lateAgentDays = new LinkedHashMap<>();
    public final Map<TaskKey, TaskDelta> tasks = new LinkedHashMap<>();
    public final Map<FlowKey, FlowDelta> flows = new LinkedHashMap<>();
    /** Flow day sums of the late entries only, as for the tool days. */
    public final Map<FlowDayKey, FlowDelta> lateFlowDays = new LinkedHashMap<>();
    public final Map<String, AgentSeen> agents = new LinkedHashMap<>();
    public final Map<String, OpenHold> holdsOpened = new LinkedHashMap<>();
    public final Set<String> holdsClosed = new LinkedHashSet<>();
    private final Instant daysRolledThrough;
    private long lastPosition;
    private int entryCount;

    private BatchDelta(Instant daysRolledThrough) {
        this.daysRolledThrough = Objects.requireNonNull(daysRolledThrough, "daysRolledThrough");
    }

    /**
     * Sums a batch; entries must be in position order. {@code daysRolledThrough}: every minute before
     * it is already in the day rows.
     */
    public static BatchDelta of(List<EntryFacts> entries, Instant daysRolledThrough) {
        BatchDelta d = new BatchDelta(daysRolledThrough);
        for (EntryFacts e : entries) {
            d.add(e);
        }
        return d;
    }

    public void add(EntryFacts e) {
        if (e.position() <= lastPosition) {
            throw new IllegalArgumentException("entries must be in increasing position order: " + e.position()
                    + " after " + lastPosition);
        }
        lastPosition = e.position();
        entryCount++;
        agents.put(e.agentId(), new AgentSeen(e.agentId(), e.teamId(), e.currencyCode()));
        if (!e.counterpartyAgentId().isEmpty()) {
            agents.putIfAbsent(e.counterpartyAgentId(), new AgentSeen(e.counterpartyAgentId(), "", e.currencyCode()));
        }
        trackHolds(e);
        boolean counts = e.spendMicros() != 0 || e.isCall() || e.isDecline();
        if (counts) {
            Instant minute = Bucketing.minute(e.bucketTime());
            LocalDate day = Bucketing.utcDay(minute);
            toolMinutes.computeIfAbsent(new ToolKey(e.agentId(), minute, e.tool(), e.teamId()), k -> new Sums()).add(e);
            if (rolledUp(minute)) {
                lateToolDays.computeIfAbsent(new ToolDayKey(e.agentId(), day, e.tool(), e.teamId()), k -> new Sums()).add(e);
                lateAgentDays.computeIfAbsent(new AgentDayKey(e.agentId(), day), k -> new Sums()).add(e);
            }
            if ((e.kind() == EntryFacts.Kind.AGENT_PAYMENT && e.approved())
                    || (e.kind() == EntryFacts.Kind.REVERSAL && !e.counterpartyAgentId().isEmpty())) {
                flows.computeIfAbsent(new FlowKey(e.agentId(), e.counterpartyAgentId(), minute), k -> new FlowDelta())
                        .add(e);
                if (rolledUp(minute)) {
                    lateFlowDays.computeIfAbsent(new FlowDayKey(e.agentId(), e.counterpartyAgentId(), day),
                            k -> new FlowDelta()).add(e);
                }
            }
        }
        if (!e.taskId().isEmpty() && (e.spendMicros() != 0 || e.isCall()
                || e.kind() == EntryFacts.Kind.TASK_COMPLETED)) {
            TaskDelta t = tasks.computeIfAbsent(new TaskKey(e.agentId(), e.taskId()), k -> new TaskDelta());
            if (e.kind() == EntryFacts.Kind.TASK_COMPLETED) {
                if (t.completedTime == null) {
                    t.completedTime = e.bucketTime();
                    t.outcome = e.taskOutcome();
                }
            } else {
                t.costMicros = Math.addExact(t.costMicros, e.spendMicros());
                if (e.isCall()) {
                    t.calls++;
                    t.firstPayment = t.firstPayment == null || e.bucketTime().isBefore(t.firstPayment)
                            ? e.bucketTime() : t.firstPayment;
                    t.lastPayment = t.lastPayment == null || e.bucketTime().isAfter(t.lastPayment)
                            ? e.bucketTime() : t.lastPayment;
                }
                if (e.isRetry()) {
                    t.retryCalls++;
                }
            }
        }
    }

    private void trackHolds(EntryFacts e) {
        if (e.holdId().isEmpty()) {
            return;
        }
        if (e.kind() == EntryFacts.Kind.HOLD_PLACED && e.approved()) {
            holdsOpened.put(e.holdId(), new OpenHold(e.holdId(), e.agentId(), e.tool(), e.amountMicros()));
        } else if ((e.kind() == EntryFacts.Kind.HOLD_CAPTURED && e.approved()) || e.kind() == EntryFacts.Kind.HOLD_ENDED) {
            if (holdsOpened.remove(e.holdId()) == null) {
                holdsClosed.add(e.holdId());
            }
        }
    }

    /** True when {@code minute} is before the rollup's W: its row is in the day rows already. */
    public boolean rolledUp(Instant minute) {
        return minute.isBefore(daysRolledThrough);
    }

    public long lastPosition() {
        return lastPosition;
    }

    public int entryCount() {
        return entryCount;
    }
}
