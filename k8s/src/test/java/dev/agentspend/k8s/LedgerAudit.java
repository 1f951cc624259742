package dev.agentspend.k8s;

import dev.agentspend.k8s.LedgerModel.Agent;
import dev.agentspend.k8s.LedgerModel.Cap;
import dev.agentspend.k8s.LedgerModel.Hold;
import dev.agentspend.k8s.LedgerModel.HoldState;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.EventType;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The end of a try, from the ledger's own entries (ListEntries) rather than from its counters:
 * every HARD cap holds in every window, summed from the approved spend entries; no balance was
 * ever negative; the entries are exactly those the ledger answered with (a retry added none); and
 * every hold was closed at most once, as the model says, never expired before its time.
 */
final class LedgerAudit {
    private static final Set<EventType> SPEND = Set.of(EventType.EVENT_TYPE_PAYMENT_APPROVED,
            EventType.EVENT_TYPE_HOLD_CAPTURED, EventType.EVENT_TYPE_AGENT_PAYMENT_APPROVED);
    private static final Set<EventType> CLOSES_HOLD = Set.of(EventType.EVENT_TYPE_HOLD_CAPTURED,
            EventType.EVENT_TYPE_HOLD_RELEASED, EventType.EVENT_TYPE_HOLD_EXPIRED);

    private final LedgerModel model;
    private final String step;
    private final Map<Agent, List<Entry>> entries;
    private final Set<String> answeredEntryIds;
    private final Instant verified;
    private final Instant listed;

    /**
     * @param verified when VerifyLedger ran (it releases every overdue hold first)
     * @param listed   when the entries had been read (the sweeper may release more holds until then)
     */
    LedgerAudit(LedgerModel model, String step, Map<Agent, List<Entry>> entries, Set<String> answeredEntryIds,
                Instant verified, Instant listed) {
        this.model = model;
        this.step = step;
        this.entries = entries;
        this.answeredEntryIds = answeredEntryIds;
        this.verified = verified;
        this.listed = listed;
    }

    void check() {
        Set<String> recorded = new HashSet<>();
        Map<String, Instant> placed = new HashMap<>();
        for (Map.Entry<Agent, List<Entry>> byAgent : entries.entrySet()) {
            Set<String> requestIds = new HashSet<>();
            for (Entry e : byAgent.getValue()) {
                assertTrue(e.getBalanceMicros() >= 0, step + ": a negative balance after " + e);
                if (e.getEventType() != EventType.EVENT_TYPE_HOLD_EXPIRED) {
                    recorded.add(e.getEntryId());
                    assertTrue(requestIds.add(e.getRequestId()), step + ": request_id " + e.getRequestId()
                            + " recorded twice for " + byAgent.getKey());
                }
                if (e.getEventType() == EventType.EVENT_TYPE_HOLD_PLACED) {
                    placed.put(e.getHoldId(), LedgerTry.instant(e.getRecordedTime()));
                }
            }
        }
        assertEquals(answeredEntryIds, recorded, step + ": the entries recorded are not those answered");
        checkHolds();
        for (Agent a : model.agents) {
            checkHardCaps(a.caps, entries.get(a), placed, a.toString());
        }
        List<Entry> team = new ArrayList<>();
        model.agents.stream().filter(Agent::inTeam).forEach(a -> team.addAll(entries.get(a)));
        if (!team.isEmpty()) {
            checkHardCaps(model.teamCaps, team, placed, "the team");
        }
    }

    /** One closing entry per closed hold (captured, released, or expired once past its expire_time). */
    private void checkHolds() {
        Map<String, List<Entry>> closing = new HashMap<>();
        entries.values().forEach(list -> list.stream().filter(e -> CLOSES_HOLD.contains(e.getEventType()))
                .forEach(e -> closing.computeIfAbsent(e.getHoldId(), k -> new ArrayList<>()).add(e)));
        for (Hold h : model.holds) {
            List<Entry> closed = closing.getOrDefault(h.id, List.of());
            String context = step + ": hold " + h.id + " of " + h.agent + " (" + h.state + ", expire_time " + h.expire
                    + ", verified at " + verified + ", listed by " + listed + ") closed by " + closed;
            assertTrue(closed.size() <= 1, context);
            EventType expected = switch (h.state) {
                case CAPTURED -> EventType.EVENT_TYPE_HOLD_CAPTURED;
                case RELEASED -> EventType.EVENT_TYPE_HOLD_RELEASED;
                case OPEN -> h.expiredBefore(verified) ? EventType.EVENT_TYPE_HOLD_EXPIRED
                        : h.liveAfter(listed) || closed.isEmpty() ? null : EventType.EVENT_TYPE_HOLD_EXPIRED;
            };
            assertEquals(expected, closed.isEmpty() ? null : closed.get(0).getEventType(), context);
            if (expected == EventType.EVENT_TYPE_HOLD_EXPIRED) {
                Entry e = closed.get(0);
                assertTrue(!h.liveAfter(LedgerTry.instant(e.getRecordedTime())), context + ": expired before its time");
                assertEquals(h.amountMicros, e.getAmountMicros(), context);
                assertTrue(h.state == HoldState.OPEN, context);
            }
        }
    }

    /**
     * Sums the approved spend entries into the windows the ledger counts them in (a capture in
     * its hold's placement) and checks every HARD cap against each sum; a PAYMENT cap against
     * each spend.
     */
    private void checkHardCaps(List<Cap> caps, List<Entry> spendOf, Map<String, Instant> placed, String whose) {
        for (Cap cap : caps) {
            if (!cap.hard()) {
                continue;
            }
            Map<String, Long> sums = new HashMap<>();
            for (Entry e : spendOf) {
                if (!SPEND.contains(e.getEventType()) || (!cap.tool().isEmpty() && !cap.tool().equals(e.getTool()))) {
                    continue;
                }
                if (cap.window() == CapWindow.CAP_WINDOW_PAYMENT) {
                    assertTrue(e.getAmountMicros() <= cap.limitMicros(), step + ": " + whose + "'s " + cap + " exceeded by " + e);
                    continue;
                }
                if (cap.window() == CapWindow.CAP_WINDOW_TASK && e.getTaskId().isEmpty()) {
                    continue;
                }
                Instant windowTime = e.getEventType() == EventType.EVENT_TYPE_HOLD_CAPTURED
                        ? placed.get(e.getHoldId()) : LedgerTry.instant(e.getRecordedTime());
                assertNotNull(windowTime, step + ": a capture without its hold's placement: " + e);
                sums.merge(LedgerModel.bucket(cap.window(), windowTime, e.getTaskId()), e.getSpendMicros(), Long::sum);
            }
            sums.forEach((bucket, sum) -> assertTrue(sum <= cap.limitMicros(),
                    step + ": " + whose + "'s " + cap + " exceeded in " + bucket + ": " + sum + " spent"));
        }
    }
}
