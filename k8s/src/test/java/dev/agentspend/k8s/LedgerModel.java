package dev.agentspend.k8s;

import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.ledger.v1.CapScope;
import dev.agentspend.proto.ledger.v1.DeclineReason;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The property test's own account of one try, written from the ledger's contract (README, proto),
 * not from its code: balances, holds and the spend counted in each cap window, and what the
 * ledger must answer to an authorization.
 *
 * <p>Time: every decision is made at the ledger's recorded_time, which the test learns from the
 * answer, so calendar windows and hold expiry are judged at the very instant the ledger judged
 * them. Two things stay uncertain and are bounded rather than guessed: whether a hold whose
 * expire_time lies within {@link #CLOCK_SLACK} of that instant had expired (PostgreSQL keeps
 * microseconds, the JVMs more), and whether the sweeper had already released a teammate's
 * overdue hold (a decision releases only its own agents' overdue holds first). Each prediction is therefore made twice, counting
 * the {@link Count#FEWEST} and the {@link Count#MOST} holds that may still be there; when the
 * two agree the ledger must give exactly that answer.
 */
final class LedgerModel {
    /** How far apart two clocks reading one instant may be after PostgreSQL's rounding. */
    static final Duration CLOCK_SLACK = Duration.ofMillis(2);
    private static final CapWindow[] COUNTED = {CapWindow.CAP_WINDOW_HOUR, CapWindow.CAP_WINDOW_DAY,
            CapWindow.CAP_WINDOW_WEEK, CapWindow.CAP_WINDOW_MONTH, CapWindow.CAP_WINDOW_LIFETIME};

    /** Which of the holds that may or may not still be counted a prediction counts. */
    enum Count { FEWEST, MOST }

    /** A cap the test gave an agent or its team. */
    record Cap(boolean team, CapWindow window, long limitMicros, boolean hard, String tool) {
        CapScope scope() {
            return team ? CapScope.CAP_SCOPE_TEAM : CapScope.CAP_SCOPE_AGENT;
        }
    }

    /** A spend counter: agent or team id, window bucket, tool ('' for every tool). */
    record Key(String scopeId, String bucket, String tool) {
    }

    /** The instants a decision may have been made at: one instant when the ledger said when. */
    record When(Instant earliest, Instant latest) {
        static When at(Instant t) {
            return new When(t, t);
        }
    }

    /** A cap an authorization would exceed, as the ledger reports it. */
    record Breach(CapScope scope, CapWindow window, String tool, long limitMicros, long usedMicros, long headroomMicros) {
    }

    /** The predicted answer to an authorization: approved (reason UNSPECIFIED) or the decline. */
    record Outcome(DeclineReason reason, List<Breach> tightest, List<Breach> soft) {
        boolean approved() {
            return reason == DeclineReason.DECLINE_REASON_UNSPECIFIED;
        }

        static Outcome decline(DeclineReason reason) {
            return new Outcome(reason, List.of(), List.of());
        }
    }

    static final class Agent {
        final int index;
        final String id;
        final String key;
        final String teamId;
        final List<Cap> caps;
        final int maxHolds;
        long balanceMicros;
        /** Every hold of this agent that expired at or before this instant is released in the database. */
        Instant sweptUpTo = Instant.EPOCH;

        Agent(int index, String id, String key, String teamId, List<Cap> caps, int maxHolds) {
            this.index = index;
            this.id = id;
            this.key = key;
            this.teamId = teamId;
            this.caps = caps;
            this.maxHolds = maxHolds;
        }

        boolean inTeam() {
            return !teamId.isEmpty();
        }

        void sweptAt(Instant t) {
            Instant certain = t.minus(CLOCK_SLACK);
            if (certain.isAfter(sweptUpTo)) {
                sweptUpTo = certain;
            }
        }

        @Override
        public String toString() {
            return "agent" + index;
        }
    }

    enum HoldState { OPEN, CAPTURED, RELEASED }

    static final class Hold {
        final String id;
        final Agent agent;
        final long amountMicros;
        final String tool;
        final String task;
        final Instant placed;
        final Instant expire;
        final List<Key> keys;
        HoldState state = HoldState.OPEN;

        Hold(String id, Agent agent, long amountMicros, String tool, String task, Instant placed, Instant expire) {
            this.id = id;
            this.agent = agent;
            this.amountMicros = amountMicros;
            this.tool = tool;
            this.task = task;
            this.placed = placed;
            this.expire = expire;
            this.keys = keys(agent, tool, task, placed);
        }

        /** Whether the hold had expired at {@code t} for certain (false: open, or too close to tell). */
        boolean expiredBefore(Instant t) {
            return !expire.isAfter(t.minus(CLOCK_SLACK));
        }

        /** Whether the hold was still open at {@code t} for certain. */
        boolean liveAfter(Instant t) {
            return expire.isAfter(t.plus(CLOCK_SLACK));
        }
    }

    final List<Agent> agents = new ArrayList<>();
    final List<Cap> teamCaps;
    final List<Hold> holds = new ArrayList<>();
    final Map<Key, Long> spent = new HashMap<>();

    LedgerModel(List<Cap> teamCaps) {
        this.teamCaps = teamCaps;
    }

    // ------------------------------------------------------------------ windows and counters

    /** The counter bucket of a window at {@code t}: UTC calendar windows, the task, or the lifetime. */
    static String bucket(CapWindow window, Instant t, String task) {
        ZonedDateTime z = t.atZone(ZoneOffset.UTC);
        return switch (window) {
            case CAP_WINDOW_HOUR -> "hour " + z.truncatedTo(ChronoUnit.HOURS);
            case CAP_WINDOW_DAY -> "day " + z.toLocalDate();
            case CAP_WINDOW_WEEK -> "week " + z.get(IsoFields.WEEK_BASED_YEAR) + "/" + z.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR);
            case CAP_WINDOW_MONTH -> "month " + z.getYear() + "/" + z.getMonthValue();
            case CAP_WINDOW_LIFETIME -> "lifetime";
            case CAP_WINDOW_TASK -> "task " + task;
            default -> throw new IllegalArgumentException(window + " has no counter");
        };
    }

    /** Every counter a spend of {@code tool} for {@code task} at {@code t} adds to. */
    static List<Key> keys(Agent a, String tool, String task, Instant t) {
        List<String> buckets = new ArrayList<>();
        for (CapWindow w : COUNTED) {
            buckets.add(bucket(w, t, task));
        }
        if (!task.isEmpty()) {
            buckets.add(bucket(CapWindow.CAP_WINDOW_TASK, t, task));
        }
        List<String> scopes = a.inTeam() ? List.of(a.id, a.teamId) : List.of(a.id);
        List<String> tools = tool.isEmpty() ? List.of("") : List.of("", tool);
        List<Key> keys = new ArrayList<>();
        for (String scope : scopes) {
            for (String tl : tools) {
                for (String b : buckets) {
                    keys.add(new Key(scope, b, tl));
                }
            }
        }
        return keys;
    }

    /** The counter a cap of {@code a} reads for a spend at {@code t}; null for PAYMENT caps and TASK caps without a task. */
    static Key capKey(Agent a, Cap cap, String task, Instant t) {
        if (cap.window() == CapWindow.CAP_WINDOW_PAYMENT
                || (cap.window() == CapWindow.CAP_WINDOW_TASK && task.isEmpty())) {
            return null;
        }
        return new Key(cap.team() ? a.teamId : a.id, bucket(cap.window(), t, task), cap.tool());
    }

    List<Cap> enforcedCaps(Agent a) {
        if (!a.inTeam()) {
            return a.caps;
        }
        List<Cap> all = new ArrayList<>(a.caps);
        all.addAll(teamCaps);
        return all;
    }

    // ------------------------------------------------------------------ holds that count

    /**
     * Whether {@code h} is counted at {@code when}. {@code released} says whether the decision's
     * own transaction releases (or discounts) h's overdue holds first; otherwise an overdue hold
     * counts until a transaction of its agent or the sweeper released it.
     */
    static boolean counts(Hold h, When when, Count count, boolean released) {
        if (h.state != HoldState.OPEN) {
            return false;
        }
        if (count == Count.FEWEST) {
            return h.liveAfter(when.latest());
        }
        Instant from = released || h.agent.sweptUpTo.isAfter(when.earliest()) ? when.earliest() : h.agent.sweptUpTo;
        return h.expire.isAfter(from.minus(CLOCK_SLACK));
    }

    long heldBy(Agent a, When when, Count count, Predicate<Hold> released, Hold except) {
        long sum = 0;
        for (Hold h : holds) {
            if (h.agent == a && h != except && counts(h, when, count, released.test(h))) {
                sum += h.amountMicros;
            }
        }
        return sum;
    }

    int openHolds(Agent a, When when, Count count, Predicate<Hold> released) {
        int n = 0;
        for (Hold h : holds) {
            if (h.agent == a && counts(h, when, count, released.test(h))) {
                n++;
            }
        }
        return n;
    }

    long heldOn(Key key, When when, Count count, Predicate<Hold> released, Hold except) {
        long sum = 0;
        for (Hold h : holds) {
            if (h != except && h.keys.contains(key) && counts(h, when, count, released.test(h))) {
                sum += h.amountMicros;
            }
        }
        return sum;
    }

    long spentOn(Key key) {
        return spent.getOrDefault(key, 0L);
    }

    // ------------------------------------------------------------------ authorization

    /**
     * What the ledger must answer: hold limit, HARD caps of the agent and its team (the tightest
     * breach reported), then the available balance; SOFT caps reported with an approval.
     *
     * @param amountMicros    what a PAYMENT cap bounds
     * @param incrementMicros what the windows and the available balance must take
     * @param windowTime      the instant whose windows count (a capture: its hold's placement)
     * @param except          a hold whose reservation the authorization replaces (a capture's own), or null
     */
    Outcome authorize(Agent a, long amountMicros, long incrementMicros, String tool, String task, Instant windowTime,
                      When when, boolean placesHold, Count count, Predicate<Hold> released, Hold except) {
        if (placesHold && a.maxHolds > 0 && openHolds(a, when, count, released) >= a.maxHolds) {
            return Outcome.decline(DeclineReason.DECLINE_REASON_HOLD_LIMIT_REACHED);
        }
        List<Breach> hard = new ArrayList<>();
        List<Breach> soft = new ArrayList<>();
        for (Cap cap : enforcedCaps(a)) {
            if (!cap.tool().isEmpty() && !cap.tool().equals(tool)) {
                continue;
            }
            Breach b = null;
            if (cap.window() == CapWindow.CAP_WINDOW_PAYMENT) {
                if (amountMicros > cap.limitMicros()) {
                    b = new Breach(cap.scope(), cap.window(), cap.tool(), cap.limitMicros(), 0, cap.limitMicros());
                }
            } else {
                Key key = capKey(a, cap, task, windowTime);
                if (key == null) {
                    continue;
                }
                long used = spentOn(key) + heldOn(key, when, count, released, except);
                if (used + incrementMicros > cap.limitMicros()) {
                    b = new Breach(cap.scope(), cap.window(), cap.tool(), cap.limitMicros(), used,
                            Math.max(0, cap.limitMicros() - used));
                }
            }
            if (b != null) {
                (cap.hard() ? hard : soft).add(b);
            }
        }
        if (!hard.isEmpty()) {
            long tightest = hard.stream().mapToLong(Breach::headroomMicros).min().orElseThrow();
            return new Outcome(DeclineReason.DECLINE_REASON_CAP_EXCEEDED,
                    hard.stream().filter(b -> b.headroomMicros() == tightest).toList(), List.of());
        }
        long available = a.balanceMicros - heldBy(a, when, count, released, except);
        if (incrementMicros > available) {
            return Outcome.decline(DeclineReason.DECLINE_REASON_INSUFFICIENT_BALANCE);
        }
        return new Outcome(DeclineReason.DECLINE_REASON_UNSPECIFIED, List.of(), soft);
    }

    /** Records an approved spend: the agent's balance and every counter of the spend. */
    void spend(Agent a, long amountMicros, List<Key> keys) {
        a.balanceMicros -= amountMicros;
        for (Key k : keys) {
            spent.merge(k, amountMicros, Long::sum);
        }
    }

    Hold hold(String id) {
        return holds.stream().filter(h -> h.id.equals(id)).findFirst().orElseThrow();
    }
}
