package dev.agentspend.alerts.domain;

import dev.agentspend.common.api.WorkingSchedule;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * What the alert consumer's rule evaluation costs per ledger entry (issue #8), in three shapes of
 * history: the benchmark's fleet (1,000 agents, ten minutes), agents that have paid around the clock
 * for a day (every window of the default rules full of buckets), and the fleet with most agents
 * holding an open alert. Single thread, no database: the Evaluator alone, as the consumer drives it.
 * Not a test: it asserts nothing and its figures depend on the machine.
 *
 * <pre>
 * mvn -o -q test-compile -pl alert-service
 * mvn -o -q dependency:build-classpath -pl alert-service -Dmdep.includeScope=test -Dmdep.outputFile=/tmp/alerts-cp.txt
 * java -cp alert-service/target/test-classes:alert-service/target/classes:$(cat /tmp/alerts-cp.txt) \
 *     dev.agentspend.alerts.domain.EvaluatorCostMain
 * </pre>
 */
public final class EvaluatorCostMain {
    private static final String[] TOOLS = {"openai/chat.completions", "anthropic/messages", "serpapi/search",
            "browserbase/session"};
    private static final int ROUNDS = 5;
    private static final int EVENTS_PER_ROUND = 200_000;

    private final SplittableRandom random = new SplittableRandom(8);
    private final RuleConfigSet configs = RuleConfigSet.defaults();
    private long position;
    private int agentPaymentsPerMille;
    private int agentCount;

    private EvaluatorCostMain() {
    }

    public static void main(String[] args) {
        EvaluatorCostMain m = new EvaluatorCostMain();
        // The benchmark's fleet phase: about 1,900 payments a second over 1,000 agents, ten minutes of it first.
        m.measure("fleet, 1000 agents, 10 min of history", 1_000, 1_900, 10 * 60, 1, 0);
        // Agents that pay around the clock: 100 agents, 2 payments a second between them, 25 hours of history.
        m.measure("steady, 100 agents, 25 h of history", 100, 2, 25 * 3_600, 1, 0);
        // As the fleet, but most payments go to one tool of four: TOOL_CONCENTRATION holds for most agents.
        m.measure("fleet, one tool takes most spend", 1_000, 1_900, 10 * 60, 8, 0);
        // As the fleet, with 1 entry in 40 an agent paying another (about 48 a second): the payment graph
        // holds ten minutes of them (the loop window is an hour).
        m.measure("fleet, 1 in 40 entries an agent payment", 1_000, 1_900, 10 * 60, 1, 25);
    }

    private void measure(String what, int agentCount, double paymentsPerSecond, long historySeconds, int toolBias,
                         int agentPaymentsPerMille) {
        this.agentPaymentsPerMille = agentPaymentsPerMille;
        this.agentCount = agentCount;
        Evaluator ev = new Evaluator(60);
        List<String> agents = new ArrayList<>();
        for (int i = 0; i < agentCount; i++) {
            agents.add(String.format("agt_bench_%04d", i));
        }
        Instant start = Instant.parse("2026-03-04T00:00:00Z");
        long historyEvents = (long) (paymentsPerSecond * historySeconds);
        Instant now = start;
        for (long i = 0; i < historyEvents; i++) {
            now = start.plusNanos((long) (i * 1e9 / paymentsPerSecond));
            ev.onEvent(payment(agents.get(random.nextInt(agentCount)), now, toolBias), EvaluatorCostMain::policy,
                    configs, now);
            if (i % 1_000 == 0) {
                ev.takeDirtyAgents();
            }
        }
        long buckets = 0;
        for (String a : agents) {
            AgentState s = ev.agent(a);
            buckets += s == null ? 0 : s.buckets.size();
        }
        System.out.printf(Locale.ROOT, "%s: %d history events, %.0f buckets per agent, %d open alerts, %d graph payments%n",
                what, historyEvents, (double) buckets / agentCount, ev.openAlerts().size(), graphSize(ev));
        for (int round = 0; round < ROUNDS; round++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < EVENTS_PER_ROUND; i++) {
                now = now.plusNanos((long) (1e9 / paymentsPerSecond));
                ev.onEvent(payment(agents.get(random.nextInt(agentCount)), now, toolBias), EvaluatorCostMain::policy,
                        configs, now);
                if (i % 1_000 == 0) {
                    ev.takeDirtyAgents();
                }
            }
            long nanos = System.nanoTime() - t0;
            System.out.printf(Locale.ROOT, "  round %d: %.2f us per entry (%d open alerts, %d graph payments)%n",
                    round + 1, nanos / 1e3 / EVENTS_PER_ROUND, ev.openAlerts().size(), graphSize(ev));
        }
    }

    private LedgerEvent payment(String agent, Instant at, int toolBias) {
        long micros = 1_000 + random.nextInt(20_000);
        position++;
        int t = random.nextInt(TOOLS.length + toolBias - 1);
        String tool = TOOLS[Math.max(0, t - toolBias + 1)];
        String payee = random.nextInt(1_000) < agentPaymentsPerMille
                ? String.format("agt_bench_%04d", random.nextInt(agentCount)) : "";
        return new LedgerEvent(position, "ent_" + position, LedgerEvent.Kind.SPEND, agent, "team_bench", micros, micros,
                "USD", payee.isEmpty() ? tool : "agent/" + payee, "", 1 + (random.nextInt(10) == 0 ? 1 : 0), payee, "",
                null, at);
    }

    private static int graphSize(Evaluator ev) {
        return ev.graph().size();
    }

    private static AgentPolicy policy(String agentId) {
        return new AgentPolicy(agentId, "team_bench", "USD",
                List.of(new AgentPolicy.CapLimit(AgentPolicy.CapWindow.DAY, 1_000_000_000L, "", 0, null)),
                WorkingSchedule.none());
    }
}
