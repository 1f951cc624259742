package dev.agentspend.alerts.store;

import dev.agentspend.alerts.domain.AgentPolicy;
import dev.agentspend.alerts.domain.AgentState;
import dev.agentspend.alerts.domain.Evaluator;
import dev.agentspend.alerts.domain.LedgerEvent;
import dev.agentspend.alerts.domain.RuleConfigSet;
import dev.agentspend.common.api.WorkingSchedule;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** The stored head holds the agent's state, not the window sums derived from its buckets. */
class StateCodecTest {
    @Test
    void theHeadLeavesOutBucketsAndWindowSums() {
        Evaluator ev = new Evaluator(60);
        AgentPolicy p = new AgentPolicy("agt_a", "team_a", "USD", List.of(), WorkingSchedule.none());
        Instant at = Instant.parse("2026-03-04T10:00:00Z");
        // evaluating the entry fills the agent's window sums
        ev.onEvent(new LedgerEvent(1, "ent_1", LedgerEvent.Kind.SPEND, "agt_a", "team_a", 5_000, 5_000, "USD",
                "openai/chat.completions", "", 1, "", "", null, at), id -> p, RuleConfigSet.defaults(), at);
        AgentState s = ev.agent("agt_a");

        String head = new String(StateCodec.head(s), StandardCharsets.UTF_8);
        assertFalse(head.contains("sums"), head);
        assertFalse(head.contains("buckets"), head);
        AgentState read = StateCodec.readHead(head.getBytes(StandardCharsets.UTF_8));
        assertEquals(5_000, read.lifetimeSpend);
        assertEquals(Json.write(s.days), Json.write(read.days));
    }

    @Test
    void theHeadLeavesOutOpenTasks() {
        Evaluator ev = new Evaluator(60);
        AgentPolicy p = new AgentPolicy("agt_a", "team_a", "USD", List.of(), WorkingSchedule.none());
        Instant at = Instant.parse("2026-03-04T10:00:00Z");
        for (String task : List.of("z", "m", "a", "z")) {
            at = at.plusSeconds(1);
            ev.onEvent(new LedgerEvent(1, "ent_" + task, LedgerEvent.Kind.SPEND, "agt_a", "team_a", 5_000, 5_000, "USD",
                    "openai/chat.completions", task, 1, "", "", null, at), id -> p, RuleConfigSet.defaults(), at);
        }
        assertEquals(3, ev.agent("agt_a").openTasks.size());
        String head = new String(StateCodec.head(ev.agent("agt_a")), StandardCharsets.UTF_8);
        assertFalse(head.contains("openTasks"), head);
        assertEquals(0, StateCodec.readHead(head.getBytes(StandardCharsets.UTF_8)).openTasks.size());
        // a head written before V5, with its open tasks: they are rows now, and the head's copy is not read
        AgentState legacy = StateCodec.readHead(Json.write(ev.agent("agt_a")).getBytes(StandardCharsets.UTF_8));
        assertEquals(0, legacy.openTasks.size());
        assertEquals(20_000, legacy.lifetimeSpend);
    }
}
