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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
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
 * A property-based system test of the ledger: random sequences of Pay, Hold, Capture
 * (below, at and above its hold), Release, hold expiry, PayAgent, Credit, Reverse, retries with
 * the same request_id (same and different body, and two copies at once) over 2 to 4 fresh agents
 * with HARD and SOFT caps of every window (some agents without, some in a team with caps of its
 * own) keep every invariant: each answer is the one {@link LedgerModel} predicts (decision,
 * decline reason, tightest HARD cap), balances and cap usage match the model after every action,
 * no balance is ever negative, no HARD cap window is exceeded (summed from the entries, see
 * {@link LedgerAudit}), a retry never charges twice, and VerifyLedger is clean after every try.
 *
 * <p>Like {@link LedgerCrashTest} this runs the packaged identity and ledger jars against the
 * embedded PostgreSQL, started once for all tries. The tries are drawn and a failure shrunk by our
 * own {@link PropertyRunner} (jqwik's maintainers ask AI coding agents not to use jqwik): it
 * prints the seeds, and a failure the command that replays it.
 */
class LedgerPropertiesTest {
    static final String DATABASE = "agentspend_properties";
    static final int TRIES = 60;
    /** Bounds the tries and shrinking together: no single RPC may hang (10 s deadlines) and no run may drag on. */
    static final Duration TIME_LIMIT = Duration.ofMinutes(6);
    /** A try takes about a second: a minute of shrinking tries a few dozen shorter sequences. */
    static final Duration SHRINK_LIMIT = Duration.ofMinutes(1);

    static Platform platform;

    @BeforeAll
    @Timeout(value = 7, unit = TimeUnit.MINUTES)   // each service gets 180 s to start
    static void start() {
        platform = Platform.start();
    }

    @AfterAll
    static void stop() {
        if (platform != null) {
            platform.stop();
        }
    }

    @Test
    @Timeout(value = 7, unit = TimeUnit.MINUTES)   // TIME_LIMIT, with a minute to spare for the try running at its end
    void randomSequencesKeepEveryInvariant() {
        PropertyRunner<LedgerActions.TrySpec, LedgerActions.Action> runner = new PropertyRunner<>(
                "LedgerPropertiesTest#randomSequencesKeepEveryInvariant", LedgerActions::generate,
                LedgerActions.TrySpec::actions, LedgerActions.TrySpec::withActions,
                (spec, deadline) -> new LedgerTry(platform).run(spec, deadline));
        try {
            runner.run(TRIES, TIME_LIMIT, SHRINK_LIMIT);
        } finally {
            System.out.println("What the actions did (tries and shrinking attempts together):");
            platform.counts.forEach((what, n) -> System.out.printf("  %-62s %6d%n", what, n.sum()));
        }
    }

    /** The running identity and ledger, their channels, and the counts the summary prints. */
    static final class Platform {
        final String adminToken = ReplicasTest.randomToken();
        final String serviceToken = ReplicasTest.randomToken();
        final Map<String, LongAdder> counts = new ConcurrentSkipListMap<>();
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
    }
}
