package dev.agentspend.alerts.it;

import dev.agentspend.alerts.support.Await;
import dev.agentspend.alerts.support.Clients;
import dev.agentspend.alerts.support.Clients.TestAgent;
import dev.agentspend.alerts.support.Platform;
import dev.agentspend.alerts.support.PlatformTest;
import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.AlertState;
import dev.agentspend.proto.alerts.v1.LoopEdge;
import dev.agentspend.proto.alerts.v1.Rule;
import dev.agentspend.proto.alerts.v1.RuleAction;
import dev.agentspend.proto.alerts.v1.Severity;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.identity.v1.WorkingInterval;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.PayRequest;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static dev.agentspend.alerts.support.Clients.measure;
import static dev.agentspend.alerts.support.Clients.threshold;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Every rule, driven through the real ledger: a constructed history fires the alert with the right
 * evidence, and normal traffic just below the threshold does not. Histories that need past days
 * back-date occurred_time (only the day-bucketed trend rules count on it); the others use the
 * recorded time with short windows set per agent through SetRuleConfig.
 */
@QuarkusTest
@WithTestResource(value = Platform.class, scope = TestResourceScope.MATCHING_RESOURCES)
class RuleAlertsTest extends PlatformTest {

    // ---- 2. spend velocity

    @Test
    void velocityOverTheProjectedHourlyBudgetFiresWithinSeconds() {
        // 24 USD a day, no working hours: 1 USD per hour projected
        TestAgent a = clients.agent(null, Clients.dailyCap(24_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
        clients.pay(a, 500_000, "openai/chat");
        clients.pay(a, 500_000, "openai/chat");
        Entry trigger = clients.pay(a, 100_000, "openai/chat");
        Alert alert = clients.awaitAlert(a.id(), Rule.RULE_SPEND_VELOCITY);
        assertEquals(1_100_000, measure(alert, "window_spend_micros"));
        assertEquals(1_000_000, threshold(alert, "window_spend_micros"));
        assertEquals(24_000_000, measure(alert, "daily_cap_micros"));
        assertEquals(3600, measure(alert, "window_seconds"));
        assertEquals(trigger.getPosition(), alert.getEvidence().getTriggerPosition());
        assertEquals(Severity.SEVERITY_WARNING, alert.getSeverity());
        assertEquals(AlertState.ALERT_STATE_FIRING, alert.getState());
        assertEquals(List.of(a.id()), alert.getAgentIdsList());
        Duration latency = Duration.between(Clients.instant(trigger.getRecordedTime()), Clients.instant(alert.getFirstSeenTime()));
        System.out.println("DETECTION LATENCY spend velocity: " + latency.toMillis() + " ms");
        assertTrue(latency.compareTo(Duration.ofSeconds(5)) < 0, "detected within seconds, was " + latency);
    }

    @Test
    void velocityWithinTheBudgetDoesNotFire() {
        TestAgent a = clients.agent(null, Clients.dailyCap(24_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
        clients.pay(a, 500_000, "openai/chat");
        Entry last = clients.pay(a, 500_000, "openai/chat"); // exactly the hourly budget: not over it
        awaitEvaluated(last);
        assertTrue(clients.alerts(a.id(), Rule.RULE_SPEND_VELOCITY).isEmpty());
    }

    // ---- 3. tool concentration

    @Test
    void oneToolAboveHalfOfTheSpendFires() {
        TestAgent a = clients.agent();
        clients.configure(a, Rule.RULE_TOOL_CONCENTRATION, Map.of("min_payments", 5L));
        for (int i = 0; i < 4; i++) {
            clients.pay(a, 500_000, "serp/search");
        }
        clients.pay(a, 200_000, "openai/chat");
        Alert alert = clients.awaitAlert(a.id(), Rule.RULE_TOOL_CONCENTRATION);
        assertEquals("serp/search", alert.getEvidence().getTool());
        assertEquals(909, measure(alert, "tool_share_permille")); // 2.0 of 2.2 USD
        assertEquals(500, threshold(alert, "tool_share_permille"));
        assertEquals(2_200_000, measure(alert, "total_spend_micros"));
        assertEquals(Severity.SEVERITY_INFO, alert.getSeverity());
    }

    @Test
    void spendSpreadOverToolsDoesNotFire() {
        TestAgent a = clients.agent();
        clients.configure(a, Rule.RULE_TOOL_CONCENTRATION, Map.of("min_payments", 5L));
        clients.pay(a, 500_000, "serp/search");
        clients.pay(a, 500_000, "serp/search");
        clients.pay(a, 500_000, "openai/chat");
        clients.pay(a, 500_000, "openai/chat");
        Entry last = clients.pay(a, 500_000, "anthropic/messages");
        awaitEvaluated(last);
        assertTrue(clients.alerts(a.id(), Rule.RULE_TOOL_CONCENTRATION).isEmpty());
    }

    // ---- 4. cap utilization

    @Test
    void capUtilizationOverEightyPercentNowAndOnThreeOfSevenDays() {
        TestAgent a = clients.agent(null, Clients.dailyCap(10_000_000, CapEnforcement.CAP_ENFORCEMENT_SOFT), null);
        Instant now = Instant.now();
        clients.pay(a, PayRequest.newBuilder().setAmountMicros(8_500_000).setTool("t").setOccurredTime(Clients.ts(now.minusSeconds(86_400))));
        clients.pay(a, PayRequest.newBuilder().setAmountMicros(9_000_000).setTool("t").setOccurredTime(Clients.ts(now.minusSeconds(3 * 86_400))));
        Entry today = clients.pay(a, 8_100_000, "t");
        awaitEvaluated(today);
        List<Alert> found = clients.alerts(a.id(), Rule.RULE_CAP_UTILIZATION);
        Alert regular = found.stream().filter(x -> x.getDedupeKey().endsWith("|regular")).findFirst().orElseThrow();
        assertEquals(3, measure(regular, "days_over_threshold"));
        assertEquals(3, threshold(regular, "days_over_threshold"));
        Alert current = found.stream().filter(x -> x.getDedupeKey().endsWith("|now:DAY")).findFirst().orElseThrow();
        // the ledger counts the cap on recorded time: all three payments fall in today's window
        assertEquals(25_600_000, measure(current, "used_micros"));
        assertEquals(2560, measure(current, "utilization_permille"));
        assertEquals(800, threshold(current, "utilization_permille"));
    }

    @Test
    void capUtilizationBelowEightyPercentDoesNotFire() {
        TestAgent a = clients.agent(null, Clients.dailyCap(10_000_000, CapEnforcement.CAP_ENFORCEMENT_SOFT), null);
        clients.pay(a, PayRequest.newBuilder().setAmountMicros(3_000_000).setTool("t")
                .setOccurredTime(Clients.ts(Instant.now().minusSeconds(86_400))));
        Entry last = clients.pay(a, 4_000_000, "t"); // 7 of 10 USD today; 3 USD yesterday
        awaitEvaluated(last);
        assertTrue(clients.alerts(a.id(), Rule.RULE_CAP_UTILIZATION).isEmpty());
    }

    // ---- 5. retry rate

    @Test
    void retryRateAboveFifteenPercentFiresWithTheRetryCost() {
        TestAgent a = clients.agent();
        clients.configure(a, Rule.RULE_RETRY_RATE, Map.of("min_payments", 10L));
        for (int i = 0; i < 8; i++) {
            clients.pay(a, PayRequest.newBuilder().setAmountMicros(100_000).setTool("t").setCallId("c" + i).setAttempt(1));
        }
        clients.pay(a, PayRequest.newBuilder().setAmountMicros(150_000).setTool("t").setCallId("c1").setAttempt(2));
        clients.pay(a, PayRequest.newBuilder().setAmountMicros(150_000).setTool("t").setCallId("c2").setAttempt(2));
        Alert alert = clients.awaitAlert(a.id(), Rule.RULE_RETRY_RATE);
        assertEquals(200, measure(alert, "retry_rate_permille"));
        assertEquals(150, threshold(alert, "retry_rate_permille"));
        assertEquals(2, measure(alert, "retries"));
        assertEquals(10, measure(alert, "payments"));
        assertEquals(300_000, measure(alert, "retry_spend_micros"));
    }

    @Test
    void fewRetriesDoNotFire() {
        TestAgent a = clients.agent();
        clients.configure(a, Rule.RULE_RETRY_RATE, Map.of("min_payments", 10L));
        Entry last = null;
        for (int i = 0; i < 9; i++) {
            last = clients.pay(a, PayRequest.newBuilder().setAmountMicros(100_000).setTool("t").setCallId("c" + i).setAttempt(1));
        }
        last = clients.pay(a, PayRequest.newBuilder().setAmountMicros(100_000).setTool("t").setCallId("c3").setAttempt(2));
        awaitEvaluated(last); // 1 of 10 = 10%
        assertTrue(clients.alerts(a.id(), Rule.RULE_RETRY_RATE).isEmpty());
    }

    // ---- 6. off-hours spend

    @Test
    void spendOutsideWorkingHoursFires() {
        // working hours only on the day after today (Tokyo time): now is off-hours there
        int tomorrow = Instant.now().atZone(java.time.ZoneId.of("Asia/Tokyo")).getDayOfWeek().plus(1).getValue();
        TestAgent a = clients.agent(null, null, WorkingHours.newBuilder().setTimeZone("Asia/Tokyo")
                .addIntervals(WorkingInterval.newBuilder().setDayOfWeek(tomorrow).setStartMinute(540).setEndMinute(1020)).build());
        clients.pay(a, 150_000, "t");
        Alert alert = clients.awaitAlert(a.id(), Rule.RULE_OFF_HOURS_SPEND);
        assertEquals(150_000, measure(alert, "off_hours_spend_micros"));
        assertEquals(1, measure(alert, "off_hours_payments"));
        assertTrue(alert.getEvidence().getSummary().contains("Asia/Tokyo"));
    }

    @Test
    void spendInsideWorkingHoursDoesNotFire() {
        WorkingHours.Builder always = WorkingHours.newBuilder().setTimeZone("Europe/Paris");
        for (int d = 1; d <= 7; d++) {
            always.addIntervals(WorkingInterval.newBuilder().setDayOfWeek(d).setStartMinute(0).setEndMinute(1440));
        }
        TestAgent a = clients.agent(null, null, always.build());
        Entry last = clients.pay(a, 150_000, "t");
        awaitEvaluated(last);
        assertTrue(clients.alerts(a.id(), Rule.RULE_OFF_HOURS_SPEND).isEmpty());
    }

    // ---- 7. payment loops

    @Test
    void aLoopOfFourAgentsFiresWithTheCycleAndItsAmounts() {
        TestAgent a = clients.agent(), b = clients.agent(), c = clients.agent(), d = clients.agent();
        clients.payAgent(a, b, 1_000_000);
        clients.payAgent(b, c, 900_000);
        clients.payAgent(c, d, 800_000);
        Entry closing = clients.payAgent(d, a, 700_000);
        Alert alert = clients.awaitAlert(a.id(), Rule.RULE_PAYMENT_LOOP);
        assertEquals(4, alert.getAgentIdsCount());
        assertEquals(4, measure(alert, "cycle_length"));
        assertEquals(3_400_000, measure(alert, "cycle_amount_micros"));
        assertEquals(4, alert.getEvidence().getLoopEdgesCount());
        for (LoopEdge e : alert.getEvidence().getLoopEdgesList()) {
            long expected = e.getFromAgentId().equals(a.id()) ? 1_000_000 : e.getFromAgentId().equals(b.id()) ? 900_000
                    : e.getFromAgentId().equals(c.id()) ? 800_000 : 700_000;
            assertEquals(expected, e.getAmountMicros());
            assertEquals(1, e.getPaymentCount());
        }
        assertEquals(closing.getPosition(), alert.getEvidence().getTriggerPosition());
        assertEquals(Severity.SEVERITY_CRITICAL, alert.getSeverity());
        assertEquals(RuleAction.RULE_ACTION_SUSPEND, alert.getAction());
        Duration latency = Duration.between(Clients.instant(closing.getRecordedTime()), Clients.instant(alert.getFirstSeenTime()));
        System.out.println("DETECTION LATENCY payment loop: " + latency.toMillis() + " ms");
        // the same alert for every agent of the cycle
        assertEquals(alert.getAlertId(), clients.awaitAlert(c.id(), Rule.RULE_PAYMENT_LOOP).getAlertId());
    }

    @Test
    void aLoopResolvesOnceItsWindowHasPassedWhileTheFeedNeverPauses() throws Exception {
        TestAgent a = clients.agent(), b = clients.agent();
        List<TestAgent> busy = List.of(clients.agent(), clients.agent(), clients.agent(), clients.agent());
        for (TestAgent x : List.of(a, b)) {
            clients.configure(x, Rule.RULE_PAYMENT_LOOP, java.util.Map.of("window_seconds", 2L));
        }
        // a steady feed: entries arrive while each of the consumer's batches commits, so every batch
        // finds the next waiting, as under production load
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.ExecutorService load = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            for (int i = 0; i < 8; i++) {
                TestAgent payer = busy.get(i % busy.size());
                load.submit(() -> {
                    while (!stop.get()) {
                        clients.pay(payer, 1, "steady/load");
                    }
                    return null;
                });
            }
            clients.payAgent(a, b, 1_000_000);
            clients.payAgent(b, a, 1_000_000);
            Alert fired = clients.awaitAlert(a.id(), Rule.RULE_PAYMENT_LOOP);
            // nothing of a or b after the loop: only the sweep can see its window pass
            Alert resolved = Await.until(Duration.ofSeconds(20), "the loop's alert to be resolved by the sweep", () -> {
                List<Alert> found = clients.alerts(a.id(), Rule.RULE_PAYMENT_LOOP);
                return found.size() == 1 && found.get(0).getState() == AlertState.ALERT_STATE_RESOLVED
                        ? Optional.of(found.get(0)) : Optional.empty();
            });
            assertEquals(fired.getAlertId(), resolved.getAlertId());
        } finally {
            stop.set(true);
            load.shutdown();
            assertTrue(load.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS));
        }
    }

    @Test
    void aChainOfAgentPaymentsIsNotALoop() {
        TestAgent a = clients.agent(), b = clients.agent(), c = clients.agent();
        clients.payAgent(a, b, 1_000_000);
        clients.payAgent(b, c, 1_000_000);
        Entry last = clients.payAgent(a, c, 1_000_000);
        awaitEvaluated(last);
        assertTrue(clients.alerts(a.id(), Rule.RULE_PAYMENT_LOOP).isEmpty());
        assertTrue(clients.alerts(c.id(), Rule.RULE_PAYMENT_LOOP).isEmpty());
    }

    // ---- 8. single-tool spike (suspension is in SuspensionTest)

    @Test
    void aToolSpikeSeveralTimesItsBaselineFires() {
        TestAgent a = clients.agent();
        // notify only here: the end-to-end suspension test covers the default action
        clients.admin().setRuleConfig(dev.agentspend.proto.alerts.v1.SetRuleConfigRequest.newBuilder().setRequestId(Clients.rid())
                .setConfig(dev.agentspend.proto.alerts.v1.RuleConfig.newBuilder().setScope(dev.agentspend.proto.alerts.v1.ConfigScope.CONFIG_SCOPE_AGENT)
                        .setScopeId(a.id()).setRule(Rule.RULE_TOOL_SPEND_SPIKE).setAction(RuleAction.RULE_ACTION_NOTIFY)
                        .putParameters("window_seconds", 3).putParameters("baseline_window_seconds", 60)).build());
        Instant baselineEnd = baseline(a, "images/generate");
        for (int i = 0; i < 5; i++) {
            clients.pay(a, 300_000, "images/generate");
        }
        Alert alert = clients.awaitAlert(a.id(), Rule.RULE_TOOL_SPEND_SPIKE);
        assertTrue(Instant.now().isAfter(baselineEnd));
        assertEquals("images/generate", alert.getEvidence().getTool());
        assertEquals(1_500_000, measure(alert, "window_spend_micros"));
        assertEquals(150_000, measure(alert, "baseline_spend_micros"));
        assertEquals(3, measure(alert, "baseline_payments"));
        assertEquals(7_500, measure(alert, "expected_spend_micros")); // 0.15 USD * 3 s / 60 s
        assertEquals(200_000, measure(alert, "ratio_to_baseline_permille"));
    }

    @Test
    void spendingAtTheBaselineRateDoesNotSpike() {
        TestAgent a = clients.agent();
        clients.configure(a, Rule.RULE_TOOL_SPEND_SPIKE, Map.of("window_seconds", 3L, "baseline_window_seconds", 60L));
        baseline(a, "images/generate");
        Entry last = null;
        for (int i = 0; i < 5; i++) {
            last = clients.pay(a, 50_000, "images/generate");
        }
        awaitEvaluated(last);
        assertTrue(clients.alerts(a.id(), Rule.RULE_TOOL_SPEND_SPIKE).isEmpty());
    }

    /** Three 0.05 USD payments, then waits until they are older than the 3 s window: the tool's baseline. */
    private Instant baseline(TestAgent a, String tool) {
        for (int i = 0; i < 3; i++) {
            clients.pay(a, 50_000, tool);
        }
        Instant end = Instant.now().plusSeconds(4);
        Await.until(Duration.ofSeconds(10), "the baseline to leave the spike window",
                () -> Instant.now().isAfter(end) ? Optional.of(true) : Optional.empty());
        return end;
    }

    // ---- 9. decline bursts

    @Test
    void aBurstOfDeclinesFires() {
        TestAgent a = clients.agent(null, Clients.dailyCap(1_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
        clients.pay(a, 900_000, "t");
        for (int i = 0; i < 5; i++) {
            Entry declined = clients.pay(a, 500_000, "t");
            assertEquals(Decision.DECISION_DECLINED, declined.getDecision());
        }
        Alert alert = clients.awaitAlert(a.id(), Rule.RULE_DECLINE_BURST);
        assertEquals(5, measure(alert, "declines"));
        assertEquals(5, threshold(alert, "declines"));
        assertEquals(5, measure(alert, "declines_cap_exceeded"));
    }

    @Test
    void aFewDeclinesDoNotFire() {
        TestAgent a = clients.agent(null, Clients.dailyCap(1_000_000, CapEnforcement.CAP_ENFORCEMENT_HARD), null);
        clients.pay(a, 900_000, "t");
        Entry last = null;
        for (int i = 0; i < 4; i++) {
            last = clients.pay(a, 500_000, "t");
        }
        awaitEvaluated(last);
        assertTrue(clients.alerts(a.id(), Rule.RULE_DECLINE_BURST).isEmpty());
    }

    // ---- 1. cost per task

    @Test
    void costPerTaskUpMoreThanTwentyPercentWeekOverWeekFires() {
        TestAgent a = clients.agent();
        Instant lastWeek = Instant.now().minusSeconds(9 * 86_400);
        tasks(a, "old", 5, 1_000_000, lastWeek);
        tasks(a, "new", 5, 1_250_000, null);
        Alert alert = clients.awaitAlert(a.id(), Rule.RULE_COST_PER_TASK_INCREASE);
        assertEquals(1_250_000, measure(alert, "avg_cost_per_task_micros"));
        assertEquals(1_200_000, threshold(alert, "avg_cost_per_task_micros"));
        assertEquals(1_000_000, measure(alert, "previous_avg_cost_per_task_micros"));
        assertEquals(250, measure(alert, "increase_permille"));
        assertEquals(5, measure(alert, "tasks"));
    }

    @Test
    void steadyCostPerTaskDoesNotFire() {
        TestAgent a = clients.agent();
        tasks(a, "old", 5, 1_000_000, Instant.now().minusSeconds(9 * 86_400));
        Entry last = tasks(a, "new", 5, 1_150_000, null); // +15%
        awaitEvaluated(last);
        assertTrue(clients.alerts(a.id(), Rule.RULE_COST_PER_TASK_INCREASE).isEmpty());
    }

    private Entry tasks(TestAgent a, String prefix, int count, long costEach, Instant occurred) {
        Entry last = null;
        for (int i = 0; i < count; i++) {
            String task = prefix + "-" + i;
            PayRequest.Builder pay = PayRequest.newBuilder().setAmountMicros(costEach).setTool("t").setTaskId(task);
            if (occurred != null) {
                pay.setOccurredTime(Clients.ts(occurred));
            }
            clients.pay(a, pay);
            last = clients.completeTask(a, task, occurred);
        }
        return last;
    }
}
