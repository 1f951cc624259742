package dev.agentspend.alerts.domain;

import dev.agentspend.alerts.domain.AgentPolicy.CapLimit;
import dev.agentspend.alerts.domain.Evidence.Measure;

import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAdjusters;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The nine rules as pure functions of an agent's state, policy and settings at an instant.
 * Windows end at {@code now} and are counted in whole buckets of the state's bucket size (the
 * current, partial bucket included), so a window of W seconds spans W / bucket buckets.
 *
 * <p>Noise guards (defaults in {@link RuleType}): velocity, concentration and spikes need a minimum
 * spend in the window; concentration, retries and spikes a minimum number of payments; spikes also a
 * minimum number of baseline payments (a brand-new tool is left to the velocity rule rather than
 * auto-suspending on first use); cost per task needs a minimum number of completed tasks in both
 * weeks; declines a minimum count.
 */
public final class Rules {
    private Rules() {
    }

    /**
     * The window of the last {@code seconds} ending at now, in buckets; {@code lagBuckets} is how far
     * its last bucket lies before now's (0, or the length of the window it precedes), which with its
     * length names its shape for {@link BucketSums}.
     */
    record Window(long firstBucket, long lastBucket, long lagBuckets, Instant start, Instant end) {
        static Window ending(Instant now, long seconds, int bucketSeconds) {
            long last = Math.floorDiv(now.getEpochSecond(), bucketSeconds);
            long n = Math.max(1, seconds / bucketSeconds);
            long first = last - n + 1;
            return new Window(first, last, 0, Instant.ofEpochSecond(first * bucketSeconds), now);
        }

        /** The window of the same kind just before this one, {@code seconds} long. */
        Window before(long seconds, int bucketSeconds) {
            long n = Math.max(1, seconds / bucketSeconds);
            long last = firstBucket - 1;
            long first = last - n + 1;
            return new Window(first, last, lagBuckets + lastBucket - firstBucket + 1,
                    Instant.ofEpochSecond(first * bucketSeconds), start);
        }

        /** The agent's activity in this window, summed; read it before the agent's next entry. */
        AgentState.Bucket sum(AgentState s) {
            return s.sums.over(s.buckets, firstBucket, lastBucket, lagBuckets);
        }
    }

    public static List<Finding> evaluate(RuleType rule, AgentState s, AgentPolicy p, RuleSettings st, Instant now,
                                         int bucketSeconds) {
        return switch (rule) {
            case COST_PER_TASK_INCREASE -> costPerTask(s, st, now);
            case SPEND_VELOCITY -> velocity(s, p, st, now, bucketSeconds);
            case TOOL_CONCENTRATION -> toolConcentration(s, st, now, bucketSeconds);
            case CAP_UTILIZATION -> capUtilization(s, p, st, now);
            case RETRY_RATE -> retryRate(s, st, now, bucketSeconds);
            case OFF_HOURS_SPEND -> offHours(s, p, st, now, bucketSeconds);
            case TOOL_SPEND_SPIKE -> toolSpike(s, st, now, bucketSeconds);
            case DECLINE_BURST -> declineBurst(s, st, now, bucketSeconds);
            case PAYMENT_LOOP -> List.of(); // evaluated on the payment graph, see Evaluator
        };
    }

    static List<Finding> costPerTask(AgentState s, RuleSettings st, Instant now) {
        long today = LocalDate.ofInstant(now, ZoneOffset.UTC).toEpochDay();
        long curSpend = 0, curTasks = 0, prevSpend = 0, prevTasks = 0;
        for (var e : s.days.subMap(today - 13, true, today, true).entrySet()) {
            if (e.getKey() >= today - 6) {
                curSpend += e.getValue().taskSpend;
                curTasks += e.getValue().tasks;
            } else {
                prevSpend += e.getValue().taskSpend;
                prevTasks += e.getValue().tasks;
            }
        }
        long minTasks = st.param("min_tasks");
        long inc = st.param("increase_permille");
        if (curTasks < Math.max(1, minTasks) || prevTasks < Math.max(1, minTasks) || prevSpend <= 0) {
            return List.of();
        }
        // cur/curTasks > prev/prevTasks * (1000 + inc) / 1000, cross-multiplied exactly.
        if (Exact.compareProducts(curSpend, prevTasks, 1000, prevSpend, curTasks, 1000 + inc) <= 0) {
            return List.of();
        }
        long curAvg = curSpend / curTasks;
        long prevAvg = prevSpend / prevTasks;
        long actualIncrease = Exact.mulDiv(curAvg - prevAvg, 1000, prevAvg);
        Instant start = LocalDate.ofEpochDay(today - 13).atStartOfDay(ZoneOffset.UTC).toInstant();
        return List.of(finding(RuleType.COST_PER_TASK_INCREASE, s, "",
                String.format("cost per task over 7 days is %d micros, up %d permille from %d micros the week before (threshold %d permille)",
                        curAvg, actualIncrease, prevAvg, inc),
                List.of(new Measure("avg_cost_per_task_micros", curAvg, Exact.mulDiv(prevAvg, 1000 + inc, 1000)),
                        new Measure("previous_avg_cost_per_task_micros", prevAvg, 0),
                        new Measure("increase_permille", actualIncrease, inc),
                        new Measure("tasks", curTasks, minTasks),
                        new Measure("previous_tasks", prevTasks, minTasks)),
                start, now, ""));
    }

    static List<Finding> velocity(AgentState s, AgentPolicy p, RuleSettings st, Instant now, int bs) {
        long w = st.param("window_seconds");
        Window win = Window.ending(now, w, bs);
        long spend = win.sum(s).spend;
        long minSpend = st.param("min_spend_micros");
        if (spend < Math.max(1, minSpend)) {
            return List.of();
        }
        CapLimit cap = p == null ? null : p.dailyCap();
        List<Measure> m = new ArrayList<>();
        long budget;
        String basis;
        if (cap != null) {
            long limit = cap.limitAt(now);
            int minutes = p.workingHours().hasWorkingHours() ? p.workingHours().workingMinutes(p.workingHours().localDate(now)) : 1440;
            if (minutes <= 0) {
                minutes = 1440;
            }
            budget = Exact.mulDiv(limit, w, minutes * 60L);
            basis = "the daily cap of " + limit + " micros spread over " + minutes + " working minutes";
            m.add(new Measure("daily_cap_micros", limit, 0));
            m.add(new Measure("working_minutes", minutes, 0));
        } else {
            long bw = st.param("baseline_window_seconds");
            long baseline = win.before(bw, bs).sum(s).spend;
            long mult = st.param("baseline_multiplier_permille");
            budget = Exact.mulDiv(baseline, w * mult, bw * 1000);
            basis = mult + " permille of the baseline of " + baseline + " micros over " + bw + " s";
            m.add(new Measure("baseline_spend_micros", baseline, 0));
            m.add(new Measure("baseline_window_seconds", bw, 0));
        }
        if (spend <= budget) {
            return List.of();
        }
        m.add(0, new Measure("window_spend_micros", spend, budget));
        m.add(1, new Measure("window_seconds", w, 0));
        m.add(new Measure("min_spend_micros", minSpend, 0));
        return List.of(finding(RuleType.SPEND_VELOCITY, s, "",
                String.format("spent %d micros in %d s, over the projected budget of %d micros (%s)", spend, w, budget, basis),
                m, win.start(), now, ""));
    }

    static List<Finding> toolConcentration(AgentState s, RuleSettings st, Instant now, int bs) {
        Window win = Window.ending(now, st.param("window_seconds"), bs);
        AgentState.Bucket sum = win.sum(s);
        long total = sum.spend;
        long payments = sum.payments;
        long minSpend = st.param("min_spend_micros");
        long minPayments = st.param("min_payments");
        long share = st.param("share_permille");
        if (total < Math.max(1, minSpend) || payments < minPayments) {
            return List.of();
        }
        String top = null;
        long topSpend = 0;
        for (var e : sum.toolSpend.entrySet()) {
            if (e.getValue() > topSpend || (e.getValue() == topSpend && top != null && e.getKey().compareTo(top) < 0)) {
                top = e.getKey();
                topSpend = e.getValue();
            }
        }
        if (top == null || Exact.compareProducts(topSpend, 1000, total, share) <= 0) {
            return List.of();
        }
        long actual = Exact.mulDiv(topSpend, 1000, total);
        return List.of(finding(RuleType.TOOL_CONCENTRATION, s, top,
                String.format("tool %s took %d permille of %d micros spent in %d s (threshold %d permille)",
                        top, actual, total, st.param("window_seconds"), share),
                List.of(new Measure("tool_share_permille", actual, share),
                        new Measure("tool_spend_micros", topSpend, 0),
                        new Measure("total_spend_micros", total, minSpend),
                        new Measure("payments", payments, minPayments),
                        new Measure("window_seconds", st.param("window_seconds"), 0)),
                win.start(), now, top));
    }

    static List<Finding> capUtilization(AgentState s, AgentPolicy p, RuleSettings st, Instant now) {
        if (p == null) {
            return List.of();
        }
        long threshold = st.param("utilization_permille");
        List<Finding> out = new ArrayList<>();
        for (CapLimit cap : p.caps()) {
            long limit = cap.limitAt(now);
            if (limit <= 0) {
                continue;
            }
            Instant start = windowStart(cap.window(), now);
            long used = cap.window() == AgentPolicy.CapWindow.LIFETIME && cap.tool().isEmpty()
                    ? s.lifetimeSpend
                    : s.capWindows.getOrDefault(capKey(cap.window(), cap.tool(), start), 0L);
            if (Exact.compareProducts(used, 1000, limit, threshold) > 0) {
                long actual = Exact.mulDiv(used, 1000, limit);
                String subject = "now:" + cap.window() + (cap.tool().isEmpty() ? "" : ":" + cap.tool());
                out.add(finding(RuleType.CAP_UTILIZATION, s, subject,
                        String.format("%s cap%s is %d permille used (%d of %d micros; threshold %d permille)",
                                cap.window(), cap.tool().isEmpty() ? "" : " on " + cap.tool(), actual, used, limit, threshold),
                        List.of(new Measure("utilization_permille", actual, threshold),
                                new Measure("used_micros", used, 0),
                                new Measure("limit_micros", limit, 0)),
                        start, now, cap.tool()));
            }
        }
        CapLimit daily = p.dailyCap();
        if (daily != null && daily.limitAt(now) > 0) {
            long limit = daily.limitAt(now);
            long lookback = st.param("lookback_days");
            long needed = st.param("regular_days");
            long today = LocalDate.ofInstant(now, ZoneOffset.UTC).toEpochDay();
            int over = 0;
            StringBuilder which = new StringBuilder();
            for (var e : s.days.subMap(today - lookback + 1, true, today, true).entrySet()) {
                if (Exact.compareProducts(e.getValue().spend, 1000, limit, threshold) > 0) {
                    over++;
                    which.append(which.length() == 0 ? "" : ", ").append(LocalDate.ofEpochDay(e.getKey()));
                }
            }
            if (over >= Math.max(1, needed)) {
                out.add(finding(RuleType.CAP_UTILIZATION, s, "regular",
                        String.format("daily cap of %d micros was over %d permille used on %d of the last %d days (%s; threshold %d days)",
                                limit, threshold, over, lookback, which, needed),
                        List.of(new Measure("days_over_threshold", over, needed),
                                new Measure("lookback_days", lookback, 0),
                                new Measure("utilization_permille_threshold", threshold, 0),
                                new Measure("limit_micros", limit, 0)),
                        LocalDate.ofEpochDay(today - lookback + 1).atStartOfDay(ZoneOffset.UTC).toInstant(), now, ""));
            }
        }
        return out;
    }

    static List<Finding> retryRate(AgentState s, RuleSettings st, Instant now, int bs) {
        Window win = Window.ending(now, st.param("window_seconds"), bs);
        AgentState.Bucket sum = win.sum(s);
        long tracked = sum.tracked;
        long retries = sum.retries;
        long retrySpend = sum.retrySpend;
        long minPayments = st.param("min_payments");
        long rate = st.param("rate_permille");
        if (tracked < Math.max(1, minPayments)
                || Exact.compareProducts(retries, 1000, tracked, rate) <= 0) {
            return List.of();
        }
        long actual = Exact.mulDiv(retries, 1000, tracked);
        return List.of(finding(RuleType.RETRY_RATE, s, "",
                String.format("%d of %d payments in %d s were retries (%d permille, threshold %d permille), costing %d micros",
                        retries, tracked, st.param("window_seconds"), actual, rate, retrySpend),
                List.of(new Measure("retry_rate_permille", actual, rate),
                        new Measure("retries", retries, 0),
                        new Measure("payments", tracked, minPayments),
                        new Measure("retry_spend_micros", retrySpend, 0),
                        new Measure("window_seconds", st.param("window_seconds"), 0)),
                win.start(), now, ""));
    }

    static List<Finding> offHours(AgentState s, AgentPolicy p, RuleSettings st, Instant now, int bs) {
        if (p == null || !p.workingHours().hasWorkingHours()) {
            return List.of();
        }
        Window win = Window.ending(now, st.param("window_seconds"), bs);
        AgentState.Bucket sum = win.sum(s);
        long spend = sum.offHoursSpend;
        long payments = sum.offHoursPayments;
        long minSpend = st.param("min_spend_micros");
        long minPayments = st.param("min_payments");
        if (spend < Math.max(1, minSpend) || payments < Math.max(1, minPayments)) {
            return List.of();
        }
        return List.of(finding(RuleType.OFF_HOURS_SPEND, s, "",
                String.format("spent %d micros in %d payments outside working hours (%s) in the last %d s",
                        spend, payments, p.workingHours().zone(), st.param("window_seconds")),
                List.of(new Measure("off_hours_spend_micros", spend, minSpend),
                        new Measure("off_hours_payments", payments, minPayments),
                        new Measure("window_seconds", st.param("window_seconds"), 0)),
                win.start(), now, ""));
    }

    static List<Finding> toolSpike(AgentState s, RuleSettings st, Instant now, int bs) {
        long w = st.param("window_seconds");
        long bw = st.param("baseline_window_seconds");
        Window win = Window.ending(now, w, bs);
        Window base = win.before(bw, bs);
        AgentState.Bucket cur = win.sum(s);
        AgentState.Bucket prev = base.sum(s);
        long minSpend = st.param("min_spend_micros");
        long minPayments = st.param("min_payments");
        long minBase = st.param("min_baseline_payments");
        long mult = st.param("multiplier_permille");
        List<Finding> out = new ArrayList<>();
        // a tool must have spent at least 1 micro in the window, so the window's spend map names every candidate
        for (var e : cur.toolSpend.entrySet()) {
            String tool = e.getKey();
            long spend = e.getValue();
            long count = cur.toolPayments.getOrDefault(tool, 0L);
            long baseSpend = prev.toolSpend.getOrDefault(tool, 0L);
            long basePayments = prev.toolPayments.getOrDefault(tool, 0L);
            if (spend < Math.max(1, minSpend) || count < minPayments || basePayments < Math.max(1, minBase)) {
                continue;
            }
            long expected = Exact.mulDiv(baseSpend, w, bw);
            if (Exact.compareProducts(spend, 1000, expected, mult) <= 0) {
                continue;
            }
            long ratio = expected <= 0 ? 0 : Exact.mulDiv(spend, 1000, expected);
            out.add(finding(RuleType.TOOL_SPEND_SPIKE, s, tool,
                    String.format("tool %s: %d micros in %d payments over %d s, %d permille of its baseline rate (%d micros per %d s; threshold %d permille)",
                            tool, spend, count, w, ratio, expected, w, mult),
                    List.of(new Measure("window_spend_micros", spend, Exact.mulDiv(expected, mult, 1000)),
                            new Measure("ratio_to_baseline_permille", ratio, mult),
                            new Measure("expected_spend_micros", expected, 0),
                            new Measure("window_payments", count, minPayments),
                            new Measure("baseline_spend_micros", baseSpend, 0),
                            new Measure("baseline_payments", basePayments, minBase),
                            new Measure("window_seconds", w, 0),
                            new Measure("baseline_window_seconds", bw, 0)),
                    win.start(), now, tool));
        }
        // in tool name order, as the alerts fire
        out.sort(java.util.Comparator.comparing(Finding::subject));
        return out;
    }

    static List<Finding> declineBurst(AgentState s, RuleSettings st, Instant now, int bs) {
        Window win = Window.ending(now, st.param("window_seconds"), bs);
        AgentState.Bucket sum = win.sum(s);
        long declines = sum.declines;
        long min = st.param("min_declines");
        if (declines < Math.max(1, min)) {
            return List.of();
        }
        Map<String, Long> reasons = new java.util.TreeMap<>(sum.declineReasons);
        List<Measure> m = new ArrayList<>();
        m.add(new Measure("declines", declines, min));
        m.add(new Measure("window_seconds", st.param("window_seconds"), 0));
        reasons.forEach((r, v) -> m.add(new Measure("declines_" + r.toLowerCase(java.util.Locale.ROOT), v, 0)));
        return List.of(finding(RuleType.DECLINE_BURST, s, "",
                String.format("%d declined payments in %d s (threshold %d): %s", declines, st.param("window_seconds"), min, reasons),
                m, win.start(), now, ""));
    }

    /** The start of the calendar cap window (UTC) that contains now. */
    public static Instant windowStart(AgentPolicy.CapWindow window, Instant now) {
        return switch (window) {
            case HOUR -> now.truncatedTo(ChronoUnit.HOURS);
            case DAY -> now.truncatedTo(ChronoUnit.DAYS);
            case WEEK -> LocalDate.ofInstant(now, ZoneOffset.UTC).with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY))
                    .atStartOfDay(ZoneOffset.UTC).toInstant();
            case MONTH -> LocalDate.ofInstant(now, ZoneOffset.UTC).withDayOfMonth(1).atStartOfDay(ZoneOffset.UTC).toInstant();
            case LIFETIME -> Instant.EPOCH;
        };
    }

    public static String capKey(AgentPolicy.CapWindow window, String tool, Instant start) {
        return window + "|" + tool + "|" + start.getEpochSecond();
    }

    /**
     * Whether the window a {@link #capKey} names ended before the window of its kind that holds
     * {@code latest}: the rules, whose now is never earlier, read it no more. False for a key not in
     * that form (kept, not guessed at).
     */
    static boolean capWindowEnded(String key, Instant latest) {
        for (AgentPolicy.CapWindow w : AgentPolicy.CapWindow.values()) {
            String name = w.name();
            if (key.length() > name.length() && key.charAt(name.length()) == '|' && key.startsWith(name)) {
                long start = Long.parseLong(key, key.lastIndexOf('|') + 1, key.length(), 10);
                return start < windowStart(w, latest).getEpochSecond();
            }
        }
        return false;
    }

    private static Finding finding(RuleType rule, AgentState s, String subject, String summary, List<Measure> m,
                                   Instant start, Instant end, String tool) {
        return new Finding(rule, List.of(s.agentId), s.teamId, subject,
                new Evidence(summary, m, s.currencyCode, start, end, tool, List.of(), 0, null));
    }

}
