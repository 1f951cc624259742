package dev.agentspend.bench;

import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Creates the benchmark's agents through the public APIs, as an operator would: identity's
 * {@code CreateAgent} (admin token) with a HARD daily cap and one API key each, then, once the
 * ledger knows them through identity's policy feed, a prepaid balance with the ledger's
 * {@code Credit}.
 *
 * <p>About 2% of the fleet are "tight" agents (half with a daily cap of 0.03 USD, half with a balance
 * of 0.03 USD), which spend all but 0.005 USD of it in one set-up payment: during the run they are
 * declined from their first payments on, so that declines happen and the overspend audit has
 * limits that were pressed against. The hot agent of phase B has a large balance and a cap that
 * never binds.
 */
final class FleetSetup {
    static final String USD = "USD";
    /** Payments are 1,000 to 10,000 micros (0.001 to 0.01 USD). */
    static final long MIN_AMOUNT = 1_000;
    static final long MAX_AMOUNT = 10_000;
    static final long NORMAL_DAY_CAP = 1_000_000_000L;      // 1,000 USD: never reached in a run
    static final long NORMAL_CREDIT = 100_000_000L;         // 100 USD
    static final long TIGHT_LIMIT = 30_000L;                // 0.03 USD
    /** What a tight agent has left of its limit when the run starts: zero to five payments. */
    static final long TIGHT_HEADROOM = 5_000L;
    static final long HOT_DAY_CAP = 1_000_000_000_000L;     // 1,000,000 USD
    static final long HOT_CREDIT = 100_000_000_000L;        // 100,000 USD

    private static final int PARALLELISM = 8;

    private FleetSetup() {
    }

    /** What each agent will be: the plan, without any call. The hot agent comes last. */
    static List<BenchAgent.Kind> plan(int agents) {
        int tight = Math.max(2, (int) Math.round(agents * 0.02));
        tight = Math.min(tight, agents / 2);
        List<BenchAgent.Kind> kinds = new ArrayList<>();
        for (int i = 0; i < agents; i++) {
            kinds.add(BenchAgent.Kind.NORMAL);
        }
        // spread the tight agents over the fleet: every (agents / tight)-th, alternating the two kinds
        for (int t = 0; t < tight; t++) {
            int index = (int) ((long) t * agents / tight);
            kinds.set(index, t % 2 == 0 ? BenchAgent.Kind.TIGHT_CAP : BenchAgent.Kind.TIGHT_BALANCE);
        }
        kinds.add(BenchAgent.Kind.HOT);
        return kinds;
    }

    static long dayCap(BenchAgent.Kind kind) {
        return switch (kind) {
            case NORMAL, TIGHT_BALANCE -> NORMAL_DAY_CAP;
            case TIGHT_CAP -> TIGHT_LIMIT;
            case HOT -> HOT_DAY_CAP;
        };
    }

    static long credit(BenchAgent.Kind kind) {
        return switch (kind) {
            case NORMAL, TIGHT_CAP -> NORMAL_CREDIT;
            case TIGHT_BALANCE -> TIGHT_LIMIT;
            case HOT -> HOT_CREDIT;
        };
    }

    /** Creates the fleet plus the hot agent (last in the list), waits for the ledger, credits them. */
    static List<BenchAgent> create(BenchStack stack, int agents, PrintStream out) throws Exception {
        List<BenchAgent.Kind> kinds = plan(agents);
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(PARALLELISM);
        try {
            List<Future<BenchAgent>> created = new ArrayList<>();
            for (int i = 0; i < kinds.size(); i++) {
                int index = i;
                created.add(pool.submit(() -> createAgent(stack, index, kinds.get(index))));
            }
            List<BenchAgent> fleet = new ArrayList<>();
            for (Future<BenchAgent> f : created) {
                fleet.add(f.get(5, TimeUnit.MINUTES));
            }
            out.printf("created %d agents with one API key each in %.1f s (identity CreateAgent, admin token)%n",
                    fleet.size(), (System.nanoTime() - t0) / 1e9);

            t0 = System.nanoTime();
            awaitLedgerKnows(stack, fleet.get(fleet.size() - 1), out);
            out.printf("the ledger knows the last agent's key after %.1f s (policy feed)%n", (System.nanoTime() - t0) / 1e9);

            t0 = System.nanoTime();
            List<Future<?>> credits = new ArrayList<>();
            for (BenchAgent a : fleet) {
                credits.add(pool.submit(() -> stack.ledgerAdmin().withDeadlineAfter(30, TimeUnit.SECONDS)
                        .credit(CreditRequest.newBuilder().setRequestId("bench-credit-" + a.index())
                                .setAgentId(a.id()).setAmountMicros(a.creditMicros()).setCurrencyCode(USD)
                                .setNote("benchmark top-up").build())));
            }
            for (Future<?> f : credits) {
                f.get(5, TimeUnit.MINUTES);
            }
            out.printf("credited every agent in %.1f s (ledger Credit, admin token)%n", (System.nanoTime() - t0) / 1e9);

            // tight agents start the run close to their limit, so that they are declined from their
            // first payments on however few payments each agent gets at the measured rate
            List<Future<?>> preSpends = new ArrayList<>();
            for (BenchAgent a : fleet) {
                if (a.kind() == BenchAgent.Kind.TIGHT_CAP || a.kind() == BenchAgent.Kind.TIGHT_BALANCE) {
                    preSpends.add(pool.submit(() -> {
                        Entry e = stack.ledgerAs(a.apiKey()).withDeadlineAfter(30, TimeUnit.SECONDS)
                                .pay(PayRequest.newBuilder().setRequestId("bench-prespend-" + a.index())
                                        .setAmountMicros(TIGHT_LIMIT - TIGHT_HEADROOM).setCurrencyCode(USD)
                                        .setTool("bench/setup").build()).getEntry();
                        if (e.getDecision() != Decision.DECISION_APPROVED) {
                            throw new IllegalStateException("the set-up payment of " + a.handle() + " was declined: "
                                    + e.getDeclineReason());
                        }
                        return null;
                    }));
                }
            }
            for (Future<?> f : preSpends) {
                f.get(5, TimeUnit.MINUTES);
            }
            out.printf("%d tight agents spent all but %d micros of their limit%n", preSpends.size(), TIGHT_HEADROOM);
            return fleet;
        } finally {
            pool.shutdownNow();
        }
    }

    private static BenchAgent createAgent(BenchStack stack, int index, BenchAgent.Kind kind) {
        String handle = kind == BenchAgent.Kind.HOT ? "bench-hot" : String.format("bench-%05d", index);
        long cap = dayCap(kind);
        CreateAgentResponse r = stack.identityAdmin().withDeadlineAfter(60, TimeUnit.SECONDS)
                .createAgent(CreateAgentRequest.newBuilder()
                        .setRequestId("bench-agent-" + index).setHandle(handle)
                        .setDisplayName("Benchmark agent " + index + " (" + kind + ")")
                        .setMode(AgentMode.AGENT_MODE_PRODUCTION).setCurrencyCode(USD)
                        .setPolicy(SpendingPolicy.newBuilder().addCaps(Cap.newBuilder()
                                .setWindow(CapWindow.CAP_WINDOW_DAY).setLimitMicros(cap).setCurrencyCode(USD)
                                .setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD)))
                        .build());
        return new BenchAgent(index, r.getAgent().getId(), handle, r.getApiKeySecret(), kind, cap, credit(kind));
    }

    /**
     * The ledger answers UNAVAILABLE until its first policy snapshot and UNAUTHENTICATED until the
     * key has arrived through the feed; the feed is ordered, so once the last agent's key works,
     * every earlier one does.
     */
    private static void awaitLedgerKnows(BenchStack stack, BenchAgent last, PrintStream out) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        StatusRuntimeException lastError = null;
        while (System.nanoTime() < deadline) {
            try {
                stack.ledgerAs(last.apiKey()).withDeadlineAfter(5, TimeUnit.SECONDS)
                        .getBalance(GetBalanceRequest.getDefaultInstance());
                return;
            } catch (StatusRuntimeException e) {
                Status.Code code = e.getStatus().getCode();
                if (code != Status.Code.UNAVAILABLE && code != Status.Code.UNAUTHENTICATED
                        && code != Status.Code.DEADLINE_EXCEEDED) {
                    throw e;
                }
                lastError = e;
            }
            Thread.sleep(100);   // poll interval of this deadline-bounded wait
        }
        throw new IllegalStateException("the ledger did not learn the agents' keys within 120 s: " + lastError);
    }
}
