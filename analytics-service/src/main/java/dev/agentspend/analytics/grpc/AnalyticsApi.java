package dev.agentspend.analytics.grpc;

import com.google.protobuf.Timestamp;
import dev.agentspend.analytics.config.AnalyticsConfig;
import dev.agentspend.analytics.config.AuthConfig;
import dev.agentspend.analytics.domain.Access;
import dev.agentspend.analytics.domain.Budget;
import dev.agentspend.analytics.domain.CapAdvice;
import dev.agentspend.analytics.domain.CapWindows;
import dev.agentspend.analytics.domain.DailyUtilization;
import dev.agentspend.analytics.domain.InvoiceCsv;
import dev.agentspend.common.api.WorkingSchedule;
import dev.agentspend.analytics.domain.Retention;
import dev.agentspend.analytics.domain.TaskCosts;
import dev.agentspend.analytics.domain.Triggers;
import dev.agentspend.analytics.domain.Velocity;
import dev.agentspend.analytics.domain.Windows;
import dev.agentspend.analytics.store.AgentRow;
import dev.agentspend.analytics.store.AnalyticsQueries;
import dev.agentspend.analytics.store.InvoiceStore;
import dev.agentspend.common.api.Fields;
import dev.agentspend.common.api.PageTokens;
import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.common.auth.BearerTokens;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.common.error.Violations;
import dev.agentspend.proto.analytics.v1.*;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.GetAgentRequest;
import dev.agentspend.proto.identity.v1.MutinyIdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.SetAgentPolicyRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.quarkus.grpc.GrpcClient;
import io.quarkus.grpc.GrpcClientUtils;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The analytics operations, independent of transport: the gRPC service and the REST resource both
 * call these with the caller's {@link Access.Role} and the proto request, and get the proto response
 * or an {@link ApiException}. Every request is validated here (INVALID_ARGUMENT with every field
 * violation at once) before anything is read.
 */
@ApplicationScoped
public class AnalyticsApi {
    private static final int[] STEPS = {60, 300, 900, 3600, 86400};
    private static final int MAX_POINTS = 1440;

    @Inject
    AnalyticsQueries queries;

    @Inject
    InvoiceStore invoices;

    @Inject
    AnalyticsConfig config;

    @Inject
    AuthConfig auth;

    @Inject
    Clock clock;

    @Inject
    Retention retention;

    @Inject
    LedgerConsumer consumer;

    @Inject
    @GrpcClient("identity")
    MutinyIdentityServiceGrpc.MutinyIdentityServiceStub identity;

    // ---------------------------------------------------------------- cost per task

    public Uni<GetCostPerTaskResponse> getCostPerTask(Access.Role role, GetCostPerTaskRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireRead(role);
            Violations v = new Violations();
            checkAgentId(v, req.getAgentId(), true);
            v.check(req.getWindowDays() >= 0 && req.getWindowDays() <= 90, "window_days", "must be 0 (default) to 90");
            v.check(req.getWindowDays() <= retention.maxCostWindowDays(), "window_days", "at most "
                    + retention.maxCostWindowDays() + " with tasks kept " + retention.taskDays()
                    + " days (agentspend.analytics.retention.task-days): the previous window must still be there");
            v.throwIfAny();
            int days = req.getWindowDays() == 0 ? config.costWindowDays() : req.getWindowDays();
            Instant now = clock.instant();
            LocalDate today = LocalDate.ofInstant(now, ZoneOffset.UTC);
            Instant currentEnd = startOf(today.plusDays(1));
            Instant currentStart = startOf(today.minusDays(days - 1L));
            Instant previousStart = startOf(today.minusDays(2L * days - 1));
            return agent(req.getAgentId()).chain(agent -> Uni.combine().all()
                    .unis(queries.completedTaskCosts(agent.agentId(), currentStart, currentEnd),
                            queries.completedTaskCosts(agent.agentId(), previousStart, currentStart),
                            queries.openTasks(agent.agentId()))
                    .asTuple().map(t -> {
                        TaskCosts current = TaskCosts.of(t.getItem1());
                        TaskCosts previous = TaskCosts.of(t.getItem2());
                        double change = TaskCosts.changePercent(previous.averageMicros(), current.averageMicros(),
                                previous.count() > 0);
                        return GetCostPerTaskResponse.newBuilder().setAgentId(agent.agentId())
                                .setCurrencyCode(agent.currencyCode())
                                .setCurrent(stats(current, currentStart, currentEnd))
                                .setPrevious(stats(previous, previousStart, currentStart))
                                .setHasChange(!Double.isNaN(change)).setChangePercent(Double.isNaN(change) ? 0 : change)
                                .setOpenTaskCount(t.getItem3()[0]).setOpenTaskMicros(t.getItem3()[1]).build();
                    }));
        });
    }

    private static TaskCostStats stats(TaskCosts c, Instant start, Instant end) {
        return TaskCostStats.newBuilder().setStartTime(ts(start)).setEndTime(ts(end)).setTaskCount(c.count())
                .setTotalMicros(c.totalMicros()).setAverageMicros(c.averageMicros()).setP50Micros(c.p50Micros())
                .setP90Micros(c.p90Micros()).setMaxMicros(c.maxMicros()).build();
    }

    // ---------------------------------------------------------------- velocity

    public Uni<GetSpendVelocityResponse> getSpendVelocity(Access.Role role, GetSpendVelocityRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireRead(role);
            Violations v = new Violations();
            checkAgentId(v, req.getAgentId(), true);
            v.throwIfAny();
            Instant now = clock.instant();
            Instant nowMinute = now.truncatedTo(ChronoUnit.MINUTES);
            return agent(req.getAgentId()).chain(agent -> Uni.combine().all()
                    .unis(queries.spendPerMinute(agent.agentId(), Velocity.windowStart(now, 60), nowMinute.plusSeconds(60)),
                            baseline(agent.agentId(), now))
                    .asTuple().map(t -> {
                        List<Velocity.Window> windows = Velocity.windows(t.getItem1(), now);
                        CapAdvice base = t.getItem2();
                        Budget budget = Budget.project(agent.dailyCapMicros(now), base.averageDailyMicros(),
                                base.daysOfData() > 0, agent.schedule(), now);
                        GetSpendVelocityResponse.Builder out = GetSpendVelocityResponse.newBuilder()
                                .setAgentId(agent.agentId()).setCurrencyCode(agent.currencyCode())
                                .setProjectedHourlyBudgetMicros(budget.hourlyMicros())
                                .setBudgetSource(budgetSource(budget.source()))
                                .setOverBudget(budget.exceededBy(windows.get(windows.size() - 1).spendMicros()))
                                .setAsOfTime(ts(now));
                        for (Velocity.Window w : windows) {
                            out.addWindows(VelocityWindow.newBuilder().setMinutes(w.minutes())
                                    .setSpendMicros(w.spendMicros()).setPerMinuteMicros(w.perMinuteMicros())
                                    .setPerHourMicros(w.perHourMicros()));
                        }
                        return out.build();
                    }));
        });
    }

    private Uni<CapAdvice> baseline(String agentId, Instant now) {
        LocalDate today = LocalDate.ofInstant(now, ZoneOffset.UTC);
        return Uni.combine().all().unis(queries.spendPerDay(agentId, today.minusDays(CapAdvice.MAX_DAYS), today),
                        queries.firstActiveDay(agentId)).asTuple()
                .map(t -> CapAdvice.of(t.getItem1(), t.getItem2().orElse(null), today, config.capAdviceMultiplier()));
    }

    // ---------------------------------------------------------------- tools

    public Uni<GetToolAttributionResponse> getToolAttribution(Access.Role role, GetToolAttributionRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireRead(role);
            Violations v = new Violations();
            checkAgentId(v, req.getAgentId(), false);
            v.check(Fields.isText(req.getTeamId(), Fields.MAX_ID_LENGTH), "team_id", "must be at most 128 characters");
            v.check(req.getAgentId().isEmpty() || req.getTeamId().isEmpty(), "team_id",
                    "set at most one of agent_id and team_id");
            Windows w = window(req.hasStartTime() ? req.getStartTime() : null, req.hasEndTime() ? req.getEndTime() : null,
                    Duration.ofDays(7), v);
            retention.requireMinuteEdges(w, clock.instant(), v);
            v.throwIfAny();
            return queries.toolSums(req.getAgentId(), req.getTeamId(), "", w.start(), w.end()).map(tools -> {
                long total = 0;
                for (AnalyticsQueries.ToolSums t : tools) {
                    total = Math.addExact(total, t.spendMicros());
                }
                GetToolAttributionResponse.Builder out = GetToolAttributionResponse.newBuilder()
                        .setTotalSpendMicros(total).setStartTime(ts(w.start())).setEndTime(ts(w.end()));
                for (AnalyticsQueries.ToolSums t : tools) {
                    out.addTools(ToolSpend.newBuilder().setTool(t.tool()).setSpendMicros(t.spendMicros())
                            .setShare(CapWindows.ratio(t.spendMicros(), total)).setCallCount(t.calls())
                            .setDeclineCount(t.declines()));
                }
                return out.build();
            });
        });
    }

    // ---------------------------------------------------------------- caps

    public Uni<GetCapUtilizationResponse> getCapUtilization(Access.Role role, GetCapUtilizationRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireRead(role);
            Violations v = new Violations();
            checkAgentId(v, req.getAgentId(), true);
            v.throwIfAny();
            Instant now = clock.instant();
            LocalDate today = LocalDate.ofInstant(now, ZoneOffset.UTC);
            return agent(req.getAgentId()).chain(agent -> {
                List<Cap> caps = new ArrayList<>();
                List<Uni<Long>> spent = new ArrayList<>();
                for (Cap c : agent.policy().getCapsList()) {
                    CapWindows.Kind kind = windowKind(c.getWindow());
                    if (kind == null) {
                        continue;
                    }
                    CapWindows.Range r = CapWindows.current(kind, now);
                    caps.add(c);
                    spent.add(queries.toolSums(agent.agentId(), "", c.getTool(),
                                    r.start() == null ? AnalyticsQueries.BEGINNING : r.start(),
                                    r.end() == null ? AnalyticsQueries.END_OF_TIME : r.end())
                            .map(AnalyticsApi::totalSpend));
                }
                Uni<List<Long>> allSpent = spent.isEmpty() ? Uni.createFrom().item(List.of())
                        : Uni.join().all(spent).andFailFast();
                return Uni.combine().all().unis(allSpent, queries.openHolds(agent.agentId()),
                                queries.spendPerDay(agent.agentId(), today.minusDays(13), today.plusDays(1)))
                        .asTuple().map(t -> {
                            GetCapUtilizationResponse.Builder out = GetCapUtilizationResponse.newBuilder()
                                    .setAgentId(agent.agentId()).setCurrencyCode(agent.currencyCode());
                            for (int i = 0; i < caps.size(); i++) {
                                Cap c = caps.get(i);
                                long held = 0;
                                for (AnalyticsQueries.ToolSums h : t.getItem2()) {
                                    if (c.getTool().isEmpty() || c.getTool().equals(h.tool())) {
                                        held = Math.addExact(held, h.spendMicros());
                                    }
                                }
                                long limit = AgentRow.effectiveLimit(c, now);
                                long used = t.getItem1().get(i);
                                CapWindows.Range r = CapWindows.current(windowKind(c.getWindow()), now);
                                CapWindowUtilization.Builder u = CapWindowUtilization.newBuilder().setWindow(c.getWindow())
                                        .setTool(c.getTool()).setLimitMicros(limit).setSpentMicros(used)
                                        .setHeldMicros(held).setUtilization(CapWindows.ratio(used + held, limit));
                                if (r.start() != null) {
                                    u.setWindowStartTime(ts(r.start())).setWindowEndTime(ts(r.end()));
                                }
                                out.addCaps(u);
                            }
                            long dailyCap = agent.dailyCapBaseMicros();
                            out.setHasDailyCap(dailyCap > 0);
                            if (dailyCap > 0) {
                                DailyUtilization d = DailyUtilization.of(t.getItem3(), today, dailyCap);
                                out.setAverageUtilization7D(d.average7d()).setAverageUtilization14D(d.average14d())
                                        .setDaysOver80Percent7D(d.daysOver80Percent7d());
                                for (DailyUtilization.Day day : d.days()) {
                                    out.addDays(dev.agentspend.proto.analytics.v1.DailyUtilization.newBuilder()
                                            .setDayTime(ts(startOf(day.day()))).setSpentMicros(day.spentMicros())
                                            .setUtilization(day.utilization()));
                                }
                            }
                            return out.build();
                        });
            });
        });
    }

    static CapWindows.Kind windowKind(CapWindow w) {
        return switch (w) {
            case CAP_WINDOW_HOUR -> CapWindows.Kind.HOUR;
            case CAP_WINDOW_DAY -> CapWindows.Kind.DAY;
            case CAP_WINDOW_WEEK -> CapWindows.Kind.WEEK;
            case CAP_WINDOW_MONTH -> CapWindows.Kind.MONTH;
            case CAP_WINDOW_LIFETIME -> CapWindows.Kind.LIFETIME;
            default -> null;
        };
    }

    private static long totalSpend(List<AnalyticsQueries.ToolSums> tools) {
        long total = 0;
        for (AnalyticsQueries.ToolSums t : tools) {
            total = Math.addExact(total, t.spendMicros());
        }
        return total;
    }

    // ---------------------------------------------------------------- retries and off-hours

    public Uni<GetRetryCostResponse> getRetryCost(Access.Role role, GetRetryCostRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireRead(role);
            Violations v = new Violations();
            checkAgentId(v, req.getAgentId(), false);
            Windows w = window(req.hasStartTime() ? req.getStartTime() : null, req.hasEndTime() ? req.getEndTime() : null,
                    Duration.ofDays(7), v);
            retention.requireMinuteEdges(w, clock.instant(), v);
            v.throwIfAny();
            Uni<Void> exists = req.getAgentId().isEmpty() ? Uni.createFrom().voidItem()
                    : agent(req.getAgentId()).replaceWithVoid();
            return exists.chain(() -> queries.toolSums(req.getAgentId(), "", "", w.start(), w.end())).map(tools -> {
                long spend = 0;
                long retrySpend = 0;
                long calls = 0;
                long retried = 0;
                for (AnalyticsQueries.ToolSums t : tools) {
                    spend = Math.addExact(spend, t.spendMicros());
                    retrySpend = Math.addExact(retrySpend, t.retrySpendMicros());
                    calls += t.calls();
                    retried += t.retryCalls();
                }
                return GetRetryCostResponse.newBuilder().setTotalSpendMicros(spend).setRetrySpendMicros(retrySpend)
                        .setRetrySpendShare(CapWindows.ratio(retrySpend, spend)).setCallCount(calls)
                        .setRetriedCallCount(retried).setRetryRate(CapWindows.ratio(retried, calls)).build();
            });
        });
    }

    public Uni<GetOffHoursSpendResponse> getOffHoursSpend(Access.Role role, GetOffHoursSpendRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireRead(role);
            Violations v = new Violations();
            checkAgentId(v, req.getAgentId(), true);
            Windows w = window(req.hasStartTime() ? req.getStartTime() : null, req.hasEndTime() ? req.getEndTime() : null,
                    Duration.ofDays(7), v);
            retention.requireMinutes(w, clock.instant(),
                    "off-hours spend is summed from minutes: the window must start at or after then", v);
            v.throwIfAny();
            return agent(req.getAgentId()).chain(agent -> queries.spendPerMinute(agent.agentId(), w.start(), w.end())
                    .map(minutes -> {
                        WorkingSchedule schedule = agent.schedule();
                        long total = 0;
                        long off = 0;
                        for (Map.Entry<Instant, Long> m : minutes.entrySet()) {
                            total = Math.addExact(total, m.getValue());
                            if (schedule.isOffHours(m.getKey())) {
                                off = Math.addExact(off, m.getValue());
                            }
                        }
                        return GetOffHoursSpendResponse.newBuilder().setAgentId(agent.agentId())
                                .setTimeZone(schedule.zone().getId()).setHasWorkingHours(schedule.hasWorkingHours())
                                .setTotalSpendMicros(total).setOffHoursSpendMicros(off)
                                .setOffHoursShare(CapWindows.ratio(off, total)).build();
                    }));
        });
    }

    // ---------------------------------------------------------------- flows

    public Uni<ListAgentFlowsResponse> listAgentFlows(Access.Role role, ListAgentFlowsRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireRead(role);
            Violations v = new Violations();
            checkAgentId(v, req.getAgentId(), false);
            Windows w = window(req.hasStartTime() ? req.getStartTime() : null, req.hasEndTime() ? req.getEndTime() : null,
                    Duration.ofDays(7), v);
            retention.requireMinuteEdges(w, clock.instant(), v);
            v.throwIfAny();
            return queries.flows(w.start(), w.end(), req.getAgentId()).map(flows -> {
                Set<String> edges = new HashSet<>();
                for (AnalyticsQueries.Flow f : flows) {
                    if (f.amountMicros() > 0) {
                        edges.add(f.payer() + "\n" + f.payee());
                    }
                }
                ListAgentFlowsResponse.Builder out = ListAgentFlowsResponse.newBuilder();
                for (AnalyticsQueries.Flow f : flows) {
                    out.addFlows(AgentFlow.newBuilder().setPayerAgentId(f.payer()).setPayeeAgentId(f.payee())
                            .setAmountMicros(f.amountMicros()).setPaymentCount(f.payments())
                            .setReciprocal(f.amountMicros() > 0 && edges.contains(f.payee() + "\n" + f.payer())));
                }
                return out.build();
            });
        });
    }

    // ---------------------------------------------------------------- fleet

    public Uni<GetFleetOverviewResponse> getFleetOverview(Access.Role role, GetFleetOverviewRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireRead(role);
            Violations v = new Violations();
            v.check(req.getPageSize() >= 0 && req.getPageSize() <= 500, "page_size", "must be 0 (default 100) to 500");
            v.check(Fields.isText(req.getTeamId(), Fields.MAX_ID_LENGTH), "team_id", "must be at most 128 characters");
            v.check(Fields.isText(req.getAgentId(), Fields.MAX_ID_LENGTH), "agent_id", "must be at most 128 characters");
            String labelProblem = Fields.labelProblem(req.getLabelsMap());
            if (labelProblem != null) {
                v.add("labels", labelProblem);
            }
            v.check(req.getSortFieldValue() >= 0 && req.getSortField() != FleetSortField.UNRECOGNIZED, "sort_field",
                    "must be one of the FleetSortField values");
            String fingerprint = fleetFingerprint(req);
            int offset = 0;
            if (!req.getPageToken().isEmpty()) {
                Optional<String> cursor = PageTokens.decode("fleet", req.getPageToken());
                int parsed = cursor.map(c -> parseOffset(c, fingerprint)).orElse(-1);
                if (parsed < 0) {
                    v.add("page_token", "is not a token of this listing with these filters and this order");
                }
                offset = Math.max(0, parsed);
            }
            v.throwIfAny();
            int pageSize = req.getPageSize() == 0 ? 100 : req.getPageSize();
            int from = offset;
            return fleet(req.getAgentId(), req.getTeamId(), req.getLabelsMap()).map(rows -> {
                List<FleetAgent> filtered = new ArrayList<>();
                for (FleetAgent a : rows) {
                    if (!req.getTriggeredOnly() || a.getTriggersCount() > 0) {
                        filtered.add(a);
                    }
                }
                filtered.sort(fleetOrder(req.getSortField(), req.getDescending()));
                // long: an offset near Integer.MAX_VALUE (a forged token) plus the page size must not wrap
                int to = (int) Math.min(filtered.size(), (long) from + pageSize);
                GetFleetOverviewResponse.Builder out = GetFleetOverviewResponse.newBuilder()
                        .setTotalCount(filtered.size()).setAsOfTime(ts(clock.instant()));
                if (from < to) {
                    out.addAllAgents(filtered.subList(from, to));
                }
                if (to < filtered.size()) {
                    out.setNextPageToken(PageTokens.encode("fleet", to + "|" + fingerprint));
                }
                return out.build();
            });
        });
    }

    /** Every matching agent with its four numbers and triggers (unsorted); an empty filter matches all. */
    public Uni<List<FleetAgent>> fleet(String agentId, String teamId, Map<String, String> labels) {
        Instant now = clock.instant();
        LocalDate today = LocalDate.ofInstant(now, ZoneOffset.UTC);
        return Uni.combine().all().unis(queries.agents(agentId, teamId, labels),
                        queries.dayRows(today.minusDays(CapAdvice.MAX_DAYS), today.plusDays(1)),
                        queries.spendBetween(Velocity.windowStart(now, 60), now.truncatedTo(ChronoUnit.MINUTES).plusSeconds(60)),
                        queries.topTools(today.minusDays(6), today.plusDays(1)),
                        queries.firstActiveDays())
                .asTuple().map(t -> {
                    Map<String, List<AnalyticsQueries.DayRow>> days = new HashMap<>();
                    for (AnalyticsQueries.DayRow d : t.getItem2()) {
                        days.computeIfAbsent(d.agentId(), k -> new ArrayList<>()).add(d);
                    }
                    List<FleetAgent> out = new ArrayList<>(t.getItem1().size());
                    for (AgentRow a : t.getItem1()) {
                        out.add(fleetRow(a, days.getOrDefault(a.agentId(), List.of()),
                                t.getItem3().getOrDefault(a.agentId(), 0L), t.getItem4().get(a.agentId()),
                                t.getItem5().get(a.agentId()), now, today));
                    }
                    return out;
                });
    }

    private FleetAgent fleetRow(AgentRow a, List<AnalyticsQueries.DayRow> days, long lastHour,
                                AnalyticsQueries.TopTool top, LocalDate firstDay, Instant now, LocalDate today) {
        long curTasks = 0;
        long curCost = 0;
        long prevTasks = 0;
        long prevCost = 0;
        long spend7 = 0;
        Map<LocalDate, Long> spendPerDay = new TreeMap<>();
        LocalDate currentStart = today.minusDays(6);
        LocalDate previousStart = today.minusDays(13);
        for (AnalyticsQueries.DayRow d : days) {
            spendPerDay.merge(d.day(), d.spendMicros(), Math::addExact); // a day can come in several rows
            if (!d.day().isBefore(currentStart)) {
                curTasks += d.completedTasks();
                curCost += d.completedTaskMicros();
                spend7 = Math.addExact(spend7, d.spendMicros());
            } else if (!d.day().isBefore(previousStart)) {
                prevTasks += d.completedTasks();
                prevCost += d.completedTaskMicros();
            }
        }
        long cur = TaskCosts.average(curTasks, curCost);
        long prev = TaskCosts.average(prevTasks, prevCost);
        double change = TaskCosts.changePercent(prev, cur, prevTasks > 0);
        CapAdvice base = CapAdvice.of(spendPerDay, firstDay, today, config.capAdviceMultiplier());
        Budget budget = Budget.project(a.dailyCapMicros(now), base.averageDailyMicros(), base.daysOfData() > 0,
                a.schedule(), now);
        long dailyCap = a.dailyCapBaseMicros();
        DailyUtilization util = dailyCap > 0 ? DailyUtilization.of(spendPerDay, today, dailyCap) : null;
        long topSpend = top == null ? 0 : top.spendMicros();
        Set<Triggers.Trigger> triggers = Triggers.of(prev, cur, prevTasks > 0, budget, lastHour, topSpend, spend7,
                util == null ? 0 : util.daysOver80Percent7d());
        FleetAgent.Builder row = FleetAgent.newBuilder().setAgentId(a.agentId()).setHandle(a.handle())
                .setTeamId(a.teamId()).putAllLabels(a.labels()).setCurrencyCode(a.currencyCode())
                .setCostPerTaskMicros(cur).setPreviousCostPerTaskMicros(prev)
                .setHasCostChange(!Double.isNaN(change)).setCostPerTaskChangePercent(Double.isNaN(change) ? 0 : change)
                .setVelocityPerHourMicros(lastHour).setProjectedHourlyBudgetMicros(budget.hourlyMicros())
                .setTopTool(top == null ? "" : top.tool()).setTopToolShare(CapWindows.ratio(topSpend, spend7))
                .setCapUtilization7D(util == null ? 0 : util.average7d())
                .setDaysOver80Percent7D(util == null ? 0 : util.daysOver80Percent7d())
                .setSpend7DMicros(spend7);
        for (Triggers.Trigger tr : triggers) {
            row.addTriggers(switch (tr) {
                case COST_PER_TASK_UP -> Trigger.TRIGGER_COST_PER_TASK_UP;
                case VELOCITY_OVER_BUDGET -> Trigger.TRIGGER_VELOCITY_OVER_BUDGET;
                case TOOL_CONCENTRATION -> Trigger.TRIGGER_TOOL_CONCENTRATION;
                case CAP_UTILIZATION_HIGH -> Trigger.TRIGGER_CAP_UTILIZATION_HIGH;
            });
        }
        return row.build();
    }

    static Comparator<FleetAgent> fleetOrder(FleetSortField field, boolean descending) {
        Comparator<FleetAgent> primary = switch (field) {
            case FLEET_SORT_FIELD_COST_PER_TASK -> Comparator.comparingLong(FleetAgent::getCostPerTaskMicros);
            case FLEET_SORT_FIELD_COST_PER_TASK_CHANGE -> Comparator.comparingDouble(FleetAgent::getCostPerTaskChangePercent);
            case FLEET_SORT_FIELD_VELOCITY -> Comparator.comparingLong(FleetAgent::getVelocityPerHourMicros);
            case FLEET_SORT_FIELD_TOP_TOOL_SHARE -> Comparator.comparingDouble(FleetAgent::getTopToolShare);
            case FLEET_SORT_FIELD_CAP_UTILIZATION -> Comparator.comparingDouble(FleetAgent::getCapUtilization7D);
            case FLEET_SORT_FIELD_TRIGGER_COUNT -> Comparator.comparingInt(FleetAgent::getTriggersCount);
            default -> Comparator.comparing(FleetAgent::getHandle);
        };
        if (descending) {
            primary = primary.reversed();
        }
        return primary.thenComparing(FleetAgent::getHandle).thenComparing(FleetAgent::getAgentId);
    }

    private static String fleetFingerprint(GetFleetOverviewRequest req) {
        StringBuilder sb = new StringBuilder().append(req.getTeamId()).append('|').append(req.getSortFieldValue())
                .append('|').append(req.getDescending()).append('|').append(req.getTriggeredOnly());
        new TreeMap<>(req.getLabelsMap()).forEach((k, val) -> sb.append('|').append(k).append('=').append(val));
        if (!req.getAgentId().isEmpty()) {
            // only when set, so that tokens handed out before the filter existed stay valid; after a
            // newline, which labels may not hold, so that no label set gives the same fingerprint
            sb.append('\n').append(req.getAgentId());
        }
        return java.util.HexFormat.of().formatHex(ApiKeys.sha256(sb.toString()), 0, 8);
    }

    private static int parseOffset(String cursor, String fingerprint) {
        int bar = cursor.indexOf('|');
        if (bar < 0 || !cursor.substring(bar + 1).equals(fingerprint)) {
            return -1;
        }
        try {
            return Integer.parseInt(cursor.substring(0, bar));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    // ---------------------------------------------------------------- series

    public Uni<GetTimeSeriesResponse> getTimeSeries(Access.Role role, GetTimeSeriesRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireRead(role);
            Violations v = new Violations();
            checkAgentId(v, req.getAgentId(), true);
            v.check(req.getMetric() == SeriesMetric.SERIES_METRIC_SPEND
                            || req.getMetric() == SeriesMetric.SERIES_METRIC_COST_PER_TASK
                            || req.getMetric() == SeriesMetric.SERIES_METRIC_TOOL_SPEND, "metric",
                    "must be SPEND, COST_PER_TASK or TOOL_SPEND");
            int step = req.getStepSeconds() == 0 ? 3600 : req.getStepSeconds();
            boolean stepOk = false;
            for (int s : STEPS) {
                stepOk |= s == step;
            }
            v.check(stepOk, "step_seconds", "must be 0 (3600), 60, 300, 900, 3600 or 86400");
            if (req.getMetric() == SeriesMetric.SERIES_METRIC_TOOL_SPEND) {
                v.check(!req.getTool().isEmpty() && Fields.isText(req.getTool(), Fields.MAX_TEXT_LENGTH), "tool",
                        "is required for TOOL_SPEND: 1 to 256 characters");
            }
            Instant now = clock.instant();
            int stepSeconds = stepOk ? step : 3600;
            long epoch = now.getEpochSecond();
            Instant defaultEnd = Instant.ofEpochSecond((Math.floorDiv(epoch, stepSeconds) + 1) * stepSeconds);
            if (!(valid(req.hasStartTime() ? req.getStartTime() : null, "start_time", v)
                    & valid(req.hasEndTime() ? req.getEndTime() : null, "end_time", v))) {
                v.throwIfAny();
            }
            Instant end = req.hasEndTime() ? instant(req.getEndTime()) : defaultEnd;
            Instant start = req.hasStartTime() ? instant(req.getStartTime()) : end.minusSeconds(24L * stepSeconds);
            Windows w = Windows.resolve(start, end, Duration.ofSeconds(24L * stepSeconds), now, v);
            if (w.start().isBefore(w.end())
                    && Duration.between(w.start(), w.end()).getSeconds() / stepSeconds > MAX_POINTS) {
                v.add("start_time", "at most " + MAX_POINTS + " steps per series; use a larger step_seconds");
            }
            if (req.getMetric() == SeriesMetric.SERIES_METRIC_COST_PER_TASK) {
                retention.requireTasks(w, now, v);
            } else if (!byDay(stepSeconds, w)) {
                retention.requireMinutes(w, now, "a series is summed from minutes unless step_seconds is 86400 "
                        + "and it starts and ends at UTC midnights (then from day totals, for any range)", v);
            }
            v.throwIfAny();
            return agent(req.getAgentId()).chain(agent -> series(agent.agentId(), req.getMetric(), req.getTool(),
                    w.start(), w.end(), stepSeconds));
        });
    }

    private Uni<GetTimeSeriesResponse> series(String agentId, SeriesMetric metric, String tool, Instant start,
                                              Instant end, int step) {
        Uni<Map<Instant, AnalyticsQueries.Bin>> main = switch (metric) {
            case SERIES_METRIC_COST_PER_TASK -> queries.completedTaskSeries(agentId, start, end, step);
            case SERIES_METRIC_TOOL_SPEND -> spendSeries(agentId, tool, start, end, step);
            default -> spendSeries(agentId, "", start, end, step);
        };
        Uni<Map<Instant, AnalyticsQueries.Bin>> totals = metric == SeriesMetric.SERIES_METRIC_TOOL_SPEND
                ? spendSeries(agentId, "", start, end, step) : Uni.createFrom().item(Map.of());
        return Uni.combine().all().unis(main, totals).asTuple().map(t -> {
            GetTimeSeriesResponse.Builder out = GetTimeSeriesResponse.newBuilder().setStepSeconds(step);
            for (Instant s = start; s.isBefore(end); s = s.plusSeconds(step)) {
                AnalyticsQueries.Bin b = t.getItem1().get(s);
                SeriesPoint.Builder p = SeriesPoint.newBuilder().setStartTime(ts(s));
                if (metric == SeriesMetric.SERIES_METRIC_COST_PER_TASK) {
                    p.setValueMicros(b == null ? 0 : TaskCosts.average(b.count(), b.valueMicros()))
                            .setCount(b == null ? 0 : b.count());
                } else if (metric == SeriesMetric.SERIES_METRIC_TOOL_SPEND) {
                    AnalyticsQueries.Bin total = t.getItem2().get(s);
                    long toolSpend = b == null ? 0 : b.valueMicros();
                    long totalSpend = total == null ? 0 : total.valueMicros();
                    p.setValueMicros(toolSpend).setCount(totalSpend).setShare(CapWindows.ratio(toolSpend, totalSpend));
                } else {
                    p.setValueMicros(b == null ? 0 : b.valueMicros()).setCount(b == null ? 0 : b.count());
                }
                out.addPoints(p);
            }
            return out.build();
        });
    }

    /** Daily steps from midnight to midnight are whole day rows: read them, not a day's worth of minutes each. */
    private static boolean byDay(int stepSeconds, Windows w) {
        return stepSeconds == 86_400 && Retention.isMidnight(w.start()) && Retention.isMidnight(w.end());
    }

    private Uni<Map<Instant, AnalyticsQueries.Bin>> spendSeries(String agentId, String tool, Instant start, Instant end,
                                                                int step) {
        return byDay(step, new Windows(start, end)) ? queries.spendSeriesByDay(agentId, tool, start, end)
                : queries.spendSeries(agentId, tool, start, end, step);
    }

    // ---------------------------------------------------------------- advice

    public Uni<GetCapAdviceResponse> getCapAdvice(Access.Role role, GetCapAdviceRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireRead(role);
            Violations v = new Violations();
            checkAgentId(v, req.getAgentId(), true);
            v.throwIfAny();
            return agent(req.getAgentId()).chain(this::advice);
        });
    }

    private Uni<GetCapAdviceResponse> advice(AgentRow agent) {
        return baseline(agent.agentId(), clock.instant()).map(a -> GetCapAdviceResponse.newBuilder()
                .setAgentId(agent.agentId()).setCurrencyCode(agent.currencyCode()).setDaysOfData(a.daysOfData())
                .setAverageDailyMicros(a.averageDailyMicros()).setPeakDailyMicros(a.peakDailyMicros())
                .setMultiplier(a.multiplier()).setRecommendedDailyCapMicros(a.recommendedDailyCapMicros())
                .setSufficientData(a.sufficientData()).setNote(a.note())
                .setCurrentDailyCapMicros(agent.dailyCapBaseMicros()).build());
    }

    public Uni<ApplyCapAdviceResponse> applyCapAdvice(Access.Role role, ApplyCapAdviceRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireAdmin(role);
            Violations v = new Violations();
            v.check(Fields.isRequestId(req.getRequestId()), "request_id", "must be 1 to 128 characters of [A-Za-z0-9._:-]");
            checkAgentId(v, req.getAgentId(), true);
            v.check(req.getEnforcement() == CapEnforcement.CAP_ENFORCEMENT_UNSPECIFIED
                            || req.getEnforcement() == CapEnforcement.CAP_ENFORCEMENT_HARD
                            || req.getEnforcement() == CapEnforcement.CAP_ENFORCEMENT_SOFT, "enforcement",
                    "must be HARD, SOFT or unspecified (HARD)");
            v.throwIfAny();
            CapEnforcement enforcement = req.getEnforcement() == CapEnforcement.CAP_ENFORCEMENT_UNSPECIFIED
                    ? CapEnforcement.CAP_ENFORCEMENT_HARD : req.getEnforcement();
            return agent(req.getAgentId()).chain(this::advice).chain(advice -> {
                if (!advice.getSufficientData()) {
                    throw ApiException.of(ErrorCode.FAILED_PRECONDITION, "INSUFFICIENT_DATA", advice.getNote());
                }
                MutinyIdentityServiceGrpc.MutinyIdentityServiceStub admin = identityAsAdmin();
                return admin.getAgent(GetAgentRequest.newBuilder().setAgent(req.getAgentId()).build())
                        .chain(current -> {
                            SpendingPolicy.Builder policy = current.getAgent().getPolicy().toBuilder().clearCaps();
                            for (Cap c : current.getAgent().getPolicy().getCapsList()) {
                                if (!(c.getWindow() == CapWindow.CAP_WINDOW_DAY && c.getTool().isEmpty())) {
                                    policy.addCaps(c);
                                }
                            }
                            policy.addCaps(Cap.newBuilder().setWindow(CapWindow.CAP_WINDOW_DAY)
                                    .setLimitMicros(advice.getRecommendedDailyCapMicros())
                                    .setCurrencyCode(current.getAgent().getCurrencyCode()).setEnforcement(enforcement));
                            return admin.setAgentPolicy(SetAgentPolicyRequest.newBuilder()
                                    .setRequestId(req.getRequestId()).setAgentId(req.getAgentId())
                                    .setPolicy(policy).setExpectedVersion(current.getAgent().getVersion()).build());
                        })
                        .map(set -> ApplyCapAdviceResponse.newBuilder().setAdvice(advice)
                                .setPolicy(set.getAgent().getPolicy()).setAgentVersion(set.getAgent().getVersion()).build())
                        .onFailure(StatusRuntimeException.class).transform(AnalyticsApi::fromIdentity);
            });
        });
    }

    private MutinyIdentityServiceGrpc.MutinyIdentityServiceStub identityAsAdmin() {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of(BearerTokens.METADATA_KEY, Metadata.ASCII_STRING_MARSHALLER),
                "Bearer " + auth.adminToken());
        return GrpcClientUtils.attachHeaders(identity, headers);
    }

    /** Identity's refusal, passed on with its code and message (and UNAVAILABLE when identity is down). */
    static Throwable fromIdentity(Throwable t) {
        StatusRuntimeException sre = (StatusRuntimeException) t;
        ErrorCode code;
        try {
            code = ErrorCode.valueOf(sre.getStatus().getCode().name());
        } catch (IllegalArgumentException e) {
            code = ErrorCode.UNAVAILABLE;
        }
        String reason = GrpcErrors.reasonOf(sre);
        return ApiException.of(code, reason.isEmpty() ? "IDENTITY_" + code.name() : reason,
                "identity refused the policy change: " + Fields.printable(sre.getStatus().getDescription()));
    }

    // ---------------------------------------------------------------- invoices

    public Uni<ImportInvoiceResponse> importInvoice(Access.Role role, ImportInvoiceRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireAdmin(role);
            Violations v = new Violations();
            v.check(Fields.isRequestId(req.getRequestId()), "request_id", "must be 1 to 128 characters of [A-Za-z0-9._:-]");
            v.check(!req.getVendor().isEmpty() && Fields.isText(req.getVendor(), Fields.MAX_TEXT_LENGTH), "vendor",
                    "must be 1 to 256 characters without control characters");
            v.check(Fields.isCurrencyCode(req.getCurrencyCode()), "currency_code", "must be an ISO 4217 code like USD");
            v.throwIfAny();
            List<InvoiceCsv.Line> lines = InvoiceCsv.parse(req.getCsv());
            byte[] hash = ApiKeys.sha256(req.getVendor() + "\n" + req.getCurrencyCode() + "\n" + req.getCsv());
            return invoices.importInvoice(req.getRequestId(), hash, req.getVendor(), req.getCurrencyCode(), lines)
                    .map(i -> ImportInvoiceResponse.newBuilder().setInvoiceId(i.invoiceId()).setLineCount(i.lineCount())
                            .setTotalMicros(i.totalMicros()).build());
        });
    }

    public Uni<GetReconciliationResponse> getReconciliation(Access.Role role, GetReconciliationRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireRead(role);
            Violations v = new Violations();
            v.check(Fields.isText(req.getInvoiceId(), Fields.MAX_ID_LENGTH), "invoice_id", "must be at most 128 characters");
            v.throwIfAny();
            Uni<Void> exists = req.getInvoiceId().isEmpty() ? Uni.createFrom().voidItem()
                    : invoices.exists(req.getInvoiceId()).map(found -> {
                        if (!found) {
                            throw ApiException.notFound("invoice", Fields.printable(req.getInvoiceId()));
                        }
                        return null;
                    });
            return exists.chain(() -> invoices.reconcile(req.getInvoiceId())).map(lines -> {
                GetReconciliationResponse.Builder out = GetReconciliationResponse.newBuilder();
                for (InvoiceStore.Reconciled l : lines) {
                    out.addLines(ReconciliationLine.newBuilder().setVendor(l.vendor()).setTool(l.tool())
                            .setPeriodStartTime(ts(startOf(l.periodStart())))
                            .setPeriodEndTime(ts(startOf(l.periodEnd().plusDays(1))))
                            .setInvoiceMicros(l.invoiceMicros()).setLedgerMicros(l.ledgerMicros())
                            .setGapMicros(Math.subtractExact(l.invoiceMicros(), l.ledgerMicros()))
                            .setCurrencyCode(l.currencyCode()));
                }
                return out.build();
            });
        });
    }

    public Uni<GetIngestionStatusResponse> getIngestionStatus(Access.Role role, GetIngestionStatusRequest req) {
        return Uni.createFrom().deferred(() -> {
            Access.requireRead(role);
            return queries.feedPositions().map(p -> GetIngestionStatusResponse.newBuilder().setLedgerPosition(p[0])
                    .setPolicyVersion(p[1]).setConsumerActive(consumer.active()).build());
        });
    }

    // ---------------------------------------------------------------- helpers

    private Uni<AgentRow> agent(String agentId) {
        return queries.agent(agentId).map(a -> a.orElseThrow(() -> ApiException.notFound("agent", Fields.printable(agentId))));
    }

    private static void checkAgentId(Violations v, String agentId, boolean required) {
        if (required && agentId.isEmpty()) {
            v.add("agent_id", "is required");
        } else if (!Fields.isText(agentId, Fields.MAX_ID_LENGTH)) {
            v.add("agent_id", "must be at most 128 characters without control characters");
        }
    }

    private Windows window(Timestamp start, Timestamp end, Duration defaultLength, Violations v) {
        boolean ok = valid(start, "start_time", v) & valid(end, "end_time", v);
        if (!ok) {
            v.throwIfAny();
        }
        return Windows.resolve(start == null ? null : instant(start), end == null ? null : instant(end), defaultLength,
                clock.instant(), v);
    }

    /** A timestamp between the years 2000 and 2199, as every window here must be. */
    private static boolean valid(Timestamp t, String field, Violations v) {
        if (t == null) {
            return true;
        }
        boolean ok = t.getNanos() >= 0 && t.getNanos() < 1_000_000_000
                && t.getSeconds() >= AnalyticsQueries.BEGINNING.getEpochSecond()
                && t.getSeconds() < AnalyticsQueries.END_OF_TIME.getEpochSecond();
        v.check(ok, field, "must be a valid time between 2000 and 2199");
        return ok;
    }

    private static BudgetSource budgetSource(Budget.Source s) {
        return switch (s) {
            case DAILY_CAP -> BudgetSource.BUDGET_SOURCE_DAILY_CAP;
            case BASELINE -> BudgetSource.BUDGET_SOURCE_BASELINE;
            case NONE -> BudgetSource.BUDGET_SOURCE_NONE;
        };
    }

    static Instant instant(Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    }

    static Timestamp ts(Instant t) {
        return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }

    static Instant startOf(LocalDate day) {
        return day.atStartOfDay(ZoneOffset.UTC).toInstant();
    }
}
