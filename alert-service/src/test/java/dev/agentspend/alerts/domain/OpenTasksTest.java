package dev.agentspend.alerts.domain;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An agent's open tasks: least recently paid first, bounded, pruned from the front. */
class OpenTasksTest {
    private static final long T0 = 1_780_000_000L;

    @Test
    void aPaymentMovesItsTaskToTheEnd() {
        AgentState s = new AgentState("agt_a");
        s.addToOpenTask("a", 10, T0);
        s.addToOpenTask("b", 20, T0 + 1);
        s.addToOpenTask("c", 30, T0 + 2);
        s.addToOpenTask("a", 5, T0 + 3);
        assertEquals(List.of("b", "c", "a"), new ArrayList<>(s.openTasks.keySet()));
        assertEquals(15, s.openTasks.get("a").spend);
        assertEquals(T0 + 3, s.openTasks.get("a").lastEpochSecond);
        assertEquals(20, s.completeTask("b").spend);
        assertNull(s.completeTask("b"), "completed once");
        assertEquals(List.of("c", "a"), new ArrayList<>(s.openTasks.keySet()));
    }

    @Test
    void pastTheBoundTheTaskPaidLeastRecentlyGoes() {
        AgentState s = new AgentState("agt_a");
        for (int i = 0; i < AgentState.MAX_OPEN_TASKS; i++) {
            s.addToOpenTask("t" + i, 1, T0 + i);
        }
        s.addToOpenTask("t0", 1, T0 + AgentState.MAX_OPEN_TASKS);   // t0 paid again: t1 is now the eldest
        s.addToOpenTask("new", 7, T0 + AgentState.MAX_OPEN_TASKS + 1);
        assertEquals(AgentState.MAX_OPEN_TASKS, s.openTasks.size());
        assertFalse(s.openTasks.containsKey("t1"));
        assertEquals(2, s.openTasks.get("t0").spend);
        assertEquals(7, s.openTasks.get("new").spend);
        for (int i = 0; i < 10 * AgentState.MAX_OPEN_TASKS; i++) {
            s.addToOpenTask("more" + i, 1, T0 + 2 * AgentState.MAX_OPEN_TASKS + i);
        }
        assertEquals(AgentState.MAX_OPEN_TASKS, s.openTasks.size());
        assertTrue(s.openTasks.containsKey("more" + (10 * AgentState.MAX_OPEN_TASKS - 1)));
    }

    @Test
    void pruningDropsTheTasksPaidBeforeTheCutoffFromTheFront() {
        AgentState s = new AgentState("agt_a");
        s.addToOpenTask("old1", 1, T0);
        s.addToOpenTask("old2", 1, T0 + 10);
        s.addToOpenTask("recent", 1, T0 + 100);
        s.addToOpenTask("late-recorded", 1, T0 + 5);   // behind a newer one: stays until a later prune
        s.pruneOpenTasks(T0 + 50);
        assertEquals(List.of("recent", "late-recorded"), new ArrayList<>(s.openTasks.keySet()));
        s.pruneOpenTasks(T0 + 200);
        assertTrue(s.openTasks.isEmpty());
    }

    @Test
    void tasksReadFromStorageAreOrderedByLastPaymentAndBounded() {
        AgentState s = new AgentState("agt_a");
        // as a state written before the order was kept: a hash map's order, more tasks than the bound
        Map<String, AgentState.OpenTask> hashed = new HashMap<>();
        int stored = AgentState.MAX_OPEN_TASKS + 5;
        for (int i = 0; i < stored; i++) {
            AgentState.OpenTask t = new AgentState.OpenTask();
            t.spend = i;
            t.lastEpochSecond = T0 + (i * 7919L) % stored;   // every second once, shuffled
            hashed.put("t" + i, t);
        }
        s.openTasks = new LinkedHashMap<>(hashed);
        s.orderOpenTasks();
        assertEquals(AgentState.MAX_OPEN_TASKS, s.openTasks.size());
        long previous = Long.MIN_VALUE;
        for (AgentState.OpenTask t : s.openTasks.values()) {
            assertTrue(t.lastEpochSecond > previous, "ordered by last payment");
            previous = t.lastEpochSecond;
        }
        assertEquals(T0 + 5, s.openTasks.values().iterator().next().lastEpochSecond, "the five paid least recently dropped");
    }

    @Test
    void theEvaluatorKeepsCostPerTaskOfTheTasksItStillHolds() {
        Evaluator ev = new Evaluator(60);
        Instant at = Instant.ofEpochSecond(T0);
        int tasks = AgentState.MAX_OPEN_TASKS + 50;
        for (int i = 0; i < tasks; i++) {
            ev.onEvent(Fixtures.spend("agt_a", 1_000, "tool", "task" + i, 1, null, at), id -> null,
                    RuleConfigSet.defaults(), at);
        }
        AgentState s = ev.agent("agt_a");
        assertEquals(AgentState.MAX_OPEN_TASKS, s.openTasks.size());
        ev.onEvent(Fixtures.taskDone("agt_a", "task" + (tasks - 1), null, at), id -> null, RuleConfigSet.defaults(), at);
        ev.onEvent(Fixtures.taskDone("agt_a", "task0", null, at), id -> null, RuleConfigSet.defaults(), at);
        AgentState.Day day = s.days.lastEntry().getValue();
        assertEquals(2, day.tasks);
        assertEquals(1_000, day.taskSpend, "the last task's spend; the first was dropped and counts none");
        assertEquals(AgentState.MAX_OPEN_TASKS - 1, s.openTasks.size());
    }

    /** Every change to an open task is reported once, so that a batch writes or deletes exactly its row. */
    @Test
    void changedTasksAreThoseAddedPaidCompletedPrunedOrEvicted() {
        AgentState s = new AgentState("agt_a");
        s.addToOpenTask("a", 1, T0);
        s.addToOpenTask("b", 1, T0 + 1);
        s.addToOpenTask("c", 1, T0 + 2);
        assertEquals(Set.of("a", "b", "c"), s.takeChangedTasks());
        assertEquals(Set.of(), s.takeChangedTasks(), "taken once");
        s.addToOpenTask("a", 1, T0 + 3);
        s.completeTask("b");
        s.completeTask("never-paid");
        assertEquals(Set.of("a", "b"), s.takeChangedTasks());
        s.pruneOpenTasks(T0 + 3);   // c (T0 + 2) goes, a (T0 + 3) stays
        assertEquals(Set.of("c"), s.takeChangedTasks());
        assertEquals(List.of("a"), new ArrayList<>(s.openTasks.keySet()));
        for (int i = 0; i < AgentState.MAX_OPEN_TASKS; i++) {
            s.addToOpenTask("t" + i, 1, T0 + 10 + i);
        }
        s.takeChangedTasks();
        s.addToOpenTask("one-more", 1, T0 + 10 + AgentState.MAX_OPEN_TASKS);
        assertEquals(Set.of("one-more", "t0"), s.takeChangedTasks(), "a (the eldest) was evicted by t999, t0 now");
    }

    @Test
    void tasksDroppedWhenReadFromStorageAreChanged() {
        AgentState s = new AgentState("agt_a");
        for (int i = 0; i < AgentState.MAX_OPEN_TASKS + 2; i++) {
            AgentState.OpenTask t = new AgentState.OpenTask();
            t.lastEpochSecond = T0 + i;
            s.openTasks.put("t" + i, t);
        }
        s.orderOpenTasks();
        assertEquals(Set.of("t0", "t1"), s.takeChangedTasks(), "their rows go with the next batch of the agent");
    }
}
