package dev.agentspend.k8s;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import dev.agentspend.k8s.LedgerActions.Action;
import dev.agentspend.k8s.LedgerModel.Agent;
import dev.agentspend.k8s.LedgerModel.Breach;
import dev.agentspend.k8s.LedgerModel.Count;
import dev.agentspend.k8s.LedgerModel.Hold;
import dev.agentspend.k8s.LedgerModel.HoldState;
import dev.agentspend.k8s.LedgerModel.Key;
import dev.agentspend.k8s.LedgerModel.Outcome;
import dev.agentspend.k8s.LedgerModel.When;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import dev.agentspend.proto.identity.v1.CreateTeamRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CapBreach;
import dev.agentspend.proto.ledger.v1.CapStatus;
import dev.agentspend.proto.ledger.v1.CaptureRequest;
import dev.agentspend.proto.ledger.v1.CaptureResponse;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.CreditResponse;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import dev.agentspend.proto.ledger.v1.GetBalanceResponse;
import dev.agentspend.proto.ledger.v1.HoldRequest;
import dev.agentspend.proto.ledger.v1.HoldResponse;
import dev.agentspend.proto.ledger.v1.HoldStatus;
import dev.agentspend.proto.ledger.v1.PayAgentRequest;
import dev.agentspend.proto.ledger.v1.PayAgentResponse;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import dev.agentspend.proto.ledger.v1.ReleaseRequest;
import dev.agentspend.proto.ledger.v1.ReleaseResponse;
import dev.agentspend.proto.ledger.v1.ReverseRequest;
import dev.agentspend.proto.ledger.v1.ReverseResponse;
import dev.agentspend.proto.ledger.v1.VerifyLedgerRequest;
import dev.agentspend.proto.ledger.v1.VerifyLedgerResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * One try of the property: creates the try's team and agents through identity, runs the actions
 * against the ledger one by one, and after each compares the ledger's answer and the involved
 * agents' balances with {@link LedgerModel}; at the end, VerifyLedger and {@link LedgerAudit}.
 */
final class LedgerTry {
    static final String USD = "USD";
    static final Duration DEFAULT_HOLD_TTL = Duration.ofMinutes(15);

    /** An answered request, kept for retries: the caller (null: the admin), what was sent and answered. */
    record Sent(String method, Agent caller, Message request, Message response) {
    }

    /** An entry the admin may reverse, with what is already reversed. */
    static final class Reversible {
        final Entry entry;
        final Agent agent;
        final Agent payee;
        long reversedMicros;

        Reversible(Entry entry, Agent agent, Agent payee) {
            this.entry = entry;
            this.agent = agent;
            this.payee = payee;
        }
    }

    private final LedgerPropertiesTest.Platform platform;
    private final String tryId = ReplicasTest.randomToken().substring(0, 10);
    private final List<Sent> answered = new ArrayList<>();
    private final List<Reversible> reversible = new ArrayList<>();
    /** Every entry the ledger answered with (no replays), by id: the ledger must have exactly these. */
    private final Set<String> answeredEntryIds = new LinkedHashSet<>();
    private LedgerModel model;
    private int requests;
    private String step = "setup";

    LedgerTry(LedgerPropertiesTest.Platform platform) {
        this.platform = platform;
    }

    /** Runs the try; every failure names the step it happened at (setup, an action, or the end of try). */
    void run(LedgerActions.TrySpec spec, PropertyRunner.Deadline deadline) {
        try {
            setUpActAndAudit(spec, deadline);
        } catch (PropertyRunner.OutOfTime e) {
            throw e;
        } catch (AssertionError | RuntimeException e) {
            if (String.valueOf(e.getMessage()).startsWith(step)) {
                throw e;
            }
            throw new AssertionError(step + ": " + e, e);
        }
    }

    private void setUpActAndAudit(LedgerActions.TrySpec spec, PropertyRunner.Deadline deadline) {
        long started = System.nanoTime();
        model = new LedgerModel(spec.teamCaps());
        createAgents(spec);
        for (Agent a : model.agents) {
            long credit = spec.agents().get(a.index).creditMicros();
            if (credit > 0) {
                credit(a, credit);
            }
        }
        long setUp = System.nanoTime();
        platform.count("ms setting up agents", (setUp - started) / 1_000_000);
        for (int i = 0; i < spec.actions().size(); i++) {
            Action action = spec.actions().get(i);
            step = "#" + i + " " + action;
            deadline.check();
            if (execute(action)) {
                platform.count("action " + action.getClass().getSimpleName());
            } else {
                platform.count("action skipped (nothing to refer to)");
            }
        }
        long acted = System.nanoTime();
        platform.count("ms running actions", (acted - setUp) / 1_000_000);
        step = "end of try";
        audit();
        platform.count("ms auditing", (System.nanoTime() - acted) / 1_000_000);
    }

    // ------------------------------------------------------------------ setup

    private void createAgents(LedgerActions.TrySpec spec) {
        String teamId = "";
        if (spec.agents().stream().anyMatch(LedgerActions.AgentSpec::inTeam)) {
            teamId = platform.identity().createTeam(CreateTeamRequest.newBuilder().setRequestId("team-" + tryId)
                    .setName("prop-" + tryId).setDisplayName("property test team").setCurrencyCode(USD)
                    .addAllCaps(spec.teamCaps().stream().map(LedgerTry::cap).toList()).build()).getTeam().getId();
        }
        for (int i = 0; i < spec.agents().size(); i++) {
            LedgerActions.AgentSpec s = spec.agents().get(i);
            String team = s.inTeam() ? teamId : "";
            CreateAgentResponse created = platform.identity().createAgent(CreateAgentRequest.newBuilder()
                    .setRequestId("agent-" + tryId + "-" + i).setHandle("prop-" + tryId + "-" + i)
                    .setDisplayName("property test agent " + i).setTeamId(team)
                    .setMode(AgentMode.AGENT_MODE_PRODUCTION).setCurrencyCode(USD)
                    .setPolicy(SpendingPolicy.newBuilder().addAllCaps(s.caps().stream().map(LedgerTry::cap).toList())
                            .setMaxConcurrentHolds(s.maxHolds()).setAllowInvertedWindows(true))
                    .build());
            model.agents.add(new Agent(i, created.getAgent().getId(), created.getApiKeySecret(), team, s.caps(), s.maxHolds()));
        }
        // the ledger learns agents from identity's policy feed, in commit order: once it knows the
        // last agent's key it knows every agent and the team of the try
        Agent last = model.agents.get(model.agents.size() - 1);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                platform.ledger(last.key).getBalance(GetBalanceRequest.getDefaultInstance());
                return;
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.UNAUTHENTICATED || System.nanoTime() > deadline) {
                    throw e;
                }
            }
            sleep(5);   // poll interval while the policy feed reaches the ledger
        }
    }

    static Cap cap(LedgerModel.Cap c) {
        return Cap.newBuilder().setWindow(c.window()).setLimitMicros(c.limitMicros()).setCurrencyCode(USD)
                .setEnforcement(c.hard() ? CapEnforcement.CAP_ENFORCEMENT_HARD : CapEnforcement.CAP_ENFORCEMENT_SOFT)
                .setTool(c.tool()).build();
    }

    // ------------------------------------------------------------------ actions

    /** Runs one action and checks it; false when it had nothing to refer to (no hold, entry or request yet). */
    private boolean execute(Action action) {
        if (action instanceof LedgerActions.Pay p) {
            pay(agent(p.agent()), p.amountMicros(), p.tool(), p.task());
        } else if (action instanceof LedgerActions.PlaceHold h) {
            hold(agent(h.agent()), h);
        } else if (action instanceof LedgerActions.Capture c) {
            if (model.holds.isEmpty()) {
                return false;
            }
            capture(pickHold(c.hold()), c.permille());
        } else if (action instanceof LedgerActions.Release r) {
            if (model.holds.isEmpty()) {
                return false;
            }
            release(pickHold(r.hold()));
        } else if (action instanceof LedgerActions.PayAgent p) {
            int n = model.agents.size();
            Agent payer = agent(p.payer());
            Agent payee = model.agents.get((payer.index + 1 + (p.payeeOffset() - 1) % (n - 1)) % n);
            payAgent(payer, payee, p.amountMicros(), p.tool(), p.task());
        } else if (action instanceof LedgerActions.Credit c) {
            credit(agent(c.agent()), c.amountMicros());
        } else if (action instanceof LedgerActions.Reverse r) {
            if (reversible.isEmpty()) {
                return false;
            }
            reverse(reversible.get(r.entry() % reversible.size()), r.permille(), r.tooLarge());
        } else if (action instanceof LedgerActions.Retry r) {
            if (answered.isEmpty()) {
                return false;
            }
            retry(answered.get(r.request() % answered.size()), r.sameBody());
        } else if (action instanceof LedgerActions.TwinPay t) {
            twinPay(agent(t.agent()), t.amountMicros(), t.tool());
        } else if (action instanceof LedgerActions.Wait w) {
            sleep(w.ms());   // lets the try's short holds pass their expire_time
        } else {
            throw new IllegalArgumentException("unknown action " + action);
        }
        return true;
    }

    /**
     * A hold by index: three times in four among the holds still open (a capture or release that
     * can succeed), otherwise among all (captured, released and expired ones are refused).
     */
    private Hold pickHold(int index) {
        Instant now = Instant.now();
        List<Hold> open = model.holds.stream().filter(h -> h.state == HoldState.OPEN && h.liveAfter(now)).toList();
        List<Hold> from = open.isEmpty() || index % 4 == 0 ? model.holds : open;
        return from.get(index % from.size());
    }

    private Agent agent(int index) {
        return model.agents.get(index % model.agents.size());
    }

    private String requestId() {
        return "r-" + tryId + "-" + (++requests);
    }

    private void pay(Agent a, long amountMicros, String tool, String task) {
        PayRequest req = PayRequest.newBuilder().setRequestId(requestId()).setAmountMicros(amountMicros)
                .setCurrencyCode(USD).setTool(tool).setTaskId(task).build();
        PayResponse r = platform.ledger(a.key).pay(req);
        payment(a, null, amountMicros, tool, task, r.getEntry());
        answered.add(new Sent("Pay", a, req, r));
        checkBalances(a);
    }

    /** Both copies of one Pay sent at once must get one answer and one charge. */
    private void twinPay(Agent a, long amountMicros, String tool) {
        PayRequest req = PayRequest.newBuilder().setRequestId(requestId()).setAmountMicros(amountMicros)
                .setCurrencyCode(USD).setTool(tool).build();
        ListenableFuture<PayResponse> first = platform.ledgerFuture(a.key).pay(req);
        ListenableFuture<PayResponse> second = platform.ledgerFuture(a.key).pay(req);
        PayResponse r1 = get(first);
        PayResponse r2 = get(second);
        assertEquals(r1, r2, step + ": the two copies of one payment were answered differently");
        payment(a, null, amountMicros, tool, "", r1.getEntry());
        answered.add(new Sent("Pay", a, req, r1));
        checkBalances(a);
    }

    private void payAgent(Agent payer, Agent payee, long amountMicros, String tool, String task) {
        PayAgentRequest req = PayAgentRequest.newBuilder().setRequestId(requestId()).setPayeeAgentId(payee.id)
                .setAmountMicros(amountMicros).setCurrencyCode(USD).setTool(tool).setTaskId(task).build();
        PayAgentResponse r = platform.ledger(payer.key).payAgent(req);
        assertEquals(payee.id, r.getEntry().getCounterpartyAgentId(), step);
        payment(payer, payee, amountMicros, tool, task, r.getEntry());
        answered.add(new Sent("PayAgent", payer, req, r));
        checkBalances(payer, payee);
    }

    /** A payment (payee null) or agent payment as answered, against the model's prediction. */
    private void payment(Agent a, Agent payee, long amountMicros, String tool, String task, Entry e) {
        Instant t = instant(e.getRecordedTime());
        When when = When.at(t);
        // the payment's transaction releases the agent's overdue holds; a teammate's may still count
        Outcome fewest = model.authorize(a, amountMicros, amountMicros, tool, task, t, when, false, Count.FEWEST, h -> h.agent == a, null);
        Outcome most = model.authorize(a, amountMicros, amountMicros, tool, task, t, when, false, Count.MOST, h -> h.agent == a, null);
        String what = payee == null ? "Pay" : "PayAgent";
        boolean approved = checkDecision(what, e, fewest, most);
        answeredEntryIds.add(e.getEntryId());
        a.sweptAt(t);
        if (approved) {
            assertEquals(payee == null ? EventType.EVENT_TYPE_PAYMENT_APPROVED : EventType.EVENT_TYPE_AGENT_PAYMENT_APPROVED,
                    e.getEventType(), step);
            assertEquals(amountMicros, e.getSpendMicros(), step + ": spend_micros");
            model.spend(a, amountMicros, LedgerModel.keys(a, tool, task, t));
            if (payee != null) {
                payee.balanceMicros += amountMicros;
            }
            reversible.add(new Reversible(e, a, payee));
        } else {
            assertEquals(payee == null ? EventType.EVENT_TYPE_PAYMENT_DECLINED : EventType.EVENT_TYPE_AGENT_PAYMENT_DECLINED,
                    e.getEventType(), step);
            assertEquals(0, e.getSpendMicros(), step + ": spend_micros of a decline");
        }
        assertEquals(a.balanceMicros, e.getBalanceMicros(), step + ": the entry's balance_micros");
    }

    private void hold(Agent a, LedgerActions.PlaceHold h) {
        HoldRequest.Builder b = HoldRequest.newBuilder().setRequestId(requestId()).setAmountMicros(h.amountMicros())
                .setCurrencyCode(USD).setTool(h.tool()).setTaskId(h.task());
        Duration ttl = DEFAULT_HOLD_TTL;
        if (h.ttlMs() > 0) {
            ttl = Duration.ofMillis(h.ttlMs());
            b.setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(ttl.getSeconds()).setNanos(ttl.getNano()));
        }
        HoldRequest req = b.build();
        HoldResponse r = platform.ledger(a.key).hold(req);
        Entry e = r.getEntry();
        Instant t = instant(e.getRecordedTime());
        When when = When.at(t);
        Outcome fewest = model.authorize(a, h.amountMicros(), h.amountMicros(), h.tool(), h.task(), t, when, true, Count.FEWEST, x -> x.agent == a, null);
        Outcome most = model.authorize(a, h.amountMicros(), h.amountMicros(), h.tool(), h.task(), t, when, true, Count.MOST, x -> x.agent == a, null);
        boolean approved = checkDecision("Hold", e, fewest, most);
        answeredEntryIds.add(e.getEntryId());
        a.sweptAt(t);
        if (approved) {
            assertEquals(EventType.EVENT_TYPE_HOLD_PLACED, e.getEventType(), step);
            assertTrue(r.hasHold(), step + ": an approved hold without its hold");
            assertEquals(HoldStatus.HOLD_STATUS_OPEN, r.getHold().getStatus(), step);
            assertEquals(h.amountMicros(), r.getHold().getAmountMicros(), step);
            assertEquals(t, instant(r.getHold().getCreateTime()), step + ": the hold's create_time");
            assertEquals(t.plus(ttl), instant(r.getHold().getExpireTime()), step + ": the hold's expire_time");
            model.holds.add(new Hold(r.getHold().getHoldId(), a, h.amountMicros(), h.tool(), h.task(), t, t.plus(ttl)));
        } else {
            assertEquals(EventType.EVENT_TYPE_HOLD_DECLINED, e.getEventType(), step);
            assertTrue(!r.hasHold(), step + ": a declined hold with a hold");
        }
        assertEquals(a.balanceMicros, e.getBalanceMicros(), step + ": the entry's balance_micros");
        answered.add(new Sent("Hold", a, req, r));
        checkBalances(a);
    }

    private void capture(Hold h, int permille) {
        Agent a = h.agent;
        long amount = Math.max(1, h.amountMicros * permille / 1_000);
        CaptureRequest req = CaptureRequest.newBuilder().setRequestId(requestId()).setHoldId(h.id).setAmountMicros(amount).build();
        Instant sent = Instant.now();
        CaptureResponse r;
        try {
            r = platform.ledger(a.key).capture(req);
        } catch (StatusRuntimeException ex) {
            holdNotOpen("Capture", h, sent, ex);
            checkBalances(a);
            return;
        }
        Entry e = r.getEntry();
        Instant t = instant(e.getRecordedTime());
        assertTrue(h.state == HoldState.OPEN && !h.expiredBefore(t), step + ": captured a hold that is "
                + h.state + " (expire_time " + h.expire + ", capture recorded at " + t + ")");
        boolean approved;
        if (amount <= h.amountMicros) {
            approved = checkDecision("Capture", e, Outcome.decline(DeclineReason.DECLINE_REASON_UNSPECIFIED),
                    Outcome.decline(DeclineReason.DECLINE_REASON_UNSPECIFIED));
        } else {
            // above its hold: the whole amount is authorized in the hold's windows, its own reservation
            // taken out; the agent's overdue holds are released first, a teammate's may still count
            When when = When.at(t);
            Outcome fewest = model.authorize(a, amount, amount, h.tool, h.task, h.placed, when, false, Count.FEWEST, x -> x.agent == a, h);
            Outcome most = model.authorize(a, amount, amount, h.tool, h.task, h.placed, when, false, Count.MOST, x -> x.agent == a, h);
            approved = checkDecision("Capture above its hold", e, fewest, most);
        }
        answeredEntryIds.add(e.getEntryId());
        a.sweptAt(t);
        assertEquals(h.id, e.getHoldId(), step);
        if (approved) {
            assertEquals(EventType.EVENT_TYPE_HOLD_CAPTURED, e.getEventType(), step);
            assertEquals(HoldStatus.HOLD_STATUS_CAPTURED, r.getHold().getStatus(), step);
            assertEquals(amount, r.getHold().getCapturedMicros(), step);
            assertEquals(amount, e.getSpendMicros(), step + ": spend_micros");
            model.spend(a, amount, h.keys);
            h.state = HoldState.CAPTURED;
            reversible.add(new Reversible(e, a, null));
        } else {
            assertEquals(EventType.EVENT_TYPE_CAPTURE_DECLINED, e.getEventType(), step);
            assertEquals(HoldStatus.HOLD_STATUS_OPEN, r.getHold().getStatus(), step + ": a declined capture closed its hold");
        }
        assertEquals(a.balanceMicros, e.getBalanceMicros(), step + ": the entry's balance_micros");
        answered.add(new Sent("Capture", a, req, r));
        checkBalances(a);
    }

    private void release(Hold h) {
        Agent a = h.agent;
        ReleaseRequest req = ReleaseRequest.newBuilder().setRequestId(requestId()).setHoldId(h.id).build();
        Instant sent = Instant.now();
        ReleaseResponse r;
        try {
            r = platform.ledger(a.key).release(req);
        } catch (StatusRuntimeException ex) {
            holdNotOpen("Release", h, sent, ex);
            checkBalances(a);
            return;
        }
        Entry e = r.getEntry();
        Instant t = instant(e.getRecordedTime());
        assertTrue(h.state == HoldState.OPEN && !h.expiredBefore(t), step + ": released a hold that is "
                + h.state + " (expire_time " + h.expire + ", release recorded at " + t + ")");
        assertEquals(EventType.EVENT_TYPE_HOLD_RELEASED, e.getEventType(), step);
        assertEquals(h.amountMicros, e.getAmountMicros(), step);
        assertEquals(HoldStatus.HOLD_STATUS_RELEASED, r.getHold().getStatus(), step);
        platform.count("Release approved");
        answeredEntryIds.add(e.getEntryId());
        a.sweptAt(t);
        h.state = HoldState.RELEASED;
        assertEquals(a.balanceMicros, e.getBalanceMicros(), step + ": the entry's balance_micros");
        answered.add(new Sent("Release", a, req, r));
        checkBalances(a);
    }

    /** A capture or release refused: only a hold that is closed, or may have expired by the answer, is. */
    private void holdNotOpen(String what, Hold h, Instant sent, StatusRuntimeException ex) {
        Instant received = Instant.now();
        assertEquals(Status.Code.FAILED_PRECONDITION, ex.getStatus().getCode(), step + ": " + ex.getStatus());
        assertEquals("HOLD_NOT_OPEN", reason(ex), step + ": " + ex.getStatus());
        assertTrue(h.state != HoldState.OPEN || !h.liveAfter(received), step + ": " + what + " refused a hold the model has open until "
                + h.expire + " (answer at " + received + "): " + ex.getStatus());
        platform.count(what + " refused: hold " + (h.state != HoldState.OPEN ? h.state.name().toLowerCase() : "expired"));
    }

    private void credit(Agent a, long amountMicros) {
        CreditRequest req = CreditRequest.newBuilder().setRequestId("a-" + tryId + "-" + (++requests)).setAgentId(a.id)
                .setAmountMicros(amountMicros).setCurrencyCode(USD).setNote("property test").build();
        CreditResponse r = platform.ledger(platform.adminToken()).credit(req);
        Entry e = r.getEntry();
        assertEquals(EventType.EVENT_TYPE_CREDIT, e.getEventType(), step);
        a.balanceMicros += amountMicros;
        assertEquals(a.balanceMicros, e.getBalanceMicros(), step + ": the entry's balance_micros");
        answeredEntryIds.add(e.getEntryId());
        reversible.add(new Reversible(e, a, null));
        answered.add(new Sent("Credit", null, req, r));
        platform.count("Credit approved");
        checkBalances(a);
    }

    private void reverse(Reversible target, int permille, boolean tooLarge) {
        long remaining = target.entry.getAmountMicros() - target.reversedMicros;
        long amount = tooLarge ? remaining + 1 : permille == 0 ? 0 : Math.max(1, remaining * permille / 1_000);
        long effective = amount == 0 ? remaining : amount;
        ReverseRequest req = ReverseRequest.newBuilder().setRequestId("a-" + tryId + "-" + (++requests))
                .setEntryId(target.entry.getEntryId()).setAmountMicros(amount).setNote("property test").build();
        EventType type = target.entry.getEventType();
        // a credit's reversal takes from the agent, an agent payment's from the payee, within what
        // is available; like every decision it first releases the locked agents' overdue holds
        Agent payer = type == EventType.EVENT_TYPE_CREDIT ? target.agent
                : type == EventType.EVENT_TYPE_AGENT_PAYMENT_APPROVED ? target.payee : null;
        Instant sent = Instant.now();
        ReverseResponse r;
        try {
            r = platform.ledger(platform.adminToken()).reverse(req);
        } catch (StatusRuntimeException ex) {
            When when = new When(sent, Instant.now());
            String reason = reason(ex);
            String expected = remaining <= 0 ? "ALREADY_REVERSED" : effective > remaining ? "REVERSAL_TOO_LARGE" : null;
            if (expected == null && payer != null
                    && effective > payer.balanceMicros - model.heldBy(payer, when, Count.MOST, h -> true, null)) {
                expected = "INSUFFICIENT_BALANCE";
            }
            assertEquals(Status.Code.FAILED_PRECONDITION, ex.getStatus().getCode(), step + ": " + ex.getStatus());
            assertEquals(expected, reason, step + ": the reversal was refused: " + ex.getStatus());
            platform.count("Reverse refused " + reason);
            checkBalances(target.agent);
            return;
        }
        Entry e = r.getEntry();
        When when = When.at(instant(e.getRecordedTime()));
        assertTrue(remaining > 0 && effective <= remaining, step + ": reversed " + effective + " of an entry with "
                + remaining + " left");
        if (payer != null) {
            long available = payer.balanceMicros - model.heldBy(payer, when, Count.FEWEST, h -> true, null);
            assertTrue(effective <= available, step + ": the reversal took " + effective + " from " + payer
                    + " with only " + available + " available");
        }
        assertEquals(EventType.EVENT_TYPE_REVERSAL, e.getEventType(), step);
        assertEquals(target.entry.getEntryId(), e.getReversedEntryId(), step);
        assertEquals(effective, e.getAmountMicros(), step);
        assertEquals(type == EventType.EVENT_TYPE_CREDIT ? 0 : -effective, e.getSpendMicros(), step + ": spend_micros");
        target.reversedMicros += effective;
        target.agent.sweptAt(when.latest());
        if (target.payee != null) {
            target.payee.sweptAt(when.latest());
        }
        if (type == EventType.EVENT_TYPE_CREDIT) {
            target.agent.balanceMicros -= effective;
        } else {
            target.agent.balanceMicros += effective;
            if (target.payee != null) {
                target.payee.balanceMicros -= effective;
            }
        }
        assertEquals(target.agent.balanceMicros, e.getBalanceMicros(), step + ": the entry's balance_micros");
        answeredEntryIds.add(e.getEntryId());
        answered.add(new Sent("Reverse", null, req, r));
        platform.count("Reverse approved");
        if (target.payee != null) {
            checkBalances(target.agent, target.payee);
        } else {
            checkBalances(target.agent);
        }
    }

    /**
     * The same request_id again: the same body gets the first answer again and changes nothing;
     * a different body (or another method) is refused with ALREADY_EXISTS.
     */
    private void retry(Sent s, boolean sameBody) {
        String token = s.caller() == null ? platform.adminToken() : s.caller().key;
        if (sameBody) {
            Message again = switch (s.method()) {
                case "Pay" -> platform.ledger(token).pay((PayRequest) s.request());
                case "PayAgent" -> platform.ledger(token).payAgent((PayAgentRequest) s.request());
                case "Hold" -> platform.ledger(token).hold((HoldRequest) s.request());
                case "Capture" -> platform.ledger(token).capture((CaptureRequest) s.request());
                case "Release" -> platform.ledger(token).release((ReleaseRequest) s.request());
                case "Credit" -> platform.ledger(token).credit((CreditRequest) s.request());
                case "Reverse" -> platform.ledger(token).reverse((ReverseRequest) s.request());
                default -> throw new IllegalStateException(s.method());
            };
            assertEquals(s.response(), again, step + ": the retry of a " + s.method() + " got another answer");
            platform.count("Retry same body: first answer again");
        } else {
            String requestId = requestIdOf(s.request());
            try {
                if (s.caller() == null) {
                    long amount = s.request() instanceof CreditRequest c ? c.getAmountMicros() + 1_000 : 1_000;
                    platform.ledger(token).credit(CreditRequest.newBuilder().setRequestId(requestId)
                            .setAgentId(model.agents.get(0).id).setAmountMicros(amount).setCurrencyCode(USD).build());
                } else {
                    long amount = s.request() instanceof PayRequest p ? p.getAmountMicros() + 1_000 : 1_000;
                    platform.ledger(token).pay(PayRequest.newBuilder().setRequestId(requestId).setAmountMicros(amount)
                            .setCurrencyCode(USD).setTool(LedgerActions.TOOLS.get(0)).build());
                }
                fail(step + ": request_id " + requestId + " of a " + s.method() + " was accepted again with another body");
            } catch (StatusRuntimeException ex) {
                assertEquals(Status.Code.ALREADY_EXISTS, ex.getStatus().getCode(), step + ": " + ex.getStatus());
            }
            platform.count("Retry other body: ALREADY_EXISTS");
        }
        for (Agent a : model.agents) {
            checkBalances(a);
        }
    }

    private static String requestIdOf(Message request) {
        return (String) request.getField(request.getDescriptorForType().findFieldByName("request_id"));
    }

    private void sleep(int ms) {
        try {
            Thread.sleep(ms);   // the caller says why
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    // ------------------------------------------------------------------ checks

    /**
     * The ledger's decision against the model's: exactly when the two counts agree (reason, the
     * tightest HARD breach, the SOFT breaches); the reason when only the figures differ; one of
     * the two answers otherwise. Returns whether the ledger approved.
     */
    private boolean checkDecision(String what, Entry e, Outcome fewest, Outcome most) {
        boolean approved = e.getDecision() == Decision.DECISION_APPROVED;
        assertTrue(approved || e.getDecision() == Decision.DECISION_DECLINED, step + ": decision " + e.getDecision());
        DeclineReason reason = approved ? DeclineReason.DECLINE_REASON_UNSPECIFIED : e.getDeclineReason();
        String context = step + ": " + what + " " + (approved ? "approved" : "declined " + reason + " (" + e.getNote() + ")")
                + ", the model says " + fewest + (fewest.equals(most) ? "" : " or " + most);
        if (fewest.equals(most)) {
            assertEquals(fewest.reason(), reason, context);
            if (reason == DeclineReason.DECLINE_REASON_CAP_EXCEEDED) {
                assertTrue(fewest.tightest().contains(breach(e.getExceededCap())), context + "; reported " + e.getExceededCap());
            }
            if (approved) {
                assertEquals(sorted(fewest.soft()), sorted(e.getSoftBreachesList().stream().map(LedgerTry::breach).toList()),
                        context + ": SOFT breaches");
            }
        } else if (fewest.reason() == most.reason()) {
            assertEquals(fewest.reason(), reason, context);
        } else {
            assertTrue(reason == fewest.reason() || reason == most.reason(), context);
            platform.count("decision within the model's uncertainty (hold expiry)");
        }
        if (!approved && reason == DeclineReason.DECLINE_REASON_CAP_EXCEEDED) {
            assertEquals(dev.agentspend.proto.identity.v1.CapEnforcement.CAP_ENFORCEMENT_HARD, e.getExceededCap().getEnforcement(), context);
        }
        platform.count(what + " " + (approved ? "approved" : "declined " + reason.name().substring("DECLINE_REASON_".length())));
        return approved;
    }

    static Breach breach(CapBreach b) {
        return new Breach(b.getScope(), b.getWindow(), b.getTool(), b.getLimitMicros(), b.getUsedMicros(), b.getHeadroomMicros());
    }

    private static List<String> sorted(List<Breach> breaches) {
        return breaches.stream().map(Breach::toString).sorted().toList();
    }

    /**
     * Each agent's balance, holds and cap usage as GetBalance reports them, against the model:
     * balance exact and never negative, held amount and open holds within what may still be
     * open, spent in every capped window exact.
     */
    private void checkBalances(Agent... agents) {
        for (Agent a : agents) {
            GetBalanceResponse b = platform.ledger(platform.adminToken())
                    .getBalance(GetBalanceRequest.newBuilder().setAgentId(a.id).build());
            Instant received = Instant.now();
            Instant read = instant(b.getReadTime());
            When when = new When(read, received);
            String context = step + ": GetBalance of " + a;
            assertEquals(a.balanceMicros, b.getBalanceMicros(), context + ": balance");
            assertTrue(b.getBalanceMicros() >= 0 && b.getAvailableMicros() >= 0, context + ": negative " + b);
            long heldMin = model.heldBy(a, when, Count.FEWEST, h -> true, null);
            long heldMax = model.heldBy(a, when, Count.MOST, h -> true, null);
            assertTrue(heldMin <= b.getHeldMicros() && b.getHeldMicros() <= heldMax,
                    context + ": held " + b.getHeldMicros() + ", the model " + heldMin + ".." + heldMax);
            int openMin = model.openHolds(a, when, Count.FEWEST, h -> true);
            int openMax = model.openHolds(a, when, Count.MOST, h -> true);
            assertTrue(openMin <= b.getOpenHolds() && b.getOpenHolds() <= openMax,
                    context + ": open holds " + b.getOpenHolds() + ", the model " + openMin + ".." + openMax);
            List<LedgerModel.Cap> caps = model.enforcedCaps(a).stream()
                    .filter(c -> c.window() != CapWindow.CAP_WINDOW_TASK).toList();
            assertEquals(caps.size(), b.getCapsCount(), context + ": caps " + b.getCapsList());
            for (CapStatus s : b.getCapsList()) {
                LedgerModel.Cap cap = caps.stream().filter(c -> c.scope() == s.getScope() && c.window() == s.getWindow()
                                && c.tool().equals(s.getTool())
                                && c.hard() == (s.getEnforcement() == CapEnforcement.CAP_ENFORCEMENT_HARD))
                        .findFirst().orElse(null);
                assertNotNull(cap, context + ": a cap the agent does not have: " + s);
                assertEquals(cap.limitMicros(), s.getLimitMicros(), context + ": " + s);
                Key key = LedgerModel.capKey(a, cap, "", read);
                if (key == null) {
                    continue;
                }
                assertEquals(model.spentOn(key), s.getSpentMicros(), context + ": spent in " + s);
                // the agent's overdue holds are released by the read; a teammate's may still count
                long min = model.heldOn(key, when, Count.FEWEST, h -> h.agent == a, null);
                long max = model.heldOn(key, when, Count.MOST, h -> h.agent == a, null);
                assertTrue(min <= s.getHeldMicros() && s.getHeldMicros() <= max,
                        context + ": held " + s.getHeldMicros() + " in " + s + ", the model " + min + ".." + max);
                if (cap.hard()) {
                    assertTrue(s.getSpentMicros() + s.getHeldMicros() <= s.getLimitMicros(), context + ": HARD cap exceeded " + s);
                }
            }
            a.sweptAt(read);
        }
    }

    /** The end of a try: VerifyLedger clean, then the try's entries audited one by one. */
    private void audit() {
        VerifyLedgerResponse v = platform.ledger(platform.adminToken()).verifyLedger(VerifyLedgerRequest.getDefaultInstance());
        assertTrue(v.getConsistent(), step + ": VerifyLedger: " + v.getViolationsList());
        // VerifyLedger releases every overdue hold before it checks
        Instant verified = instant(v.getVerifyTime());
        for (Agent a : model.agents) {
            a.sweptAt(verified);
        }
        Map<Agent, List<Entry>> entries = platform.entriesOf(model.agents);
        new LedgerAudit(model, step, entries, answeredEntryIds, verified, Instant.now()).check();
        platform.count("entries audited", answeredEntryIds.size());
        for (Agent a : model.agents) {
            checkBalances(a);
        }
    }

    // ------------------------------------------------------------------ helpers

    static Instant instant(Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    }

    /** The ErrorInfo reason of a refusal (the ledger's machine-readable reason), or null. */
    static String reason(StatusRuntimeException ex) {
        com.google.rpc.Status status = io.grpc.protobuf.StatusProto.fromThrowable(ex);
        if (status == null) {
            return null;
        }
        for (com.google.protobuf.Any detail : status.getDetailsList()) {
            if (detail.is(com.google.rpc.ErrorInfo.class)) {
                try {
                    return detail.unpack(com.google.rpc.ErrorInfo.class).getReason();
                } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                    throw new AssertionError("unreadable ErrorInfo", e);
                }
            }
        }
        return null;
    }

    private <T> T get(ListenableFuture<T> f) {
        try {
            return f.get(15, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new AssertionError(step + ": " + e.getCause(), e.getCause());
        } catch (Exception e) {
            throw new AssertionError(step + ": " + e, e);
        }
    }
}
