package dev.agentspend.ledger.grpc;

import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import dev.agentspend.common.api.Ids;
import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.proto.identity.v1.CreateApiKeyRequest;
import dev.agentspend.proto.identity.v1.CreateApiKeyResponse;
import dev.agentspend.proto.identity.v1.RevokeApiKeyRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.*;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

import static dev.agentspend.ledger.support.Fixture.pay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every RPC of {@code agentspend.ledger.v1.LedgerService} against every kind of credential, over
 * a real socket, with the expected status of each cell taken from the access rules in the proto
 * and the README: agent keys pay, hold, capture, release, pay other agents, complete tasks and read
 * their own balance and entries, always as the key's own agent; the admin token credits, reverses,
 * verifies and reads or completes tasks for any agent, but never pays; the service token only
 * streams the entry feed. A key that does not authenticate (revoked, expired, wrong secret) or no
 * credential: UNAUTHENTICATED. Refused calls change nothing: the ledger schema is compared before
 * and after all of them.
 *
 * <p>Every call names agent A (its hold, its entry, its id); OTHER_KEY is agent B's key, so a cell
 * OK for B on Pay, Hold and PayAgent means B acted as itself (A's balance is checked untouched).
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class AuthorizationMatrixTest {
    enum Cred {
        NONE, OWN_KEY, OTHER_KEY, REVOKED_KEY, EXPIRED_KEY, FORGED_KEY, SERVICE, ADMIN
    }

    private static final Status.Code OK = Status.Code.OK;
    private static final Status.Code UNAUTH = Status.Code.UNAUTHENTICATED;
    private static final Status.Code DENIED = Status.Code.PERMISSION_DENIED;

    /** What a call names: agent A, one of its open holds, one of its approved entries, a payee C. */
    record Subject(String agentId, String holdId, String entryId, String payeeId) {
    }

    record Rpc(String name, boolean writes, Status.Code[] expected,
               BiFunction<LedgerServiceGrpc.LedgerServiceBlockingStub, Subject, Object> call) {
    }

    private static Rpc rpc(String name, boolean writes, BiFunction<LedgerServiceGrpc.LedgerServiceBlockingStub, Subject, Object> call,
                           Status.Code... expected) {
        assertEquals(Cred.values().length, expected.length, name);
        return new Rpc(name, writes, expected, call);
    }

    private static String rid() {
        return "matrix-" + Ids.randomBase32(16);
    }

    // @formatter:off
    private static final List<Rpc> MATRIX = List.of(
        //                                                                                  NONE    OWN     OTHER   REVOKED EXPIRED FORGED  SERVICE ADMIN
        rpc("Pay", true, (s, x) -> s.pay(pay(1).build()),                                   UNAUTH, OK,     OK,     UNAUTH, UNAUTH, UNAUTH, DENIED, DENIED),
        rpc("Hold", true, (s, x) -> s.hold(HoldRequest.newBuilder().setRequestId(rid()).setAmountMicros(1)
                .setCurrencyCode("USD").setTool("t/matrix").setTtl(Durations.fromMinutes(5)).build()),
                                                                                            UNAUTH, OK,     OK,     UNAUTH, UNAUTH, UNAUTH, DENIED, DENIED),
        rpc("Capture", true, (s, x) -> s.capture(CaptureRequest.newBuilder().setRequestId(rid()).setHoldId(x.holdId())
                .setAmountMicros(1).build()),                                               UNAUTH, OK,     DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, DENIED),
        rpc("Release", true, (s, x) -> s.release(ReleaseRequest.newBuilder().setRequestId(rid()).setHoldId(x.holdId()).build()),
                                                                                            UNAUTH, OK,     DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, DENIED),
        rpc("PayAgent", true, (s, x) -> s.payAgent(PayAgentRequest.newBuilder().setRequestId(rid()).setPayeeAgentId(x.payeeId())
                .setAmountMicros(1).setCurrencyCode("USD").setTool("agent/matrix").build()),
                                                                                            UNAUTH, OK,     OK,     UNAUTH, UNAUTH, UNAUTH, DENIED, DENIED),
        rpc("CompleteTask", true, (s, x) -> s.completeTask(CompleteTaskRequest.newBuilder().setRequestId(rid()).setAgentId(x.agentId())
                .setTaskId("task-" + rid()).setOutcome(TaskOutcome.TASK_OUTCOME_SUCCEEDED).build()),
                                                                                            UNAUTH, OK,     DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("Credit", true, (s, x) -> s.credit(CreditRequest.newBuilder().setRequestId(rid()).setAgentId(x.agentId())
                .setAmountMicros(1).setCurrencyCode("USD").setNote("matrix").build()),
                                                                                            UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("Reverse", true, (s, x) -> s.reverse(ReverseRequest.newBuilder().setRequestId(rid()).setEntryId(x.entryId())
                .setNote("matrix").build()),                                                UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("GetBalance", false, (s, x) -> s.getBalance(GetBalanceRequest.newBuilder().setAgentId(x.agentId()).build()),
                                                                                            UNAUTH, OK,     DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("ListEntries", false, (s, x) -> s.listEntries(ListEntriesRequest.newBuilder().setAgentId(x.agentId()).build()),
                                                                                            UNAUTH, OK,     DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("VerifyLedger", false, (s, x) -> s.verifyLedger(VerifyLedgerRequest.getDefaultInstance()),
                                                                                            UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, DENIED, OK),
        rpc("StreamEntries", false, (s, x) -> firstEntry(s),                                UNAUTH, DENIED, DENIED, UNAUTH, UNAUTH, UNAUTH, OK,     DENIED));
    // @formatter:on

    @Test
    void everyRpcAgainstEveryCredential() throws Exception {
        assertEquals(LedgerServiceGrpc.getServiceDescriptor().getMethods().size(), MATRIX.size(),
                "the matrix covers every RPC of the contract");
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        TestAgent b = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        TestAgent c = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 0);
        CreateApiKeyResponse expiring = Fixture.identity().createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(rid())
                .setAgentId(a.id()).setDescription("expires in 3 s")
                .setExpireTime(Timestamps.fromMillis(System.currentTimeMillis() + 3_000)).build());
        CreateApiKeyResponse revoked = Fixture.identity().createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(rid())
                .setAgentId(a.id()).setDescription("to revoke").build());
        Fixture.awaitKnown(new TestAgent(a.id(), revoked.getApiKeySecret(), ""));
        Fixture.identity().revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(rid())
                .setKeyId(revoked.getApiKey().getKeyId()).setReason("matrix").build());
        String forged = "as_" + ApiKeys.parse(a.key()).orElseThrow().keyId() + "_"
                + ApiKeys.parse(ApiKeys.generate().fullKey()).orElseThrow().secret();

        Map<Cred, String> token = new EnumMap<>(Cred.class);
        token.put(Cred.OWN_KEY, a.key());
        token.put(Cred.OTHER_KEY, b.key());
        token.put(Cred.REVOKED_KEY, revoked.getApiKeySecret());
        token.put(Cred.EXPIRED_KEY, expiring.getApiKeySecret());
        token.put(Cred.FORGED_KEY, forged);
        token.put(Cred.SERVICE, LedgerTestResource.SERVICE_TOKEN);
        token.put(Cred.ADMIN, LedgerTestResource.ADMIN_TOKEN);
        // the revocation has reached the ledger and the short-lived key has expired on its clock
        for (Cred k : List.of(Cred.REVOKED_KEY, Cred.EXPIRED_KEY)) {
            Fixture.await(Duration.ofSeconds(15), k + " to be refused", () -> {
                try {
                    Fixture.ledger(token.get(k)).getBalance(GetBalanceRequest.getDefaultInstance());
                    return false;
                } catch (StatusRuntimeException e) {
                    return e.getStatus().getCode() == UNAUTH;
                }
            });
        }
        Subject subjectA = subject(a, c);
        long balanceOfA;

        List<String> mismatches = new ArrayList<>();
        Map<String, Map<Cred, String>> observed = new LinkedHashMap<>();
        String before = ledgerSchemaFingerprint();
        for (Rpc rpc : MATRIX) {
            for (Cred k : Cred.values()) {
                if (rpc.expected()[k.ordinal()] != OK) {
                    check(rpc, k, token.get(k), subjectA, mismatches, observed);
                }
            }
        }
        assertEquals(before, ledgerSchemaFingerprint(), "refused calls changed the ledger");

        for (Rpc rpc : MATRIX) {
            for (Cred k : Cred.values()) {
                if (rpc.expected()[k.ordinal()] == OK) {
                    Subject s = rpc.writes() ? subject(a, c) : subjectA;
                    balanceOfA = Fixture.balance(a).getBalanceMicros();
                    check(rpc, k, token.get(k), s, mismatches, observed);
                    if (k == Cred.OTHER_KEY) {
                        assertEquals(balanceOfA, Fixture.balance(a).getBalanceMicros(),
                                rpc.name() + " with agent B's key moved agent A's money");
                    }
                }
            }
        }
        print(observed);
        if (!mismatches.isEmpty()) {
            fail(mismatches.size() + " cells differ from the access rules:\n" + String.join("\n", mismatches));
        }
    }

    /** Agent A with a new open hold and a new approved payment, and C as payee. */
    private static Subject subject(TestAgent a, TestAgent payee) {
        String hold = a.ledger().hold(HoldRequest.newBuilder().setRequestId(rid()).setAmountMicros(1).setCurrencyCode("USD")
                .setTool("t/matrix").setTtl(Durations.fromMinutes(10)).build()).getHold().getHoldId();
        Entry paid = a.ledger().pay(pay(1).build()).getEntry();
        assertEquals(Decision.DECISION_APPROVED, paid.getDecision());
        return new Subject(a.id(), hold, paid.getEntryId(), payee.id());
    }

    private static void check(Rpc rpc, Cred k, String token, Subject s, List<String> mismatches,
                              Map<String, Map<Cred, String>> observed) {
        Status.Code expected = rpc.expected()[k.ordinal()];
        Status.Code actual;
        try {
            rpc.call().apply(Fixture.ledger(token), s);
            actual = OK;
        } catch (StatusRuntimeException e) {
            actual = e.getStatus().getCode();
            String description = String.valueOf(e.getStatus().getDescription());
            if (token != null) {
                assertFalse(description.contains(token), "a refusal echoes the credential");
            }
        }
        observed.computeIfAbsent(rpc.name(), n -> new EnumMap<>(Cred.class)).put(k, actual.name());
        if (actual != expected) {
            mismatches.add(rpc.name() + " with " + k + ": expected " + expected + ", got " + actual);
        }
    }

    private static Object firstEntry(LedgerServiceGrpc.LedgerServiceBlockingStub stub) {
        Context.CancellableContext context = Context.current().withCancellation();
        Context previous = context.attach();
        try {
            return stub.streamEntries(StreamEntriesRequest.getDefaultInstance()).next();
        } finally {
            context.detach(previous);
            context.cancel(null);
        }
    }

    /** Row count and a digest of the rows of every table of the ledger's schema. */
    private static String ledgerSchemaFingerprint() throws Exception {
        StringBuilder out = new StringBuilder();
        try (Connection c = Fixture.sql(); Statement st = c.createStatement()) {
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("SELECT table_name FROM information_schema.tables"
                    + " WHERE table_schema = 'ledger' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'flyway%'"
                    + " ORDER BY table_name")) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
            assertFalse(tables.isEmpty(), "the ledger schema has tables");
            for (String table : tables) {
                try (ResultSet rs = st.executeQuery("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                        + " FROM ledger.\"" + table + "\" t")) {
                    rs.next();
                    out.append(table).append(' ').append(rs.getLong(1)).append(' ').append(rs.getString(2)).append('\n');
                }
            }
        }
        return out.toString();
    }

    private static void print(Map<String, Map<Cred, String>> observed) {
        StringBuilder table = new StringBuilder(String.format("%-14s", "ledger"));
        for (Cred c : Cred.values()) {
            table.append(String.format(" %-17s", c));
        }
        observed.forEach((rpc, row) -> {
            table.append(String.format("%n%-14s", rpc));
            for (Cred c : Cred.values()) {
                table.append(String.format(" %-17s", row.get(c)));
            }
        });
        System.out.println(table);
    }
}
