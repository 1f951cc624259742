package dev.agentspend.ledger.grpc;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.common.api.Ids;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.PayAgentRequest;
import dev.agentspend.proto.ledger.v1.VerifyLedgerRequest;
import dev.agentspend.proto.ledger.v1.VerifyLedgerResponse;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static dev.agentspend.ledger.support.Fixture.cap;
import static io.restassured.RestAssured.given;
import static dev.agentspend.ledger.support.Fixture.pay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * No overspend under concurrency: 64 clients pay at once (thousands of calls) and the approved
 * sum, computed from the responses and from the database, never exceeds a HARD cap or the balance.
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class ConcurrencyGrpcTest {
    static final int CLIENTS = 64;
    static final int CALLS_PER_CLIENT = 32;
    static final long MIN = 500_000;
    static final long MAX = 1_500_000;

    /** Runs 64 x 32 payments of random amounts, each from one of the agents; returns what was approved. */
    static Totals storm(List<TestAgent> agents) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
        CountDownLatch start = new CountDownLatch(1);
        AtomicLong approved = new AtomicLong();
        AtomicLong approvedCount = new AtomicLong();
        AtomicLong declined = new AtomicLong();
        AtomicLong smallestDeclined = new AtomicLong(Long.MAX_VALUE);
        List<Future<?>> done = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            done.add(pool.submit(() -> {
                start.await();
                ThreadLocalRandom random = ThreadLocalRandom.current();
                for (int i = 0; i < CALLS_PER_CLIENT; i++) {
                    TestAgent a = agents.get(random.nextInt(agents.size()));
                    long amount = random.nextLong(MIN, MAX + 1);
                    Entry e = a.ledger().pay(pay(amount).build()).getEntry();
                    if (e.getDecision() == Decision.DECISION_APPROVED) {
                        approved.addAndGet(amount);
                        approvedCount.incrementAndGet();
                    } else {
                        declined.incrementAndGet();
                        smallestDeclined.accumulateAndGet(amount, Math::min);
                        assertTrue(e.getDeclineReason() == DeclineReason.DECLINE_REASON_CAP_EXCEEDED
                                || e.getDeclineReason() == DeclineReason.DECLINE_REASON_INSUFFICIENT_BALANCE, e.toString());
                    }
                }
                return null;
            }));
        }
        long t0 = System.nanoTime();
        start.countDown();
        for (Future<?> f : done) {
            f.get(240, TimeUnit.SECONDS);
        }
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        pool.shutdown();
        int calls = CLIENTS * CALLS_PER_CLIENT;
        System.out.printf("[ledger-concurrency] %d payments from %d clients in %d ms (%.0f/s): %d approved, %d declined%n",
                calls, CLIENTS, millis, calls * 1000.0 / Math.max(1, millis), approvedCount.get(), declined.get());
        assertEquals(calls, approvedCount.get() + declined.get());
        return new Totals(approved.get(), approvedCount.get(), declined.get(), smallestDeclined.get());
    }

    record Totals(long approved, long approvedCount, long declined, long smallestDeclined) {
    }

    static long spentInDatabase(List<TestAgent> agents) {
        long sum = 0;
        for (TestAgent a : agents) {
            sum += Fixture.queryLong("SELECT COALESCE(SUM(spend_micros), 0) FROM ledger.entries WHERE agent_id = ?", a.id());
        }
        return sum;
    }

    @Test
    void oneAgentNeverExceedsItsHardCap() throws Exception {
        long cap = 200_000_000;
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, cap, true)).build(), 10_000_000_000L);
        Totals t = storm(List.of(a));
        assertTrue(t.approved() <= cap, "approved " + t.approved() + " > cap " + cap);
        assertTrue(t.declined() > 0, "the storm must reach the cap");
        // no false declines either: what is left is smaller than the smallest amount declined
        assertTrue(cap - t.approved() < t.smallestDeclined(), "headroom " + (cap - t.approved()) + " left unused");
        assertEquals(t.approved(), spentInDatabase(List.of(a)));
        assertEquals(10_000_000_000L - t.approved(), Fixture.balance(a).getBalanceMicros());
        verifyClean();
        // the storm was committed in shared transactions (group commit), not one per payment
        assertTrue(largestPayBatch() > 1, "largest batch " + largestPayBatch());
    }

    @Test
    void theQueueAndBatchTimersCountEveryCallAndEveryBatch() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000_000L);
        String before = metrics();
        storm(List.of(a));
        String after = metrics();
        double calls = delta(before, after, "agentspend_ledger_pay_batch_size_sum");
        double batches = delta(before, after, "agentspend_ledger_pay_batch_size_count");
        assertEquals(CLIENTS * CALLS_PER_CLIENT, calls, 0.0);
        assertEquals(calls, delta(before, after, "agentspend_ledger_pay_queue_wait_seconds_count"), 0.0);
        assertEquals(batches, delta(before, after, "agentspend_ledger_pay_batch_preparing_seconds_count"), 0.0);
        assertEquals(batches, delta(before, after, "agentspend_ledger_pay_batch_committing_seconds_count"), 0.0);
        // a batch takes time to prepare and commit: the sums grew, in seconds (a whole storm takes well under a minute)
        double preparing = delta(before, after, "agentspend_ledger_pay_batch_preparing_seconds_sum");
        double committing = delta(before, after, "agentspend_ledger_pay_batch_committing_seconds_sum");
        assertTrue(preparing > 0 && preparing < 60, "preparing " + preparing + " s");
        assertTrue(committing > 0 && committing < 60, "committing " + committing + " s");
        assertTrue(after.contains("agentspend_ledger_pay_queue_wait_seconds_bucket{le=\"+Inf\"}"),
                "the queue wait is a histogram with buckets");
    }

    private static String metrics() {
        return given().port(Fixture.LEDGER_PORT).get("/q/metrics").then().statusCode(200).extract().asString();
    }

    private static double delta(String before, String after, String name) {
        return sample(after, name) - sample(before, name);
    }

    private static double sample(String metrics, String name) {
        return metrics.lines().filter(l -> l.startsWith(name + " ") || l.startsWith(name + "{"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).findFirst()
                .orElseThrow(() -> new AssertionError(name + " is not exposed"));
    }

    static double largestPayBatch() {
        String metrics = given().port(Fixture.LEDGER_PORT).get("/q/metrics").then().statusCode(200).extract().asString();
        return metrics.lines().filter(l -> l.startsWith("agentspend_ledger_pay_batch_size_max"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).max().orElse(0);
    }

    @Test
    void oneAgentNeverSpendsMoreThanItsBalance() throws Exception {
        long balance = 150_000_000;
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), balance);
        Totals t = storm(List.of(a));
        assertTrue(t.approved() <= balance);
        assertTrue(balance - t.approved() < t.smallestDeclined());
        assertEquals(balance - t.approved(), Fixture.balance(a).getBalanceMicros());
        assertEquals(t.approved(), spentInDatabase(List.of(a)));
        verifyClean();
    }

    @Test
    void oneTeamNeverExceedsItsHardCap() throws Exception {
        long cap = 300_000_000;
        String team = Fixture.newTeam(cap(CapWindow.CAP_WINDOW_DAY, cap, true));
        List<TestAgent> agents = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            agents.add(Fixture.newAgent(team, SpendingPolicy.getDefaultInstance(), 1_000_000_000L));
        }
        Totals t = storm(agents);
        assertTrue(t.approved() <= cap, "approved " + t.approved() + " > team cap " + cap);
        assertTrue(cap - t.approved() < t.smallestDeclined());
        assertEquals(t.approved(), spentInDatabase(agents));
        verifyClean();
    }

    @Test
    void agentsPayingEachOtherBothWaysNeverDeadlock() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 100_000_000);
        TestAgent b = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 100_000_000);
        ExecutorService pool = Executors.newFixedThreadPool(32);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < 32; t++) {
            TestAgent from = t % 2 == 0 ? a : b;
            TestAgent to = t % 2 == 0 ? b : a;
            done.add(pool.submit(() -> {
                start.await();
                for (int i = 0; i < 20; i++) {
                    Entry e = from.ledger().payAgent(PayAgentRequest.newBuilder().setRequestId("x-" + Ids.randomBase32(16))
                            .setPayeeAgentId(to.id()).setAmountMicros(1_000 + i).setCurrencyCode("USD").build()).getEntry();
                    assertEquals(Decision.DECISION_APPROVED, e.getDecision());
                }
                return null;
            }));
        }
        start.countDown();
        for (Future<?> f : done) {
            f.get(120, TimeUnit.SECONDS);
        }
        pool.shutdown();
        // money is conserved between the two, and both directions moved the same amounts
        assertEquals(200_000_000, Fixture.balance(a).getBalanceMicros() + Fixture.balance(b).getBalanceMicros());
        assertEquals(100_000_000, Fixture.balance(a).getBalanceMicros());
        verifyClean();
    }

    static void verifyClean() {
        VerifyLedgerResponse v = Fixture.admin().verifyLedger(VerifyLedgerRequest.getDefaultInstance());
        assertTrue(v.getConsistent(), v.getViolationsList().toString());
    }
}
