package dev.agentspend.ledger.support;

import dev.agentspend.common.api.Ids;
import dev.agentspend.platform.Await;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import dev.agentspend.proto.identity.v1.CreateTeamRequest;
import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import dev.agentspend.proto.ledger.v1.GetBalanceResponse;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.PayRequest;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * What the ledger's tests share: real gRPC channels to the ledger (18082) and to identity (19081),
 * stubs carrying a bearer token, agents and teams created through identity's admin API, and a
 * JDBC connection to the ledger's database for checks the API cannot make.
 */
public final class Fixture {
    public static final int LEDGER_PORT = 18082;
    private static ManagedChannel ledgerChannel;
    private static ManagedChannel identityChannel;

    private Fixture() {
    }

    public static synchronized ManagedChannel ledgerChannel() {
        if (ledgerChannel == null) {
            ledgerChannel = ManagedChannelBuilder.forAddress("localhost", LEDGER_PORT).usePlaintext().build();
        }
        return ledgerChannel;
    }

    public static synchronized ManagedChannel identityChannel() {
        if (identityChannel == null) {
            identityChannel = ManagedChannelBuilder.forAddress("localhost", LedgerTestResource.IDENTITY_PORT).usePlaintext().build();
        }
        return identityChannel;
    }

    static Metadata bearer(String token) {
        Metadata headers = new Metadata();
        if (token != null) {
            headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        }
        return headers;
    }

    /** A ledger stub calling with {@code token} (null: no credential), each call bounded to 30 s. */
    public static LedgerServiceGrpc.LedgerServiceBlockingStub ledger(String token) {
        return LedgerServiceGrpc.newBlockingStub(ledgerChannel())
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(token)))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    public static LedgerServiceGrpc.LedgerServiceBlockingStub admin() {
        return ledger(LedgerTestResource.ADMIN_TOKEN);
    }

    public static IdentityServiceGrpc.IdentityServiceBlockingStub identity() {
        return IdentityServiceGrpc.newBlockingStub(identityChannel())
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(LedgerTestResource.ADMIN_TOKEN)))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    /** An agent created through identity: its id and its full key. */
    public record TestAgent(String id, String key, String teamId) {
        public LedgerServiceGrpc.LedgerServiceBlockingStub ledger() {
            return Fixture.ledger(key);
        }
    }

    public static Cap cap(CapWindow window, long limit, boolean hard) {
        return Cap.newBuilder().setWindow(window).setLimitMicros(limit).setCurrencyCode("USD")
                .setEnforcement(hard ? CapEnforcement.CAP_ENFORCEMENT_HARD : CapEnforcement.CAP_ENFORCEMENT_SOFT).build();
    }

    public static String newTeam(Cap... caps) {
        CreateTeamRequest.Builder r = CreateTeamRequest.newBuilder().setRequestId("team-" + Ids.randomBase32(12))
                .setName("team-" + Ids.randomBase32(10)).setDisplayName("test team").setCurrencyCode("USD");
        for (Cap c : caps) {
            r.addCaps(c);
        }
        return identity().createTeam(r.build()).getTeam().getId();
    }

    /** Creates a PRODUCTION agent with the policy, waits until the ledger knows it, credits it. */
    public static TestAgent newAgent(String teamId, SpendingPolicy policy, long creditMicros) {
        return newAgent(teamId, AgentMode.AGENT_MODE_PRODUCTION, policy, creditMicros);
    }

    public static TestAgent newAgent(String teamId, AgentMode mode, SpendingPolicy policy, long creditMicros) {
        CreateAgentRequest.Builder r = CreateAgentRequest.newBuilder().setRequestId("agent-" + Ids.randomBase32(12))
                .setHandle("agent-" + Ids.randomBase32(10)).setDisplayName("test agent").setMode(mode)
                .setCurrencyCode("USD").setPolicy(policy);
        if (teamId != null) {
            r.setTeamId(teamId);
        }
        CreateAgentResponse created = identity().createAgent(r.build());
        TestAgent agent = new TestAgent(created.getAgent().getId(), created.getApiKeySecret(), teamId == null ? "" : teamId);
        awaitKnown(agent);
        if (creditMicros > 0) {
            credit(agent, creditMicros);
        }
        return agent;
    }

    public static void credit(TestAgent agent, long micros) {
        admin().credit(CreditRequest.newBuilder().setRequestId("credit-" + Ids.randomBase32(12)).setAgentId(agent.id())
                .setAmountMicros(micros).setCurrencyCode("USD").setNote("test top-up").build());
    }

    /** Waits (at most 10 s) until the ledger's policy cache accepts the agent's key. */
    public static void awaitKnown(TestAgent agent) {
        await(Duration.ofSeconds(10), "the ledger to learn agent " + agent.id(), () -> {
            try {
                agent.ledger().getBalance(GetBalanceRequest.getDefaultInstance());
                return true;
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.UNAUTHENTICATED) {
                    return false;
                }
                throw e;
            }
        });
    }

    public static GetBalanceResponse balance(TestAgent agent) {
        return admin().getBalance(GetBalanceRequest.newBuilder().setAgentId(agent.id()).build());
    }

    public static PayRequest.Builder pay(long micros) {
        return PayRequest.newBuilder().setRequestId("pay-" + Ids.randomBase32(16)).setAmountMicros(micros)
                .setCurrencyCode("USD").setTool("openai/chat.completions");
    }

    /** Polls {@code condition} until true; fails after {@code timeout} ({@link Await#until}). */
    public static void await(Duration timeout, String what, BooleanSupplier condition) {
        Await.until(timeout, what, condition);
    }

    /** A JDBC connection to the ledger's database. */
    /**
     * Inserts an entry row ($1: its id) with nothing behind it, past every position in use: for a
     * test transaction that is rolled back (VerifyLedger would report it committed).
     */
    public static final String INSERT_BARE_ENTRY = """
            INSERT INTO ledger.entries (position, entry_id, event_type, agent_id, team_id, tool, task_id, decision,
              amount_micros, spend_micros, currency_code, hold_id, reversed_entry_id, recorded_time, payload)
            VALUES ((SELECT COALESCE(MAX(position), 0) + 1000000 FROM ledger.entries), $1, 2, 'agt_bare', '', '', '',
              2, 1, 0, 'USD', '', '', now(), '\\x00')""";

    public static Connection sql() throws SQLException {
        return DriverManager.getConnection(LedgerTestResource.database().jdbcUrl(LedgerTestResource.LEDGER_DB), "postgres", "");
    }

    public static long queryLong(String sql, Object... args) {
        try (Connection c = sql(); var st = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                st.setObject(i + 1, args[i]);
            }
            try (var rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    /** The ledger's connections waiting for a row lock now (a batch the test holds back). */
    public static long ledgerConnectionsWaitingForALock() {
        return queryLong("SELECT COUNT(*) FROM pg_stat_activity "
                + "WHERE application_name = 'ledger-service' AND wait_event_type = 'Lock'");
    }

    public static StatusRuntimeException expectError(Status.Code code, Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() != code) {
                throw new AssertionError("expected " + code + " but got " + e.getStatus(), e);
            }
            return e;
        }
        throw new AssertionError("expected " + code + " but the call succeeded");
    }
}
