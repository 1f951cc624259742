package dev.agentspend.analytics.it;

import dev.agentspend.analytics.support.AnalyticsTestResource;
import dev.agentspend.analytics.support.Platform;
import dev.agentspend.analytics.support.TestClock;
import dev.agentspend.proto.analytics.v1.*;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.CreateTeamRequest;
import dev.agentspend.proto.identity.v1.GetAgentRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.identity.v1.WorkingInterval;
import dev.agentspend.proto.ledger.v1.CaptureRequest;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.HoldRequest;
import dev.agentspend.proto.ledger.v1.HoldResponse;
import dev.agentspend.proto.ledger.v1.PayAgentRequest;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.ReverseRequest;
import dev.agentspend.proto.ledger.v1.TaskOutcome;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.agentspend.analytics.support.Platform.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Every metric on a small constructed history with values computed by hand: retries, a hold
 * captured for less and one left open, a reversal, a decline, an agent-to-agent loop, late entries
 * (occurred days before they were recorded), window boundaries at midnight and working hours in
 * Europe/Paris. "Now" is pinned to Wednesday 2026-11-25 14:30:20 UTC; payments reach the real
 * ledger over gRPC with the agents' keys, with their occurred_time in the past. The admin's
 * reversal has no occurred time, so it lands at its real recorded time, after "now".
 */
@QuarkusTest
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HistoryMetricsTest {
    static final Instant NOW = Instant.parse("2026-11-25T14:30:20Z");
    private final String suite = "hist-" + UUID.randomUUID().toString().substring(0, 8);
    private final AtomicLong lastPosition = new AtomicLong();
    private final AtomicInteger requests = new AtomicInteger();
    private String teamId;
    private Agent a;
    private Agent b;
    private Agent c;

    private static Instant at(String t) {
        return Instant.parse(t);
    }

    private String rid() {
        return suite + "-" + requests.incrementAndGet();
    }

    private Entry track(Entry e) {
        lastPosition.accumulateAndGet(e.getPosition(), Math::max);
        return e;
    }

    private Entry pay(Agent agent, long micros, String tool, String task, String call, int attempt, String occurred) {
        PayRequest.Builder r = PayRequest.newBuilder().setRequestId(rid()).setAmountMicros(micros).setCurrencyCode("USD")
                .setTool(tool).setTaskId(task).setCallId(call).setAttempt(attempt).setOccurredTime(ts(at(occurred)));
        return track(ledgerAs(agent).pay(r.build()).getEntry());
    }

    private void complete(Agent agent, String task, TaskOutcome outcome, String occurred) {
        track(ledgerAs(agent).completeTask(CompleteTaskRequest.newBuilder().setRequestId(rid()).setTaskId(task)
                .setOutcome(outcome).setOccurredTime(ts(at(occurred))).build()).getEntry());
    }

    @BeforeAll
    void buildHistory() {
        teamId = identityAdmin().createTeam(CreateTeamRequest.newBuilder().setRequestId(rid()).setName(suite + "-team")
                .setDisplayName("history team").setCurrencyCode("USD").build()).getTeam().getId();
        SpendingPolicy capped = SpendingPolicy.newBuilder()
                .addCaps(Cap.newBuilder().setWindow(CapWindow.CAP_WINDOW_PAYMENT).setLimitMicros(5_000_000)
                        .setCurrencyCode("USD").setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD))
                .addCaps(Cap.newBuilder().setWindow(CapWindow.CAP_WINDOW_HOUR).setLimitMicros(6_000_000)
                        .setCurrencyCode("USD").setEnforcement(CapEnforcement.CAP_ENFORCEMENT_SOFT))
                .addCaps(Cap.newBuilder().setWindow(CapWindow.CAP_WINDOW_DAY).setLimitMicros(10_000_000)
                        .setCurrencyCode("USD").setEnforcement(CapEnforcement.CAP_ENFORCEMENT_SOFT))
                .build();
        WorkingHours.Builder paris = WorkingHours.newBuilder().setTimeZone("Europe/Paris");
        for (int day = 1; day <= 5; day++) {
            paris.addIntervals(WorkingInterval.newBuilder().setDayOfWeek(day).setStartMinute(540).setEndMinute(1020));
        }
        a = createAgent("hist-a", teamId, Map.of("suite", suite), capped, paris.build(), 1_000_000_000L);
        b = createAgent("hist-b", "", Map.of("suite", suite), SpendingPolicy.getDefaultInstance(),
                WorkingHours.getDefaultInstance(), 1_000_000L);
        c = createAgent("hist-c", "", Map.of("suite", suite), SpendingPolicy.getDefaultInstance(),
                WorkingHours.getDefaultInstance(), 100_000_000L);

        // the previous week: two completed tasks
        pay(a, 1_000_000, "llm", "p1", "", 1, "2026-11-15T10:00:00Z");
        complete(a, "p1", TaskOutcome.TASK_OUTCOME_SUCCEEDED, "2026-11-15T10:05:00Z");
        pay(a, 3_000_000, "llm", "p2", "", 1, "2026-11-16T10:00:00Z");
        complete(a, "p2", TaskOutcome.TASK_OUTCOME_SUCCEEDED, "2026-11-16T10:05:00Z");
        // midnight between the two weeks
        pay(a, 100_000, "llm", "", "", 0, "2026-11-18T23:59:00Z");
        pay(a, 100_000, "llm", "", "", 0, "2026-11-19T00:00:00Z");
        // Sunday 04:00 in Paris: off-hours, and a late entry
        pay(a, 300_000, "llm", "", "", 0, "2026-11-22T03:00:00Z");
        // c1: a call and its retry
        pay(a, 2_000_000, "llm", "c1", "k1", 1, "2026-11-24T09:00:00Z");
        pay(a, 1_000_000, "llm", "c1", "k1", 2, "2026-11-24T09:01:00Z");
        complete(a, "c1", TaskOutcome.TASK_OUTCOME_SUCCEEDED, "2026-11-24T09:10:00Z");
        // Monday 17:00 in Paris: the first off-hours minute
        pay(a, 150_000, "llm", "", "", 0, "2026-11-24T16:00:00Z");
        // c3: paid, failed, then partly refunded by the admin
        Entry c3 = pay(a, 4_000_000, "llm", "c3", "", 1, "2026-11-25T13:00:00Z");
        complete(a, "c3", TaskOutcome.TASK_OUTCOME_FAILED, "2026-11-25T13:30:00Z");
        track(ledgerAdmin().reverse(ReverseRequest.newBuilder().setRequestId(rid()).setEntryId(c3.getEntryId())
                .setAmountMicros(1_000_000).setNote("partial refund").build()).getEntry());
        // c2: a hold of 4 captured for 2.5
        HoldResponse hold = ledgerAs(a).hold(HoldRequest.newBuilder().setRequestId(rid()).setAmountMicros(4_000_000)
                .setCurrencyCode("USD").setTool("search").setTaskId("c2").setOccurredTime(ts(at("2026-11-25T14:00:00Z"))).build());
        track(hold.getEntry());
        track(ledgerAs(a).capture(CaptureRequest.newBuilder().setRequestId(rid()).setHoldId(hold.getHold().getHoldId())
                .setAmountMicros(2_500_000).setOccurredTime(ts(at("2026-11-25T14:05:00Z"))).build()).getEntry());
        complete(a, "c2", TaskOutcome.TASK_OUTCOME_SUCCEEDED, "2026-11-25T14:10:00Z");
        // a hold left open
        track(ledgerAs(a).hold(HoldRequest.newBuilder().setRequestId(rid()).setAmountMicros(700_000)
                .setCurrencyCode("USD").setTool("search").setOccurredTime(ts(at("2026-11-25T14:15:00Z"))).build()).getEntry());
        // a decline: above the 5 USD payment cap
        Entry declined = pay(a, 6_000_000, "llm", "o1", "", 1, "2026-11-25T14:20:00Z");
        assertEquals(Decision.DECISION_DECLINED, declined.getDecision());
        // the agent-to-agent loop
        track(ledgerAs(a).payAgent(PayAgentRequest.newBuilder().setRequestId(rid()).setPayeeAgentId(b.id())
                .setAmountMicros(200_000).setCurrencyCode("USD").setOccurredTime(ts(at("2026-11-25T14:25:00Z"))).build()).getEntry());
        track(ledgerAs(b).payAgent(PayAgentRequest.newBuilder().setRequestId(rid()).setPayeeAgentId(a.id())
                .setAmountMicros(50_000).setCurrencyCode("USD").setOccurredTime(ts(at("2026-11-25T14:26:00Z"))).build()).getEntry());
        // o1: an open task
        pay(a, 500_000, "search", "o1", "", 1, "2026-11-25T14:29:00Z");
        // c: eight days of 1 USD
        for (int d = 17; d <= 24; d++) {
            pay(c, 1_000_000, "c-tool", "", "", 0, "2026-11-" + d + "T10:00:00Z");
        }
        awaitIngested(lastPosition.get());
        await(Duration.ofSeconds(20), () -> analyticsAdmin().getCapUtilization(GetCapUtilizationRequest.newBuilder()
                .setAgentId(a.id()).build()).getHasDailyCap(), "analytics did not learn agent a's caps");
        await(Duration.ofSeconds(20), () -> analyticsAdmin().getFleetOverview(GetFleetOverviewRequest.newBuilder()
                .putLabels("suite", suite).build()).getAgentsList().stream().filter(x -> !x.getHandle().isEmpty()).count() == 3,
                "analytics did not learn the three agents' policies");
        TestClock.pin(NOW);
    }

    @AfterAll
    void releaseClock() {
        TestClock.release();
    }

    @Test
    void costPerTaskThisWeekAgainstLastWeek() {
        GetCostPerTaskResponse r = analyticsAdmin().getCostPerTask(GetCostPerTaskRequest.newBuilder().setAgentId(a.id()).build());
        // current [11-19, 11-26): c1 3.0, c2 2.5, c3 4.0 - 1.0 refunded = 3.0
        assertEquals(3, r.getCurrent().getTaskCount());
        assertEquals(8_500_000, r.getCurrent().getTotalMicros());
        assertEquals(2_833_333, r.getCurrent().getAverageMicros());
        assertEquals(3_000_000, r.getCurrent().getP50Micros());
        assertEquals(3_000_000, r.getCurrent().getP90Micros());
        assertEquals(3_000_000, r.getCurrent().getMaxMicros());
        assertEquals(at("2026-11-19T00:00:00Z"), instant(r.getCurrent().getStartTime()));
        // previous [11-12, 11-19): p1 1.0, p2 3.0
        assertEquals(2, r.getPrevious().getTaskCount());
        assertEquals(2_000_000, r.getPrevious().getAverageMicros());
        assertEquals(1_000_000, r.getPrevious().getP50Micros());
        assertEquals(3_000_000, r.getPrevious().getP90Micros());
        assertTrue(r.getHasChange());
        assertEquals((2_833_333 - 2_000_000) * 100.0 / 2_000_000, r.getChangePercent(), 1e-9);
        assertEquals(1, r.getOpenTaskCount());
        assertEquals(500_000, r.getOpenTaskMicros());
        // a 2-day window: [11-24, 11-26) holds all three, [11-22, 11-24) none
        GetCostPerTaskResponse two = analyticsAdmin().getCostPerTask(GetCostPerTaskRequest.newBuilder()
                .setAgentId(a.id()).setWindowDays(2).build());
        assertEquals(3, two.getCurrent().getTaskCount());
        assertEquals(0, two.getPrevious().getTaskCount());
        assertFalse(two.getHasChange());
    }

    @Test
    void spendVelocityAgainstTheDailyCapSpreadOverWorkingHours() {
        GetSpendVelocityResponse r = analyticsAdmin().getSpendVelocity(GetSpendVelocityRequest.newBuilder().setAgentId(a.id()).build());
        assertEquals(List.of(
                        VelocityWindow.newBuilder().setMinutes(1).build(),
                        VelocityWindow.newBuilder().setMinutes(5).setSpendMicros(500_000).setPerMinuteMicros(100_000).setPerHourMicros(6_000_000).build(),
                        VelocityWindow.newBuilder().setMinutes(15).setSpendMicros(700_000).setPerMinuteMicros(46_666).setPerHourMicros(2_800_000).build(),
                        VelocityWindow.newBuilder().setMinutes(60).setSpendMicros(3_200_000).setPerMinuteMicros(53_333).setPerHourMicros(3_200_000).build()),
                r.getWindowsList());
        // 10 USD a day over Wednesday's 8 working hours
        assertEquals(1_250_000, r.getProjectedHourlyBudgetMicros());
        assertEquals(BudgetSource.BUDGET_SOURCE_DAILY_CAP, r.getBudgetSource());
        assertTrue(r.getOverBudget());
        // c has no cap: its baseline, 8 days of 1 USD spread over 24 hours
        GetSpendVelocityResponse rc = analyticsAdmin().getSpendVelocity(GetSpendVelocityRequest.newBuilder().setAgentId(c.id()).build());
        assertEquals(BudgetSource.BUDGET_SOURCE_BASELINE, rc.getBudgetSource());
        assertEquals(41_666, rc.getProjectedHourlyBudgetMicros());
        assertFalse(rc.getOverBudget());
    }

    @Test
    void toolAttributionPerAgentTeamAndWindow() {
        GetToolAttributionResponse r = analyticsAdmin().getToolAttribution(GetToolAttributionRequest.newBuilder()
                .setAgentId(a.id()).build());
        // default window: the 7 days up to the current minute, [11-18 14:31, 11-25 14:31)
        assertEquals(at("2026-11-18T14:31:00Z"), instant(r.getStartTime()));
        assertEquals(10_850_000, r.getTotalSpendMicros());
        assertEquals(3, r.getToolsCount());
        assertEquals("llm", r.getTools(0).getTool());
        assertEquals(7_650_000, r.getTools(0).getSpendMicros());
        assertEquals(7, r.getTools(0).getCallCount());
        assertEquals(1, r.getTools(0).getDeclineCount());
        assertEquals(7_650_000 / 10_850_000.0, r.getTools(0).getShare(), 1e-12);
        assertEquals("search", r.getTools(1).getTool());
        assertEquals(3_000_000, r.getTools(1).getSpendMicros());
        assertEquals("", r.getTools(2).getTool());
        assertEquals(200_000, r.getTools(2).getSpendMicros());
        // the team sees the same (every entry of a carried the team)
        GetToolAttributionResponse team = analyticsAdmin().getToolAttribution(GetToolAttributionRequest.newBuilder()
                .setTeamId(teamId).build());
        assertEquals(10_850_000, team.getTotalSpendMicros());
        // midnight: each boundary minute in its own window
        assertEquals(100_000, toolTotal("2026-11-18T23:59:00Z", "2026-11-19T00:00:00Z"));
        assertEquals(100_000, toolTotal("2026-11-19T00:00:00Z", "2026-11-19T00:01:00Z"));
        assertEquals(200_000, toolTotal("2026-11-18T23:59:00Z", "2026-11-19T00:01:00Z"));
        // whole days plus ragged edges, and the refund at its real time
        Instant realDayAfter = LocalDate.now(ZoneOffset.UTC).plusDays(2).atStartOfDay(ZoneOffset.UTC).toInstant();
        GetToolAttributionResponse all = analyticsAdmin().getToolAttribution(GetToolAttributionRequest.newBuilder()
                .setAgentId(a.id()).setStartTime(ts(at("2026-11-12T00:00:00Z"))).setEndTime(ts(realDayAfter)).build());
        assertEquals(1_000_000 + 3_000_000 + 7_650_000 - 1_000_000, all.getTools(0).getSpendMicros());
        assertEquals(1_000_000 + 3_000_000 + 10_850_000 - 1_000_000, all.getTotalSpendMicros());
    }

    private long toolTotal(String start, String end) {
        return analyticsAdmin().getToolAttribution(GetToolAttributionRequest.newBuilder().setAgentId(a.id())
                .setStartTime(ts(at(start))).setEndTime(ts(at(end))).build()).getTotalSpendMicros();
    }

    @Test
    void capUtilizationNowAndOverSevenAndFourteenDays() {
        GetCapUtilizationResponse r = analyticsAdmin().getCapUtilization(GetCapUtilizationRequest.newBuilder().setAgentId(a.id()).build());
        assertEquals(2, r.getCapsCount(), "the PAYMENT cap has no window");
        CapWindowUtilization hour = r.getCapsList().stream().filter(x -> x.getWindow() == CapWindow.CAP_WINDOW_HOUR).findFirst().orElseThrow();
        assertEquals(3_200_000, hour.getSpentMicros());
        assertEquals(700_000, hour.getHeldMicros());
        assertEquals(3_900_000 / 6_000_000.0, hour.getUtilization(), 1e-12);
        assertEquals(at("2026-11-25T14:00:00Z"), instant(hour.getWindowStartTime()));
        CapWindowUtilization day = r.getCapsList().stream().filter(x -> x.getWindow() == CapWindow.CAP_WINDOW_DAY).findFirst().orElseThrow();
        assertEquals(7_200_000, day.getSpentMicros());
        assertEquals(700_000, day.getHeldMicros());
        assertEquals(0.79, day.getUtilization(), 1e-12);
        assertTrue(r.getHasDailyCap());
        assertEquals((0.01 + 0.03 + 0.315 + 0.72) / 7, r.getAverageUtilization7D(), 1e-12);
        assertEquals((0.1 + 0.3 + 0.01 + 0.01 + 0.03 + 0.315 + 0.72) / 14, r.getAverageUtilization14D(), 1e-12);
        assertEquals(0, r.getDaysOver80Percent7D());
        assertEquals(14, r.getDaysCount());
        assertEquals(7_200_000, r.getDays(13).getSpentMicros());
    }

    @Test
    void retryCostAndOffHoursSpend() {
        GetRetryCostResponse r = analyticsAdmin().getRetryCost(GetRetryCostRequest.newBuilder().setAgentId(a.id()).build());
        assertEquals(10_850_000, r.getTotalSpendMicros());
        assertEquals(1_000_000, r.getRetrySpendMicros());
        assertEquals(1_000_000 / 10_850_000.0, r.getRetrySpendShare(), 1e-12);
        assertEquals(10, r.getCallCount());
        assertEquals(1, r.getRetriedCallCount());
        assertEquals(0.1, r.getRetryRate(), 1e-12);

        GetOffHoursSpendResponse off = analyticsAdmin().getOffHoursSpend(GetOffHoursSpendRequest.newBuilder()
                .setAgentId(a.id()).setStartTime(ts(at("2026-11-22T00:00:00Z"))).setEndTime(ts(at("2026-11-26T00:00:00Z"))).build());
        assertEquals("Europe/Paris", off.getTimeZone());
        assertTrue(off.getHasWorkingHours());
        assertEquals(300_000 + 3_150_000 + 7_200_000, off.getTotalSpendMicros());
        assertEquals(300_000 + 150_000, off.getOffHoursSpendMicros());
        GetOffHoursSpendResponse none = analyticsAdmin().getOffHoursSpend(GetOffHoursSpendRequest.newBuilder()
                .setAgentId(c.id()).setStartTime(ts(at("2026-11-17T00:00:00Z"))).setEndTime(ts(at("2026-11-25T00:00:00Z"))).build());
        assertFalse(none.getHasWorkingHours());
        assertEquals(8_000_000, none.getTotalSpendMicros());
        assertEquals(0, none.getOffHoursSpendMicros());
    }

    @Test
    void agentToAgentFlowsShowTheLoop() {
        ListAgentFlowsResponse r = analyticsAdmin().listAgentFlows(ListAgentFlowsRequest.newBuilder().setAgentId(a.id()).build());
        assertEquals(List.of(
                AgentFlow.newBuilder().setPayerAgentId(a.id()).setPayeeAgentId(b.id()).setAmountMicros(200_000).setPaymentCount(1).setReciprocal(true).build(),
                AgentFlow.newBuilder().setPayerAgentId(b.id()).setPayeeAgentId(a.id()).setAmountMicros(50_000).setPaymentCount(1).setReciprocal(true).build()),
                r.getFlowsList());
        assertEquals(0, analyticsAdmin().listAgentFlows(ListAgentFlowsRequest.newBuilder().setAgentId(a.id())
                .setStartTime(ts(at("2026-11-25T14:27:00Z"))).build()).getFlowsCount());
    }

    @Test
    void fleetOverviewMarksTheTriggersAndSortsFiltersAndPages() {
        GetFleetOverviewResponse r = analyticsAdmin().getFleetOverview(GetFleetOverviewRequest.newBuilder()
                .putLabels("suite", suite).setSortField(FleetSortField.FLEET_SORT_FIELD_VELOCITY).setDescending(true).build());
        assertEquals(3, r.getTotalCount());
        FleetAgent ra = r.getAgents(0);
        assertEquals(a.id(), ra.getAgentId());
        assertEquals(a.handle(), ra.getHandle());
        assertEquals(teamId, ra.getTeamId());
        assertEquals(2_833_333, ra.getCostPerTaskMicros());
        assertEquals(2_000_000, ra.getPreviousCostPerTaskMicros());
        assertEquals(3_200_000, ra.getVelocityPerHourMicros());
        assertEquals(1_250_000, ra.getProjectedHourlyBudgetMicros());
        assertEquals("llm", ra.getTopTool());
        // the last 7 days [11-19, 11-26): llm 7.55 of 10.75
        assertEquals(10_750_000, ra.getSpend7DMicros());
        assertEquals(7_550_000 / 10_750_000.0, ra.getTopToolShare(), 1e-12);
        assertEquals((0.01 + 0.03 + 0.315 + 0.72) / 7, ra.getCapUtilization7D(), 1e-12);
        assertEquals(List.of(Trigger.TRIGGER_COST_PER_TASK_UP, Trigger.TRIGGER_VELOCITY_OVER_BUDGET,
                Trigger.TRIGGER_TOOL_CONCENTRATION), ra.getTriggersList());
        assertEquals(b.id(), r.getAgents(1).getAgentId());
        assertEquals(50_000, r.getAgents(1).getVelocityPerHourMicros());
        assertEquals(c.id(), r.getAgents(2).getAgentId());
        assertEquals(List.of(Trigger.TRIGGER_TOOL_CONCENTRATION), r.getAgents(2).getTriggersList());

        GetFleetOverviewResponse team = analyticsAdmin().getFleetOverview(GetFleetOverviewRequest.newBuilder().setTeamId(teamId).build());
        assertEquals(List.of(a.id()), team.getAgentsList().stream().map(FleetAgent::getAgentId).toList());

        GetFleetOverviewResponse page1 = analyticsAdmin().getFleetOverview(GetFleetOverviewRequest.newBuilder()
                .putLabels("suite", suite).setSortField(FleetSortField.FLEET_SORT_FIELD_VELOCITY).setDescending(true).setPageSize(2).build());
        assertEquals(List.of(a.id(), b.id()), page1.getAgentsList().stream().map(FleetAgent::getAgentId).toList());
        GetFleetOverviewResponse page2 = analyticsAdmin().getFleetOverview(GetFleetOverviewRequest.newBuilder()
                .putLabels("suite", suite).setSortField(FleetSortField.FLEET_SORT_FIELD_VELOCITY).setDescending(true).setPageSize(2)
                .setPageToken(page1.getNextPageToken()).build());
        assertEquals(List.of(c.id()), page2.getAgentsList().stream().map(FleetAgent::getAgentId).toList());
        assertEquals("", page2.getNextPageToken());
        StatusRuntimeException wrongToken = assertThrows(StatusRuntimeException.class, () -> analyticsAdmin().getFleetOverview(
                GetFleetOverviewRequest.newBuilder().putLabels("suite", suite).setPageToken(page1.getNextPageToken()).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, wrongToken.getStatus().getCode());

        GetFleetOverviewResponse byCost = analyticsAdmin().getFleetOverview(GetFleetOverviewRequest.newBuilder()
                .putLabels("suite", suite).setSortField(FleetSortField.FLEET_SORT_FIELD_COST_PER_TASK).build());
        assertEquals(a.id(), byCost.getAgents(2).getAgentId(), "ascending: a has the highest cost per task");
    }

    @Test
    void timeSeriesForCharts() {
        GetTimeSeriesResponse spend = analyticsAdmin().getTimeSeries(GetTimeSeriesRequest.newBuilder().setAgentId(a.id())
                .setMetric(SeriesMetric.SERIES_METRIC_SPEND).setStepSeconds(3600)
                .setStartTime(ts(at("2026-11-25T13:00:00Z"))).setEndTime(ts(at("2026-11-25T15:00:00Z"))).build());
        assertEquals(2, spend.getPointsCount());
        assertEquals(4_000_000, spend.getPoints(0).getValueMicros());
        assertEquals(1, spend.getPoints(0).getCount());
        assertEquals(3_200_000, spend.getPoints(1).getValueMicros());
        assertEquals(3, spend.getPoints(1).getCount());
        GetTimeSeriesResponse cost = analyticsAdmin().getTimeSeries(GetTimeSeriesRequest.newBuilder().setAgentId(a.id())
                .setMetric(SeriesMetric.SERIES_METRIC_COST_PER_TASK).setStepSeconds(86400)
                .setStartTime(ts(at("2026-11-24T00:00:00Z"))).setEndTime(ts(at("2026-11-26T00:00:00Z"))).build());
        assertEquals(3_000_000, cost.getPoints(0).getValueMicros());
        assertEquals(1, cost.getPoints(0).getCount());
        assertEquals(2_750_000, cost.getPoints(1).getValueMicros());
        assertEquals(2, cost.getPoints(1).getCount());
        GetTimeSeriesResponse tool = analyticsAdmin().getTimeSeries(GetTimeSeriesRequest.newBuilder().setAgentId(a.id())
                .setMetric(SeriesMetric.SERIES_METRIC_TOOL_SPEND).setTool("search").setStepSeconds(3600)
                .setStartTime(ts(at("2026-11-25T13:00:00Z"))).setEndTime(ts(at("2026-11-25T15:00:00Z"))).build());
        assertEquals(0, tool.getPoints(0).getValueMicros());
        assertEquals(4_000_000, tool.getPoints(0).getCount());
        assertEquals(3_000_000, tool.getPoints(1).getValueMicros());
        assertEquals(0.9375, tool.getPoints(1).getShare(), 1e-12);
        // defaults: 24 hourly steps ending at the next whole hour
        GetTimeSeriesResponse def = analyticsAdmin().getTimeSeries(GetTimeSeriesRequest.newBuilder().setAgentId(a.id())
                .setMetric(SeriesMetric.SERIES_METRIC_SPEND).build());
        assertEquals(24, def.getPointsCount());
        assertEquals(at("2026-11-25T15:00:00Z").minusSeconds(24 * 3600), instant(def.getPoints(0).getStartTime()));
    }

    @Test
    @Order(Integer.MAX_VALUE) // it changes c's policy, which other tests read
    void capAdviceAndApplyingItThroughIdentity() {
        GetCapAdviceResponse r = analyticsAdmin().getCapAdvice(GetCapAdviceRequest.newBuilder().setAgentId(a.id()).build());
        // complete days 11-15 .. 11-24: 1 + 3 + 0.1 + 0.1 + 0.3 + 3.15 = 7.65 over 10 days
        assertEquals(10, r.getDaysOfData());
        assertEquals(765_000, r.getAverageDailyMicros());
        assertEquals(3_150_000, r.getPeakDailyMicros());
        assertEquals(1_920_000, r.getRecommendedDailyCapMicros());
        assertTrue(r.getSufficientData());
        assertEquals(10_000_000, r.getCurrentDailyCapMicros());

        GetCapAdviceResponse young = analyticsAdmin().getCapAdvice(GetCapAdviceRequest.newBuilder().setAgentId(b.id()).build());
        assertFalse(young.getSufficientData());
        StatusRuntimeException notYet = assertThrows(StatusRuntimeException.class, () -> analyticsAdmin().applyCapAdvice(
                ApplyCapAdviceRequest.newBuilder().setRequestId(rid()).setAgentId(b.id()).build()));
        assertEquals(Status.Code.FAILED_PRECONDITION, notYet.getStatus().getCode());

        // a's hourly cap (6) is above the advised daily cap (1.92): identity refuses, and says why
        StatusRuntimeException inverted = assertThrows(StatusRuntimeException.class, () -> analyticsAdmin().applyCapAdvice(
                ApplyCapAdviceRequest.newBuilder().setRequestId(rid()).setAgentId(a.id()).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, inverted.getStatus().getCode());

        // c: 8 days of 1 USD -> 2.5 USD a day
        ApplyCapAdviceResponse applied = analyticsAdmin().applyCapAdvice(ApplyCapAdviceRequest.newBuilder()
                .setRequestId(rid()).setAgentId(c.id()).build());
        assertEquals(8, applied.getAdvice().getDaysOfData());
        assertEquals(2_500_000, applied.getAdvice().getRecommendedDailyCapMicros());
        Cap day = identityAdmin().getAgent(GetAgentRequest.newBuilder().setAgent(c.id()).build()).getAgent().getPolicy().getCaps(0);
        assertEquals(CapWindow.CAP_WINDOW_DAY, day.getWindow());
        assertEquals(2_500_000, day.getLimitMicros());
        assertEquals(CapEnforcement.CAP_ENFORCEMENT_HARD, day.getEnforcement());
        await(Duration.ofSeconds(20), () -> analyticsAdmin().getCapAdvice(GetCapAdviceRequest.newBuilder().setAgentId(c.id())
                .build()).getCurrentDailyCapMicros() == 2_500_000, "the applied cap did not come back through the policy feed");

        assertEquals(Status.Code.PERMISSION_DENIED, assertThrows(StatusRuntimeException.class, () -> analyticsAs(
                AnalyticsTestResource.SERVICE_TOKEN).applyCapAdvice(ApplyCapAdviceRequest.newBuilder().setRequestId(rid())
                .setAgentId(c.id()).build())).getStatus().getCode());
    }

    @Test
    void invoiceReconciliationPerToolAndPeriod() {
        String csv = "tool,period_start,period_end,amount\n"
                + "llm,2026-11-24,2026-11-24,3.5\n"
                + "search,2026-11-25,2026-11-25,3\n";
        ImportInvoiceResponse imported = analyticsAdmin().importInvoice(ImportInvoiceRequest.newBuilder()
                .setRequestId(rid()).setVendor("acme").setCurrencyCode("USD").setCsv(csv).build());
        assertEquals(2, imported.getLineCount());
        assertEquals(6_500_000, imported.getTotalMicros());
        GetReconciliationResponse r = analyticsAdmin().getReconciliation(GetReconciliationRequest.newBuilder()
                .setInvoiceId(imported.getInvoiceId()).build());
        assertEquals(2, r.getLinesCount());
        assertEquals("llm", r.getLines(0).getTool());
        assertEquals(3_500_000, r.getLines(0).getInvoiceMicros());
        assertEquals(3_150_000, r.getLines(0).getLedgerMicros());
        assertEquals(350_000, r.getLines(0).getGapMicros());
        assertEquals(at("2026-11-25T00:00:00Z"), instant(r.getLines(0).getPeriodEndTime()));
        assertEquals(3_000_000, r.getLines(1).getLedgerMicros());
        assertEquals(0, r.getLines(1).getGapMicros());
    }
}
