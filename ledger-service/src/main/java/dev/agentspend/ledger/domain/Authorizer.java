package dev.agentspend.ledger.domain;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The authorization rules, without framework or database: given the policy, the agent's account
 * and the counters (read under the agent's and team's locks), decide one payment, hold or
 * capture.
 *
 * <p>Order of the checks: policy freshness, status, hold limit, sandbox ceiling, HARD caps of the
 * agent and then of the team (the payment must pass both), balance. SOFT caps never decline; the
 * ones exceeded are reported with the approval.
 */
public final class Authorizer {
    private Authorizer() {
    }

    /** The agent's account under its lock: balance, reserved amount and number of open holds. */
    public record Account(long balance, long held, int openHolds) {
        public long available() {
            return Money.subtract(balance, held, "the agent's available balance");
        }
    }

    /**
     * What is authorized.
     *
     * @param amount      the amount a PAYMENT cap bounds (the payment, the hold, or the capture's total)
     * @param increment   what the authorization adds to the windows and takes from the available
     *                    balance (for a capture above its hold: the excess only)
     * @param windowTime  the time whose windows are counted (now; for a capture, the hold's placement)
     * @param now         the ledger's current time (temporary raises)
     * @param hold        whether a hold is placed (max_concurrent_holds applies)
     */
    public record Request(long amount, long increment, String tool, String taskId, Instant windowTime, Instant now,
                          boolean hold) {
    }

    public static Decision decide(PolicyView policy, boolean policyFresh, Account account,
                                  Function<CounterKey, Usage> counters, Request request) {
        if (!policyFresh) {
            return Decision.decline(DeclineReason.POLICY_UNAVAILABLE, null,
                    "the ledger has not heard from the policy feed within its staleness bound; retry later");
        }
        if (policy.status() == AgentStatus.REVOKED) {
            return Decision.decline(DeclineReason.AGENT_REVOKED, null, "the agent is revoked");
        }
        if (policy.status() != AgentStatus.ACTIVE) {
            return Decision.decline(DeclineReason.AGENT_SUSPENDED, null, "the agent is suspended");
        }
        if (request.hold() && policy.maxConcurrentHolds() > 0 && account.openHolds() >= policy.maxConcurrentHolds()) {
            return Decision.decline(DeclineReason.HOLD_LIMIT_REACHED, null,
                    "the agent already has " + account.openHolds() + " open holds (at most "
                            + policy.maxConcurrentHolds() + "); capture or release one first");
        }
        if (policy.sandbox()) {
            Usage lifetime = counters.apply(new CounterKey(policy.agentId(), Window.LIFETIME.bucket(request.windowTime(), null), ""));
            long used = lifetime.used();
            if (Money.add(used, request.increment(), "the agent's lifetime spend") > policy.sandboxCeiling()) {
                Breach b = new Breach(Scope.SANDBOX, Window.LIFETIME, true, "", policy.sandboxCeiling(), used,
                        Math.max(0, policy.sandboxCeiling() - used), null);
                return Decision.decline(DeclineReason.SANDBOX_CEILING, b,
                        "the sandbox agent's lifetime ceiling of " + policy.sandboxCeiling() + " micros would be exceeded (headroom "
                                + b.headroom() + ")");
            }
        }
        Breach tightestHard = null;
        List<Breach> soft = new ArrayList<>();
        for (CapRule cap : policy.enforcedCaps()) {
            Breach b = check(policy, cap, counters, request);
            if (b == null) {
                continue;
            }
            if (b.hard()) {
                if (tightestHard == null || b.headroom() < tightestHard.headroom()) {
                    tightestHard = b;
                }
            } else {
                soft.add(b);
            }
        }
        if (tightestHard != null) {
            return Decision.decline(DeclineReason.CAP_EXCEEDED, tightestHard,
                    "the " + tightestHard.scope().name().toLowerCase() + " " + tightestHard.window().name().toLowerCase()
                            + (tightestHard.tool().isEmpty() ? "" : " " + tightestHard.tool())
                            + " cap of " + tightestHard.limit() + " micros would be exceeded (headroom "
                            + tightestHard.headroom() + " micros)");
        }
        if (request.increment() > account.available()) {
            return Decision.decline(DeclineReason.INSUFFICIENT_BALANCE, null,
                    "available balance " + account.available() + " micros is less than " + request.increment() + " micros");
        }
        return Decision.approve(soft);
    }

    /** The breach of one cap by the request, or null when the request fits or the cap does not apply. */
    static Breach check(PolicyView policy, CapRule cap, Function<CounterKey, Usage> counters, Request request) {
        if (!cap.appliesTo(request.tool())) {
            return null;
        }
        long limit = cap.effectiveLimit(request.now());
        if (cap.window() == Window.PAYMENT) {
            if (request.amount() > limit) {
                return new Breach(cap.scope(), cap.window(), cap.hard(), cap.tool(), limit, 0, limit, null);
            }
            return null;
        }
        CounterKey key = CounterKey.forCap(cap, policy.scopeId(cap.scope()), request.taskId(), request.windowTime());
        if (key == null) {
            return null;
        }
        long used = counters.apply(key).used();
        if (Money.add(used, request.increment(), "the " + cap.window().name().toLowerCase() + " window's spend") <= limit) {
            return null;
        }
        return new Breach(cap.scope(), cap.window(), cap.hard(), cap.tool(), limit, used, Math.max(0, limit - used),
                cap.window().isCalendar() ? cap.window().end(request.windowTime()) : null);
    }

    /**
     * For each counter an approved request grows: the tightest HARD limit in force on it (for
     * VerifyLedger). Counters without a HARD cap are absent.
     */
    public static Map<CounterKey, Long> hardLimits(PolicyView policy, Request request) {
        Map<CounterKey, Long> limits = new HashMap<>();
        List<CapRule> caps = new ArrayList<>(policy.enforcedCaps());
        for (CapRule cap : caps) {
            if (!cap.hard() || !cap.appliesTo(request.tool())) {
                continue;
            }
            CounterKey key = CounterKey.forCap(cap, policy.scopeId(cap.scope()), request.taskId(), request.windowTime());
            if (key != null) {
                limits.merge(key, cap.effectiveLimit(request.now()), Math::min);
            }
        }
        if (policy.sandbox()) {
            limits.merge(new CounterKey(policy.agentId(), "L", ""), policy.sandboxCeiling(), Math::min);
        }
        return limits;
    }
}
