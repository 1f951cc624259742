package dev.agentspend.k8s;

import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.ListEntriesRequest;
import dev.agentspend.proto.ledger.v1.ListEntriesResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.MetadataUtils;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.AroundPropertyHook;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.lifecycle.PropertyExecutionResult;
import net.jqwik.api.lifecycle.PropertyExecutor;
import net.jqwik.api.lifecycle.PropertyLifecycleContext;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * A property-based system test of the ledger (jqwik): random sequences of Pay, Hold, Capture
 * (below, at and above its hold), Release, hold expiry, PayAgent, Credit, Reverse, retries with
 * the same request_id (same and different body, and two copies at once) over 2 to 4 fresh agents
 * with HARD and SOFT caps of every window (some agents without, some in a team with caps of its
 * own) keep every invariant: each answer is the one {@link LedgerModel} predicts (decision,
 * decline reason, tightest HARD cap), balances and cap usage match the model after every action,
 * no balance is ever negative, no HARD cap window is exceeded (summed from the entries, see
 * {@link LedgerAudit}), a retry never charges twice, and VerifyLedger is clean after every try.
 *
 * <p>jqwik cannot run inside a @QuarkusTest, so like {@link LedgerCrashTest} this runs the packaged
 * identity and ledger jars against the embedded PostgreSQL, started once for all tries. A failure
 * is shrunk to a shortest failing sequence; jqwik prints the seed, and puts the failing sample
 * first on the next run (target/.jqwik-database).
 */
class LedgerPropertiesTest {
    static final String DATABASE = "agentspend_properties";
    static final int TRIES = 60;
    /** Bounds the whole property, shrinking included: no single RPC may hang (10 s deadlines) and no run may drag on. */
    static final Duration TIME_LIMIT = Duration.ofMinutes(6);

    static Platform platform;

    @BeforeContainer
    static void start() {
        platform = Platform.start();
    }

    @AfterContainer
    static void stop() {
        if (platform != null) {
            platform.stop();
        }
    }

    @Property(tries = TRIES, shrinking = ShrinkingMode.BOUNDED)
    @AddLifecycleHook(Summary.class)
    void everyLedgerInvariantHolds(@ForAll("tries") LedgerActions.TrySpec spec) {
        platform.count("property runs (tries, and shrinking steps after a failure)");
        platform.count("actions generated", spec.actions().size());
        new LedgerTry(platform).run(spec);
    }

    @Provide
    Arbitrary<LedgerActions.TrySpec> tries() {
        return LedgerActions.tries();
    }

    /** Prints how many tries and actions ran, what they did, the seed and how long it took. */
    public static class Summary implements AroundPropertyHook {
        @Override
        public PropertyExecutionResult aroundProperty(PropertyLifecycleContext context, PropertyExecutor property) {
            long started = System.nanoTime();
            PropertyExecutionResult result = property.execute();
            System.out.printf("%nLedgerPropertiesTest: %s after %d tries (%d checks) in %.1f s, seed %s%n",
                    result.status(), result.countTries(), result.countChecks(),
                    (System.nanoTime() - started) / 1e9, result.seed().orElse("?"));
            if (platform != null) {
                platform.counts.forEach((what, n) -> System.out.printf("  %-62s %6d%n", what, n.sum()));
            }
            return result;
        }
    }

    /** The running identity and ledger, their channels, and the counts the summary prints. */
    static final class Platform {
        final String adminToken = ReplicasTest.randomToken();
        final String serviceToken = ReplicasTest.randomToken();
        final Map<String, LongAdder> counts = new ConcurrentSkipListMap<>();
        final long startedNanos = System.nanoTime();
        ServiceProcess identity;
        ServiceProcess ledger;
        ManagedChannel identityChannel;
        ManagedChannel ledgerChannel;

        static Platform start() {
            Platform p = new Platform();
            EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
            db.createDatabase(DATABASE);
            Map<String, String> env = new HashMap<>(Map.of(
                    "QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl(DATABASE),
                    "QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl(DATABASE),
                    "QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER,
                    "QUARKUS_DATASOURCE_PASSWORD", "",
                    "AGENTSPEND_ADMIN_TOKEN", p.adminToken,
                    "AGENTSPEND_SERVICE_TOKEN", p.serviceToken));
            p.identity = ServiceProcess.of(ReplicasTest.snapshot("identity-service"), ServiceProcess.freePort(), env).start()
                    .awaitReady(Duration.ofSeconds(180));
            env.put("QUARKUS_GRPC_CLIENTS_IDENTITY_HOST", "localhost");
            env.put("QUARKUS_GRPC_CLIENTS_IDENTITY_PORT", Integer.toString(p.identity.httpPort()));
            // the test's calls come as fast as the ledger answers: the per-agent rate limit is not what is tested
            env.put("AGENTSPEND_LEDGER_AGENT_RATE_PER_SECOND", "1000000");
            env.put("AGENTSPEND_LEDGER_AGENT_RATE_BURST", "1000000");
            p.ledger = ServiceProcess.of(ReplicasTest.snapshot("ledger-service"), ServiceProcess.freePort(), env).start()
                    .awaitReady(Duration.ofSeconds(180));
            p.identityChannel = ManagedChannelBuilder.forAddress("localhost", p.identity.httpPort()).usePlaintext().build();
            p.ledgerChannel = ManagedChannelBuilder.forAddress("localhost", p.ledger.httpPort()).usePlaintext().build();
            return p;
        }

        void stop() {
            for (ManagedChannel c : new ManagedChannel[]{ledgerChannel, identityChannel}) {
                if (c != null) {
                    c.shutdownNow();
                }
            }
            if (ledger != null) {
                ledger.stop();
            }
            if (identity != null) {
                identity.stop();
            }
        }

        String adminToken() {
            return adminToken;
        }

        IdentityServiceGrpc.IdentityServiceBlockingStub identity() {
            return IdentityServiceGrpc.newBlockingStub(identityChannel)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(adminToken)))
                    .withDeadlineAfter(10, TimeUnit.SECONDS);
        }

        LedgerServiceGrpc.LedgerServiceBlockingStub ledger(String token) {
            return LedgerServiceGrpc.newBlockingStub(ledgerChannel)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(token)))
                    .withDeadlineAfter(10, TimeUnit.SECONDS);
        }

        LedgerServiceGrpc.LedgerServiceFutureStub ledgerFuture(String token) {
            return LedgerServiceGrpc.newFutureStub(ledgerChannel)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(ReplicasTest.bearer(token)))
                    .withDeadlineAfter(10, TimeUnit.SECONDS);
        }

        /** Every entry of each agent, in feed order (the admin's ListEntries, all pages). */
        Map<LedgerModel.Agent, List<Entry>> entriesOf(List<LedgerModel.Agent> agents) {
            Map<LedgerModel.Agent, List<Entry>> out = new LinkedHashMap<>();
            for (LedgerModel.Agent a : agents) {
                List<Entry> all = new ArrayList<>();
                String page = "";
                do {
                    ListEntriesResponse r = ledger(adminToken).listEntries(ListEntriesRequest.newBuilder()
                            .setAgentId(a.id).setPageSize(1000).setPageToken(page).build());
                    all.addAll(r.getEntriesList());
                    page = r.getNextPageToken();
                } while (!page.isEmpty());
                out.put(a, all);
            }
            return out;
        }

        void count(String what) {
            count(what, 1);
        }

        void count(String what, long n) {
            counts.computeIfAbsent(what, k -> new LongAdder()).add(n);
        }

        void checkTime() {
            if (System.nanoTime() - startedNanos > TIME_LIMIT.toNanos()) {
                throw new AssertionError("LedgerPropertiesTest ran longer than " + TIME_LIMIT);
            }
        }
    }
}
