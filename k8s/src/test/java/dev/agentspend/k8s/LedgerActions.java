package dev.agentspend.k8s;

import dev.agentspend.proto.identity.v1.CapWindow;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

import java.util.ArrayList;
import java.util.List;

/**
 * What one try of {@link LedgerPropertiesTest} does, as plain data for jqwik to generate and
 * shrink: the agents (caps, hold limit, first top-up, team membership), the team's caps and a
 * sequence of actions. Agents, holds, requests and entries are named by index and resolved modulo
 * what the try has at that point, so any shrunk sequence is still a valid one.
 */
final class LedgerActions {
    static final List<String> TOOLS = List.of("tools/alpha", "tools/beta", "tools/gamma");
    static final List<String> TASKS = List.of("", "", "task-1", "task-2");

    private LedgerActions() {
    }

    record AgentSpec(List<LedgerModel.Cap> caps, int maxHolds, long creditMicros, boolean inTeam) {
    }

    record TrySpec(List<AgentSpec> agents, List<LedgerModel.Cap> teamCaps, List<Action> actions) {
        @Override
        public String toString() {
            StringBuilder s = new StringBuilder();
            for (int i = 0; i < agents.size(); i++) {
                s.append("\n  agent").append(i).append(": ").append(agents.get(i));
            }
            s.append("\n  team caps: ").append(teamCaps);
            for (int i = 0; i < actions.size(); i++) {
                s.append("\n  #").append(i).append(' ').append(actions.get(i));
            }
            return s.toString();
        }
    }

    sealed interface Action permits Pay, PlaceHold, Capture, Release, PayAgent, Credit, Reverse, Retry, TwinPay, Wait {
    }

    /** The agent pays a vendor. */
    record Pay(int agent, long amountMicros, String tool, String task) implements Action {
    }

    /** The agent reserves an amount; ttlMs 0 leaves the ledger's default (15 minutes). */
    record PlaceHold(int agent, long amountMicros, String tool, String task, int ttlMs) implements Action {
    }

    /**
     * The hold's agent captures permille/1000 of the hold (1000: exactly the hold, above: more).
     * Holds are picked as {@link LedgerTry} says: mostly open ones, sometimes any.
     */
    record Capture(int hold, int permille) implements Action {
    }

    /** The hold's agent releases it. */
    record Release(int hold) implements Action {
    }

    /** The agent pays another agent of the try (the payee is payer + offset). */
    record PayAgent(int payer, int payeeOffset, long amountMicros, String tool, String task) implements Action {
    }

    /** The admin tops the agent up. */
    record Credit(int agent, long amountMicros) implements Action {
    }

    /**
     * The admin refunds a reversible entry: everything left (permille 0), a part, or one micro
     * more than is left.
     */
    record Reverse(int entry, int permille, boolean tooLarge) implements Action {
    }

    /** An earlier answered request sent again with the same request_id, unchanged or changed. */
    record Retry(int request, boolean sameBody) implements Action {
    }

    /** The same payment sent twice at once (a client retrying before its first answer). */
    record TwinPay(int agent, long amountMicros, String tool) implements Action {
    }

    /** Time passes, so that short holds expire. */
    record Wait(int ms) implements Action {
    }

    static Arbitrary<TrySpec> tries() {
        Arbitrary<List<AgentSpec>> agents = agent().list().ofMinSize(2).ofMaxSize(4);
        Arbitrary<List<LedgerModel.Cap>> teamCaps = caps(true).map(LedgerActions::withoutInvertedWindows);
        Arbitrary<List<Action>> actions = action().list().ofMinSize(10).ofMaxSize(40);
        return Combinators.combine(agents, teamCaps, actions).as(TrySpec::new);
    }

    static Arbitrary<AgentSpec> agent() {
        return Combinators.combine(
                caps(false),
                Arbitraries.frequencyOf(Tuple.of(3, Arbitraries.just(0)), Tuple.of(1, Arbitraries.integers().between(1, 3))),
                Arbitraries.frequencyOf(Tuple.of(1, Arbitraries.just(0L)),
                        Tuple.of(6, Arbitraries.longs().between(100, 5_000).map(k -> k * 1_000))),
                Arbitraries.of(true, false)).as(AgentSpec::new);
    }

    /** 0 to 3 caps, one per window, enforcement and tool (identity refuses duplicates). */
    static Arbitrary<List<LedgerModel.Cap>> caps(boolean team) {
        Arbitrary<CapWindow> window = Arbitraries.of(CapWindow.CAP_WINDOW_PAYMENT, CapWindow.CAP_WINDOW_TASK,
                CapWindow.CAP_WINDOW_HOUR, CapWindow.CAP_WINDOW_DAY, CapWindow.CAP_WINDOW_WEEK,
                CapWindow.CAP_WINDOW_MONTH, CapWindow.CAP_WINDOW_LIFETIME);
        Arbitrary<Long> limit = Arbitraries.longs().between(50, 3_000).map(k -> k * 1_000);
        Arbitrary<Boolean> hard = Arbitraries.frequencyOf(Tuple.of(4, Arbitraries.just(true)), Tuple.of(1, Arbitraries.just(false)));
        Arbitrary<String> tool = Arbitraries.frequencyOf(Tuple.of(3, Arbitraries.just("")), Tuple.of(1, Arbitraries.of(TOOLS)));
        Arbitrary<LedgerModel.Cap> cap = Combinators.combine(window, limit, hard, tool)
                .as((w, l, h, t) -> new LedgerModel.Cap(team, w, l, h, t));
        return cap.list().ofMaxSize(3).uniqueElements(c -> List.of(c.window(), c.hard(), c.tool()));
    }

    /**
     * A team has no allow_inverted_windows: drop every cap whose limit is above that of a larger
     * window's cap with the same tool and enforcement (identity's rule).
     */
    static List<LedgerModel.Cap> withoutInvertedWindows(List<LedgerModel.Cap> caps) {
        List<LedgerModel.Cap> kept = new ArrayList<>();
        for (LedgerModel.Cap c : caps) {
            boolean inverted = kept.stream().anyMatch(k -> k.tool().equals(c.tool()) && k.hard() == c.hard()
                    && ((smaller(c.window(), k.window()) && c.limitMicros() > k.limitMicros())
                    || (smaller(k.window(), c.window()) && k.limitMicros() > c.limitMicros())));
            if (!inverted) {
                kept.add(c);
            }
        }
        return kept;
    }

    /** Whether window a lies inside window b (identity's WindowOrder). */
    static boolean smaller(CapWindow a, CapWindow b) {
        if (a == b) {
            return false;
        }
        if (a == CapWindow.CAP_WINDOW_PAYMENT) {
            return true;
        }
        if (b == CapWindow.CAP_WINDOW_PAYMENT) {
            return false;
        }
        if (a == CapWindow.CAP_WINDOW_TASK || b == CapWindow.CAP_WINDOW_TASK) {
            return b == CapWindow.CAP_WINDOW_LIFETIME;
        }
        return a.getNumber() < b.getNumber();
    }

    static Arbitrary<Action> action() {
        Arbitrary<Integer> agent = Arbitraries.integers().between(0, 3);
        Arbitrary<Integer> ref = Arbitraries.integers().between(0, 30);
        // mostly amounts a funded agent can pay, some that only a cap or the balance can refuse
        Arbitrary<Long> amount = Arbitraries.frequencyOf(
                Tuple.of(4, Arbitraries.longs().between(1, 400).map(k -> k * 1_000)),
                Tuple.of(1, Arbitraries.longs().between(400, 3_000).map(k -> k * 1_000)));
        Arbitrary<String> tool = Arbitraries.of(TOOLS);
        Arbitrary<String> task = Arbitraries.of(TASKS);
        Arbitrary<Integer> ttlMs = Arbitraries.frequencyOf(
                Tuple.of(1, Arbitraries.just(0)), Tuple.of(2, Arbitraries.integers().between(100, 1_200)));
        Arbitrary<Integer> capturePermille = Arbitraries.frequencyOf(
                Tuple.of(2, Arbitraries.just(1_000)), Tuple.of(3, Arbitraries.integers().between(1, 2_000)));
        Arbitrary<Integer> reversePermille = Arbitraries.frequencyOf(
                Tuple.of(1, Arbitraries.just(0)), Tuple.of(2, Arbitraries.integers().between(1, 1_000)));
        return Arbitraries.frequencyOf(
                Tuple.of(20, Combinators.combine(agent, amount, tool, task).as(Pay::new)),
                Tuple.of(16, Combinators.combine(agent, amount, tool, task, ttlMs).as(PlaceHold::new)),
                Tuple.of(14, Combinators.combine(ref, capturePermille).as(Capture::new)),
                Tuple.of(6, ref.map(Release::new)),
                Tuple.of(10, Combinators.combine(agent, Arbitraries.integers().between(1, 3), amount,
                        Arbitraries.of(List.of("", TOOLS.get(0), TOOLS.get(1))), task).as(PayAgent::new)),
                Tuple.of(7, Combinators.combine(agent, amount).as(Credit::new)),
                Tuple.of(8, Combinators.combine(ref, reversePermille,
                        Arbitraries.frequencyOf(Tuple.of(5, Arbitraries.just(false)), Tuple.of(1, Arbitraries.just(true))))
                        .as(Reverse::new)),
                Tuple.of(10, Combinators.combine(ref, Arbitraries.of(true, false)).as(Retry::new)),
                Tuple.of(4, Combinators.combine(agent, amount, tool).as(TwinPay::new)),
                Tuple.of(2, Arbitraries.integers().between(50, 500).map(Wait::new)));
    }
}
