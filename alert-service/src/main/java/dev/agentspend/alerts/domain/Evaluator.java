package dev.agentspend.alerts.domain;

import dev.agentspend.common.api.Ids;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * Applies ledger events to the rule state one at a time and reconciles the conditions that hold
 * with the open alerts: a new condition fires one alert, a condition that still holds refreshes it,
 * a condition that no longer holds resolves it. Not thread-safe: one consumer drives it.
 *
 * <p>Everything it changes is reported (dirty agents, graph, alert changes) so that the caller
 * writes it in the same transaction as the feed position.
 */
public final class Evaluator {
    /** Trend rules accept an occurred_time at most this long before the recorded time. */
    public static final Duration MAX_BACKDATE = Duration.ofDays(15);
    private static final int DAYS_KEPT = 15;
    /** RuleType.values() copies its array on every call, and every entry walks the rules. */
    private static final RuleType[] RULES = RuleType.values();

    private final int bucketSeconds;
    private final Map<String, AgentState> agents = new HashMap<>();
    private PaymentGraph graph = new PaymentGraph();
    private final Map<String, OpenAlert> open = new LinkedHashMap<>();
    /**
     * Alerts a sweep resolved, by key: the time it judged them at. An entry the sweep had not seen
     * yet (one that waited for its agent's lock, or the backlog after a restart) is judged at its own,
     * earlier time, where the condition may still hold; the resolved alert was open then and covers
     * it, so it must not fire a second alert (with SUSPEND, a second suspension of an agent a person
     * may have reinstated). Bounded: {@link #SWEPT_KEYS_MAX}, for {@link #SWEPT_KEEP}; stored with the
     * resolution ({@link AlertChange.Resolved#sweptAt}) and given back by {@link #restore}, so a
     * process restart or another replica taking over remembers it too.
     */
    private final Map<String, Instant> sweptResolved = new LinkedHashMap<>();
    static final int SWEPT_KEYS_MAX = 100_000;
    public static final java.time.Duration SWEPT_KEEP = java.time.Duration.ofDays(1);
    /**
     * The dedupe keys of each agent's own open alerts (one agent, not a loop), in the order they
     * opened: reconciling an agent's findings looks at its alerts, not at the whole fleet's.
     */
    private final Map<String, Set<String>> openByAgent = new HashMap<>();
    private final Set<String> dirtyAgents = new HashSet<>();
    /** Per dirty agent, the buckets its entries touched and those pruned: the store writes only these. */
    private final Map<String, Set<Long>> touchedBuckets = new HashMap<>();
    private final Map<String, Set<Long>> prunedBuckets = new HashMap<>();
    /** Payments added to the graph since the last {@link #takeGraphChanges} and still held. */
    private final List<PaymentGraph.Payment> graphAdded = new ArrayList<>();
    /** The latest cutoff of a prune that dropped payments since then; Long.MIN_VALUE: none did. */
    private long graphPrunedBefore = Long.MIN_VALUE;

    public Evaluator(int bucketSeconds) {
        if (bucketSeconds < 1) {
            throw new IllegalArgumentException("bucketSeconds must be positive");
        }
        this.bucketSeconds = bucketSeconds;
    }

    /** Restores persisted state (at start, or after a failed transaction). */
    public void restore(Collection<AgentState> states, PaymentGraph g, Collection<OpenAlert> alerts) {
        restore(states, g, alerts, Map.of());
    }

    /** The same with what sweeps resolved: dedupe key to the time the sweep judged it at. */
    public void restore(Collection<AgentState> states, PaymentGraph g, Collection<OpenAlert> alerts,
                        Map<String, Instant> swept) {
        sweptResolved.clear();
        swept.entrySet().stream().sorted(Map.Entry.comparingByValue())
                .forEach(e -> resolvedBySweep(e.getKey(), e.getValue()));
        agents.clear();
        open.clear();
        openByAgent.clear();
        for (AgentState s : states) {
            agents.put(s.agentId, s);
        }
        graph = g == null ? new PaymentGraph() : g;
        for (OpenAlert a : alerts) {
            putOpen(a);
        }
        dirtyAgents.clear();
        touchedBuckets.clear();
        prunedBuckets.clear();
        graphAdded.clear();
        graphPrunedBefore = Long.MIN_VALUE;
    }

    public List<AlertChange> onEvent(LedgerEvent e, Function<String, AgentPolicy> policies, RuleConfigSet configs,
                                     Instant wallNow) {
        if (e.agentId() == null || e.agentId().isEmpty()) {
            return List.of();
        }
        AgentState s = agents.computeIfAbsent(e.agentId(), AgentState::new);
        AgentPolicy p = policies.apply(e.agentId());
        if (e.teamId() != null) {
            s.teamId = e.teamId();
        }
        if (e.currencyCode() != null && !e.currencyCode().isEmpty()) {
            s.currencyCode = e.currencyCode();
        }
        s.lastRecordedEpochMilli = Math.max(s.lastRecordedEpochMilli, e.recordedTime().toEpochMilli());
        s.lastPosition = e.position();
        dirtyAgents.add(s.agentId);
        apply(s, p, e);
        prune(s, configs, e.recordedTime());

        // Windows end at the agent's latest recorded time, not this entry's: the ledger stamps
        // recorded_time when a transaction starts and assigns the position at commit, so an entry
        // that waited for the agent's lock can follow entries recorded after it. Ending the window
        // at its earlier time would leave those out, and could resolve a condition that still
        // holds and fire it again as a second alert.
        Instant now = e.recordedTime().isBefore(s.lastRecorded()) ? s.lastRecorded() : e.recordedTime();
        List<AlertChange> changes = new ArrayList<>();
        List<Finding> findings = new ArrayList<>();
        for (RuleType rule : RULES) {
            RuleSettings st = configs.effective(s.agentId, s.teamId, rule);
            if (st.enabled() && rule != RuleType.PAYMENT_LOOP) {
                findings.addAll(Rules.evaluate(rule, s, p, st, now, bucketSeconds));
            }
        }
        reconcileAgent(s, findings, configs, e, now, wallNow, changes, true);
        if (e.isAgentPayment()) {
            loop(e, configs, wallNow, changes);
        }
        return changes;
    }

    /**
     * Re-evaluates open alerts at the current time, so that conditions whose windows have passed
     * resolve without waiting for the agent's next entry. Sweeps only resolve.
     */
    public List<AlertChange> sweep(Instant wallNow, Function<String, AgentPolicy> policies, RuleConfigSet configs) {
        List<AlertChange> changes = new ArrayList<>();
        Set<String> agentsWithAlerts = new HashSet<>();
        for (OpenAlert a : List.copyOf(open.values())) {
            if (a.rule() == RuleType.PAYMENT_LOOP) {
                long window = a.evidence().measure("window_seconds");
                long minEdge = a.evidence().measure("min_edge_micros");
                if (!graph.stillCycles(a.agentIds(), wallNow.minusSeconds(window), minEdge)) {
                    removeOpen(a.dedupeKey());
                    changes.add(new AlertChange.Resolved(a, wallNow, wallNow));
                    resolvedBySweep(a.dedupeKey(), wallNow);
                }
            } else {
                agentsWithAlerts.add(a.agentIds().get(0));
            }
        }
        for (String agentId : agentsWithAlerts) {
            AgentState s = agents.get(agentId);
            if (s == null) {
                continue;
            }
            Instant now = wallNow.isAfter(s.lastRecorded()) ? wallNow : s.lastRecorded();
            AgentPolicy p = policies.apply(agentId);
            List<Finding> findings = new ArrayList<>();
            for (RuleType rule : RULES) {
                RuleSettings st = configs.effective(s.agentId, s.teamId, rule);
                if (st.enabled() && rule != RuleType.PAYMENT_LOOP) {
                    findings.addAll(Rules.evaluate(rule, s, p, st, now, bucketSeconds));
                }
            }
            reconcileAgent(s, findings, configs, null, now, wallNow, changes, false);
        }
        return changes;
    }

    /** {@code judgedAt}: the time the findings were evaluated at. */
    private void reconcileAgent(AgentState s, List<Finding> findings, RuleConfigSet configs, LedgerEvent trigger,
                                Instant judgedAt, Instant wallNow, List<AlertChange> changes, boolean mayFire) {
        Set<String> holding = new HashSet<>();
        for (Finding f : findings) {
            String key = f.dedupeKey();
            holding.add(key);
            OpenAlert existing = open.get(key);
            if (existing != null) {
                if (mayFire) {
                    OpenAlert refreshed = existing.seenAgain(f.evidence(), wallNow);
                    open.put(key, refreshed);
                    changes.add(new AlertChange.Refreshed(refreshed));
                }
            } else if (mayFire && !coveredBySweep(key, judgedAt)) {
                changes.add(fire(f, configs.effective(s.agentId, s.teamId, f.rule()), trigger, wallNow));
            }
        }
        Set<String> own = openByAgent.get(s.agentId);
        if (own == null) {
            return;
        }
        for (String key : List.copyOf(own)) {
            if (!holding.contains(key)) {
                // mayFire is false only in a sweep
                changes.add(new AlertChange.Resolved(removeOpen(key), wallNow, mayFire ? null : judgedAt));
                if (!mayFire) {
                    resolvedBySweep(key, judgedAt);
                }
            }
        }
    }

    private boolean coveredBySweep(String key, Instant judgedAt) {
        Instant swept = sweptResolved.get(key);
        return swept != null && judgedAt.isBefore(swept);
    }

    private void resolvedBySweep(String key, Instant judgedAt) {
        sweptResolved.remove(key);
        sweptResolved.put(key, judgedAt);
        // oldest first (insertion order): drop what is too old to matter, then anything over the bound
        var it = sweptResolved.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<String, Instant> oldest = it.next();
            if (sweptResolved.size() <= SWEPT_KEYS_MAX && !oldest.getValue().isBefore(judgedAt.minus(SWEPT_KEEP))) {
                break;
            }
            it.remove();
        }
    }

    private void putOpen(OpenAlert a) {
        open.put(a.dedupeKey(), a);
        if (isAgentsOwn(a)) {
            openByAgent.computeIfAbsent(a.agentIds().get(0), k -> new LinkedHashSet<>()).add(a.dedupeKey());
        }
    }

    private OpenAlert removeOpen(String key) {
        OpenAlert a = open.remove(key);
        assert a != null : "no open alert " + key;
        if (isAgentsOwn(a)) {
            Set<String> own = openByAgent.get(a.agentIds().get(0));
            own.remove(key);
            if (own.isEmpty()) {
                openByAgent.remove(a.agentIds().get(0));
            }
        }
        return a;
    }

    /** An alert on one agent's own activity, which that agent's findings keep open or resolve. */
    private static boolean isAgentsOwn(OpenAlert a) {
        return a.rule() != RuleType.PAYMENT_LOOP && a.agentIds().size() == 1
                && a.dedupeKey().contains("|" + a.agentIds().get(0));
    }

    private AlertChange fire(Finding f, RuleSettings st, LedgerEvent trigger, Instant wallNow) {
        OpenAlert a = open(f, st, trigger, wallNow);
        return new AlertChange.Fired(a);
    }

    private OpenAlert open(Finding f, RuleSettings st, LedgerEvent trigger, Instant wallNow) {
        Evidence ev = trigger == null ? f.evidence() : f.evidence().withTrigger(trigger.position(), trigger.recordedTime());
        OpenAlert a = new OpenAlert(Ids.newId("alt"), f.rule(), f.dedupeKey(), f.agentIds(), f.teamId(),
                st.severity(), st.action(), ev, wallNow, wallNow);
        putOpen(a);
        return a;
    }

    /**
     * The agents of a loop to suspend: each by its own setting of the rule, not the setting of the
     * agent whose payment closed the cycle, or who is suspended would depend on payment order.
     */
    private List<String> suspendedByOwnSetting(List<String> members, String closer, RuleSettings closerSettings,
                                               RuleConfigSet configs) {
        List<String> suspend = new ArrayList<>();
        for (String member : members) {
            AgentState ms = agents.get(member);
            RuleSettings own = member.equals(closer) ? closerSettings
                    : configs.effective(member, ms == null ? "" : ms.teamId, RuleType.PAYMENT_LOOP);
            if (own.enabled() && own.action() == ActionType.SUSPEND) {
                suspend.add(member);
            }
        }
        return suspend;
    }

    private void loop(LedgerEvent e, RuleConfigSet configs, Instant wallNow, List<AlertChange> changes) {
        AgentState s = agents.get(e.agentId());
        RuleSettings st = configs.effective(e.agentId(), s.teamId, RuleType.PAYMENT_LOOP);
        if (!st.enabled()) {
            return;
        }
        long window = st.param("window_seconds");
        long minEdge = st.param("min_edge_micros");
        Instant start = e.recordedTime().minusSeconds(window);
        List<String> cycle = graph.cycleThrough(e.agentId(), e.counterpartyAgentId(), start, Math.max(1, minEdge),
                (int) st.param("max_length"));
        if (cycle.isEmpty()) {
            return;
        }
        List<String> canonical = PaymentGraph.canonical(cycle);
        List<Evidence.LoopHop> hops = graph.hops(canonical, start);
        long total = 0;
        StringBuilder path = new StringBuilder();
        for (Evidence.LoopHop h : hops) {
            total += h.amountMicros();
            path.append(h.from()).append(" -(").append(h.amountMicros()).append(")-> ");
        }
        path.append(canonical.get(0));
        Evidence ev = new Evidence(
                String.format("payment loop of %d agents within %d s: %s", canonical.size(), window, path),
                List.of(new Evidence.Measure("cycle_length", canonical.size(), 0),
                        new Evidence.Measure("cycle_amount_micros", total, 0),
                        new Evidence.Measure("window_seconds", window, 0),
                        new Evidence.Measure("min_edge_micros", Math.max(1, minEdge), 0)),
                s.currencyCode, start, e.recordedTime(), "", hops, 0, null);
        Finding f = new Finding(RuleType.PAYMENT_LOOP, canonical, s.teamId, "", ev);
        OpenAlert existing = open.get(f.dedupeKey());
        if (existing != null) {
            OpenAlert refreshed = existing.seenAgain(ev, wallNow);
            open.put(f.dedupeKey(), refreshed);
            changes.add(new AlertChange.Refreshed(refreshed));
        } else if (!coveredBySweep(f.dedupeKey(), e.recordedTime())) {
            OpenAlert fired = open(f, st, e, wallNow);
            changes.add(new AlertChange.Fired(fired, suspendedByOwnSetting(canonical, e.agentId(), st, configs)));
        }
    }

    private static final AgentPolicy.CapWindow[] CALENDAR_WINDOWS = {AgentPolicy.CapWindow.HOUR,
            AgentPolicy.CapWindow.DAY, AgentPolicy.CapWindow.WEEK, AgentPolicy.CapWindow.MONTH};

    /**
     * Adds a spend to the windows cap utilization reads. The calendar windows over every tool are
     * counted whatever the caps, as the ledger counts its own, so a cap set in the middle of a window
     * (or spend before the agent's policy arrived) is judged on everything spent in it; a tool's
     * windows while a cap on that tool exists. Each window once, however many caps share it (a SOFT
     * and a HARD cap of one window and tool).
     */
    private static void countInCapWindows(AgentState s, AgentPolicy p, String tool, long spend, Instant recorded) {
        for (AgentPolicy.CapWindow w : CALENDAR_WINDOWS) {
            s.capWindows.merge(Rules.capKey(w, "", Rules.windowStart(w, recorded)), spend, Long::sum);
        }
        if (p == null) {
            return;
        }
        List<String> toolKeys = null;
        for (AgentPolicy.CapLimit cap : p.caps()) {
            if (cap.tool().isEmpty() || !cap.counts(tool)) {
                continue;
            }
            String key = Rules.capKey(cap.window(), cap.tool(), Rules.windowStart(cap.window(), recorded));
            if (toolKeys == null) {
                toolKeys = new ArrayList<>(2);
            }
            if (!toolKeys.contains(key)) {
                toolKeys.add(key);
                s.capWindows.merge(key, spend, Long::sum);
            }
        }
    }

    /** Adds an entry's activity to its bucket and to every window sum over that bucket. */
    private void addToBucket(AgentState s, long bucketIndex, AgentState.Activity delta) {
        touchedBuckets.computeIfAbsent(s.agentId, k -> new HashSet<>()).add(bucketIndex);
        s.buckets.computeIfAbsent(bucketIndex, k -> new AgentState.Bucket()).add(delta);
        s.sums.added(bucketIndex, delta);
    }

    private void apply(AgentState s, AgentPolicy p, LedgerEvent e) {
        long bucketIndex = Math.floorDiv(e.recordedTime().getEpochSecond(), bucketSeconds);
        long tracked = e.attempt() > 0 ? 1 : 0;
        long retries = e.attempt() > 1 ? 1 : 0;
        switch (e.kind()) {
            case SPEND, REVERSAL -> {
                long spend = e.spendMicros();
                String tool = e.tool() == null ? "" : e.tool();
                if (e.kind() == LedgerEvent.Kind.SPEND) {
                    boolean offHours = p != null && p.workingHours().isOffHours(e.recordedTime());
                    addToBucket(s, bucketIndex, new AgentState.Activity(spend, 1, tool, 0, null, tracked, retries,
                            retries == 1 ? spend : 0, offHours ? spend : 0, offHours ? 1 : 0));
                    if (e.isAgentPayment()) {
                        PaymentGraph.Payment payment = new PaymentGraph.Payment(e.agentId(), e.counterpartyAgentId(),
                                e.amountMicros(), e.recordedTime());
                        graph.add(payment);
                        graphAdded.add(payment);
                    }
                } else {
                    addToBucket(s, bucketIndex, new AgentState.Activity(spend, 0, tool, 0, null, 0, 0, 0, 0, 0));
                }
                long day = LocalDate.ofInstant(e.trendTime(MAX_BACKDATE), ZoneOffset.UTC).toEpochDay();
                s.days.computeIfAbsent(day, k -> new AgentState.Day()).spend += spend;
                s.lifetimeSpend += spend;
                countInCapWindows(s, p, tool, spend, e.recordedTime());
                if (e.taskId() != null && !e.taskId().isEmpty()) {
                    s.addToOpenTask(e.taskId(), spend, e.recordedTime().getEpochSecond());
                }
            }
            case DECLINE -> {
                // A ledger that fails closed on stale policy is not the agent's doing.
                boolean counted = !"POLICY_UNAVAILABLE".equals(e.declineReason());
                String reason = !counted ? null : e.declineReason() == null ? "UNKNOWN" : e.declineReason();
                addToBucket(s, bucketIndex, new AgentState.Activity(0, 0, null, counted ? 1 : 0, reason, tracked,
                        retries, 0, 0, 0));
            }
            case TASK_COMPLETED -> {
                AgentState.OpenTask t = e.taskId() == null ? null : s.completeTask(e.taskId());
                long day = LocalDate.ofInstant(e.trendTime(MAX_BACKDATE), ZoneOffset.UTC).toEpochDay();
                AgentState.Day d = s.days.computeIfAbsent(day, k -> new AgentState.Day());
                d.tasks++;
                d.taskSpend += t == null ? 0 : t.spend;
            }
            case OTHER -> {
                // credits, holds placed, releases and expiries change no rule input
            }
        }
    }

    private void prune(AgentState s, RuleConfigSet configs, Instant now) {
        long keep = 0;
        for (RuleType rule : RULES) {
            RuleSettings st = configs.effective(s.agentId, s.teamId, rule);
            long sum = 0;
            for (var p : st.params().entrySet()) {
                if (p.getKey().endsWith("_seconds")) {
                    sum += p.getValue();
                }
            }
            keep = Math.max(keep, sum);
        }
        long oldest = Math.floorDiv(now.getEpochSecond() - keep, bucketSeconds) - 1;
        SortedMap<Long, AgentState.Bucket> expired = s.buckets.headMap(oldest, false);
        if (!expired.isEmpty()) {
            prunedBuckets.computeIfAbsent(s.agentId, k -> new HashSet<>()).addAll(expired.keySet());
            expired.forEach(s.sums::removed);
            expired.clear();
        }
        long today = LocalDate.ofInstant(now, ZoneOffset.UTC).toEpochDay();
        s.days.headMap(today - DAYS_KEPT, false).clear();
        pruneCapWindows(s);
        long taskCutoff = now.getEpochSecond() - DAYS_KEPT * 86_400L;
        s.pruneOpenTasks(taskCutoff);
        if (!graph.isEmpty()) {
            Instant cutoff = now.minusSeconds(configs.maxParam(RuleType.PAYMENT_LOOP, "window_seconds"));
            if (graph.prune(cutoff) > 0) {
                long c = cutoff.toEpochMilli();
                // recorded times are not in feed order: a cutoff can be earlier than one before it
                graphPrunedBefore = Math.max(graphPrunedBefore, c);
                graphAdded.removeIf(p -> p.recordedEpochMilli < c);
            }
        }
    }

    /**
     * Drops the cap windows that ended before the current window of their kind. The rules read only
     * the window that holds their now, which is never before the agent's latest recorded time, so
     * such a window is never read again; a late entry's spend lands in its own (past) window and is
     * dropped with it, as the rules would not count it either. Every batch writes the agent's head,
     * windows included: kept for 32 days as before, an HOUR cap's windows made the head of an agent
     * paying once a minute 21 KB of JSON after a month (ConsumerStoreCostMain), 1 KB without them.
     */
    private static void pruneCapWindows(AgentState s) {
        Instant latest = s.lastRecorded();
        s.capWindows.keySet().removeIf(key -> Rules.capWindowEnded(key, latest));
    }

    // ---- what the caller persists

    /**
     * The agents whose state changed since the last call, each with the buckets to write (touched
     * and still kept) and to delete (pruned and not created again since), and the open tasks to write
     * (paid) and to delete (completed, pruned or evicted).
     */
    public List<AgentChanges> takeDirtyAgents() {
        List<AgentChanges> d = new ArrayList<>(dirtyAgents.size());
        for (String id : dirtyAgents) {
            AgentState s = agents.get(id);
            SortedSet<Long> written = new TreeSet<>(touchedBuckets.getOrDefault(id, Set.of()));
            written.retainAll(s.buckets.keySet());
            SortedSet<Long> deleted = new TreeSet<>(prunedBuckets.getOrDefault(id, Set.of()));
            deleted.removeAll(s.buckets.keySet());
            Map<String, AgentState.OpenTask> writtenTasks = new HashMap<>();
            Set<String> deletedTasks = new HashSet<>();
            for (String task : s.takeChangedTasks()) {
                AgentState.OpenTask t = s.openTasks.get(task);
                if (t != null) {
                    writtenTasks.put(task, t);
                } else {
                    deletedTasks.add(task);
                }
            }
            d.add(new AgentChanges(s, written, deleted, writtenTasks, deletedTasks));
        }
        dirtyAgents.clear();
        touchedBuckets.clear();
        prunedBuckets.clear();
        return d;
    }

    /**
     * The graph's changes since the last call: written in the batch's transaction, they keep the
     * stored payments equal to the held ones (delete what was recorded before the cutoff, then
     * insert what was added and is still held).
     */
    public GraphChanges takeGraphChanges() {
        GraphChanges c = new GraphChanges(graphPrunedBefore, graphAdded);
        graphAdded.clear();
        graphPrunedBefore = Long.MIN_VALUE;
        return c;
    }

    public AgentState agent(String agentId) {
        return agents.get(agentId);
    }

    public PaymentGraph graph() {
        return graph;
    }

    public Collection<OpenAlert> openAlerts() {
        return open.values();
    }
}
