package dev.agentspend.k8s;

import dev.agentspend.proto.identity.v1.CapWindow;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * What one try of {@link LedgerPropertiesTest} does, as plain data drawn from a seeded
 * {@link SplittableRandom} (one seed, one try) and shrunk by {@link PropertyRunner}: the agents
 * (caps, hold limit, first top-up, team membership), the team's caps and a sequence of actions.
 * Agents, holds, requests and entries are named by index and resolved modulo what the try has at
 * that point, so any shrunk sequence is still a valid one.
 */
final class LedgerActions {
    static final List<String> TOOLS = List.of("tools/alpha", "tools/beta", "tools/gamma");
    static final List<String> TASKS = List.of("", "", "task-1", "task-2");
    static final List<CapWindow> WINDOWS = List.of(CapWindow.CAP_WINDOW_PAYMENT, CapWindow.CAP_WINDOW_TASK,
            CapWindow.CAP_WINDOW_HOUR, CapWindow.CAP_WINDOW_DAY, CapWindow.CAP_WINDOW_WEEK,
            CapWindow.CAP_WINDOW_MONTH, CapWindow.CAP_WINDOW_LIFETIME);
    /** The grid of round amounts and limits (see {@link #amountMicros}). */
    static final long ROUND_MICROS = 50_000;

    private LedgerActions() {
    }

    record AgentSpec(List<LedgerModel.Cap> caps, int maxHolds, long creditMicros, boolean inTeam) {
    }

    record TrySpec(List<AgentSpec> agents, List<LedgerModel.Cap> teamCaps, List<Action> actions) {
        TrySpec withActions(List<Action> fewer) {
            return new TrySpec(agents, teamCaps, fewer);
        }

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

    /** A try drawn from the random source: 2 to 4 agents, the team's caps and 10 to 40 actions. */
    static TrySpec generate(SplittableRandom random) {
        List<AgentSpec> agents = new ArrayList<>();
        for (int i = random.nextInt(2, 5); i > 0; i--) {
            agents.add(agent(random));
        }
        List<LedgerModel.Cap> teamCaps = withoutInvertedWindows(caps(random, true));
        List<Action> actions = new ArrayList<>();
        for (int i = random.nextInt(10, 41); i > 0; i--) {
            actions.add(action(random));
        }
        return new TrySpec(List.copyOf(agents), teamCaps, List.copyOf(actions));
    }

    static AgentSpec agent(SplittableRandom random) {
        List<LedgerModel.Cap> caps = caps(random, false);
        int maxHolds = oneIn(random, 4) ? random.nextInt(1, 4) : 0;
        long creditMicros = oneIn(random, 7) ? 0 : random.nextLong(100, 5_001) * 1_000;
        return new AgentSpec(caps, maxHolds, creditMicros, random.nextBoolean());
    }

    /** 0 to 3 caps, one per window, enforcement and tool (identity refuses duplicates). */
    static List<LedgerModel.Cap> caps(SplittableRandom random, boolean team) {
        List<LedgerModel.Cap> caps = new ArrayList<>();
        for (int i = random.nextInt(0, 4); i > 0; i--) {
            CapWindow window = WINDOWS.get(random.nextInt(WINDOWS.size()));
            long limitMicros = random.nextBoolean() ? random.nextLong(1, 61) * ROUND_MICROS : random.nextLong(50, 3_001) * 1_000;
            boolean hard = !oneIn(random, 5);
            String tool = oneIn(random, 4) ? pick(random, TOOLS) : "";
            LedgerModel.Cap cap = new LedgerModel.Cap(team, window, limitMicros, hard, tool);
            if (caps.stream().noneMatch(c -> c.window() == window && c.hard() == hard && c.tool().equals(tool))) {
                caps.add(cap);
            }
        }
        return List.copyOf(caps);
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

    /** One action, in the proportions below: mostly payments, holds and their captures. */
    static Action action(SplittableRandom random) {
        int agent = random.nextInt(0, 4);
        int ref = random.nextInt(0, 31);
        int kind = random.nextInt(97);
        if ((kind -= 20) < 0) {
            return new Pay(agent, amountMicros(random), pick(random, TOOLS), pick(random, TASKS));
        }
        if ((kind -= 16) < 0) {
            int ttlMs = oneIn(random, 3) ? 0 : random.nextInt(100, 1_201);
            return new PlaceHold(agent, amountMicros(random), pick(random, TOOLS), pick(random, TASKS), ttlMs);
        }
        if ((kind -= 14) < 0) {
            return new Capture(ref, random.nextInt(5) < 2 ? 1_000 : random.nextInt(1, 2_001));
        }
        if ((kind -= 6) < 0) {
            return new Release(ref);
        }
        if ((kind -= 10) < 0) {
            return new PayAgent(agent, random.nextInt(1, 4), amountMicros(random),
                    pick(random, List.of("", TOOLS.get(0), TOOLS.get(1))), pick(random, TASKS));
        }
        if ((kind -= 7) < 0) {
            return new Credit(agent, amountMicros(random));
        }
        if ((kind -= 8) < 0) {
            return new Reverse(ref, oneIn(random, 3) ? 0 : random.nextInt(1, 1_001), oneIn(random, 6));
        }
        if ((kind -= 10) < 0) {
            return new Retry(ref, random.nextBoolean());
        }
        if ((kind -= 4) < 0) {
            return new TwinPay(agent, amountMicros(random), pick(random, TOOLS));
        }
        return new Wait(random.nextInt(50, 501));
    }

    /**
     * Mostly amounts a funded agent can pay, some that only a cap or the balance can refuse, and one
     * in five a round amount, or one micro or a thousand micros above it: against the round limits
     * half the caps have, these land exactly on a cap or just past it, where a check that is off by
     * a little would otherwise pass unseen.
     */
    static long amountMicros(SplittableRandom random) {
        int kind = random.nextInt(5);
        if (kind == 0) {
            return random.nextLong(1, 9) * ROUND_MICROS + pick(random, List.of(0L, 1L, 1_000L));
        }
        return (kind < 4 ? random.nextLong(1, 401) : random.nextLong(400, 3_001)) * 1_000;
    }

    static boolean oneIn(SplittableRandom random, int n) {
        return random.nextInt(n) == 0;
    }

    static <T> T pick(SplittableRandom random, List<T> from) {
        return from.get(random.nextInt(from.size()));
    }
}
