package dev.agentspend.ledger.grpc;

import com.google.protobuf.util.Timestamps;
import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.ledger.support.TestClock;
import dev.agentspend.proto.identity.v1.CreateApiKeyRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CaptureRequest;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import dev.agentspend.proto.ledger.v1.HoldRequest;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import dev.agentspend.proto.ledger.v1.ListEntriesRequest;
import dev.agentspend.proto.ledger.v1.ReleaseRequest;
import dev.agentspend.proto.ledger.v1.ReverseRequest;
import dev.agentspend.proto.ledger.v1.TaskOutcome;
import dev.agentspend.proto.ledger.v1.VerifyLedgerRequest;
import io.grpc.Status;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static dev.agentspend.ledger.support.Fixture.expectError;
import static dev.agentspend.ledger.support.Fixture.pay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class AuthorizationGrpcTest {
    @Inject
    TestClock clock;

    @AfterEach
    void resetClock() {
        clock.reset();
    }

    @Test
    void unknownOrMissingCredentialsAreUnauthenticated() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000);
        expectError(Status.Code.UNAUTHENTICATED, () -> Fixture.ledger(null).pay(pay(1).build()));
        expectError(Status.Code.UNAUTHENTICATED, () -> Fixture.ledger("nope").pay(pay(1).build()));
        expectError(Status.Code.UNAUTHENTICATED, () -> Fixture.ledger("as_malformed").pay(pay(1).build()));
        // the right key id with a wrong secret
        String forged = a.key().substring(0, a.key().length() - 4) + (a.key().endsWith("AAAA") ? "BBBB" : "AAAA");
        var e = expectError(Status.Code.UNAUTHENTICATED, () -> Fixture.ledger(forged).pay(pay(1).build()));
        assertFalse(e.getStatus().getDescription().contains(forged.substring(24)), "the secret is never echoed");
        expectError(Status.Code.UNAUTHENTICATED, () -> Fixture.ledger(null).getBalance(GetBalanceRequest.getDefaultInstance()));
    }

    @Test
    void anAgentActsOnlyAsItself() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 5_000_000);
        TestAgent b = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 5_000_000);
        // paying debits the key's agent: there is no field to name another
        assertEquals(a.id(), a.ledger().pay(pay(1_000_000).build()).getEntry().getAgentId());
        assertEquals(5_000_000, Fixture.balance(b).getBalanceMicros());
        expectError(Status.Code.PERMISSION_DENIED, () -> a.ledger().getBalance(GetBalanceRequest.newBuilder().setAgentId(b.id()).build()));
        expectError(Status.Code.PERMISSION_DENIED, () -> a.ledger().listEntries(ListEntriesRequest.newBuilder().setAgentId(b.id()).build()));
        expectError(Status.Code.PERMISSION_DENIED, () -> a.ledger().completeTask(CompleteTaskRequest.newBuilder()
                .setRequestId("ct-x").setAgentId(b.id()).setTaskId("t").setOutcome(TaskOutcome.TASK_OUTCOME_SUCCEEDED).build()));
        String bHold = b.ledger().hold(HoldRequest.newBuilder().setRequestId("bh").setAmountMicros(1_000).setCurrencyCode("USD")
                .setTool("t").build()).getHold().getHoldId();
        expectError(Status.Code.PERMISSION_DENIED, () -> a.ledger().capture(CaptureRequest.newBuilder().setRequestId("steal")
                .setHoldId(bHold).setAmountMicros(1_000).build()));
        expectError(Status.Code.PERMISSION_DENIED, () -> a.ledger().release(ReleaseRequest.newBuilder().setRequestId("steal2")
                .setHoldId(bHold).build()));
        // its own balance, yes; and its listing is its own
        assertEquals(4_000_000, a.ledger().getBalance(GetBalanceRequest.getDefaultInstance()).getBalanceMicros());
        a.ledger().listEntries(ListEntriesRequest.getDefaultInstance()).getEntriesList()
                .forEach(e -> assertEquals(a.id(), e.getAgentId()));
    }

    @Test
    void adminOperationsNeedTheAdminCredential() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000);
        String entry = a.ledger().pay(pay(1).build()).getEntry().getEntryId();
        for (LedgerServiceGrpc.LedgerServiceBlockingStub stub : new LedgerServiceGrpc.LedgerServiceBlockingStub[] {
                a.ledger(), Fixture.ledger(LedgerTestResource.SERVICE_TOKEN)}) {
            // an agent cannot raise its own balance
            expectError(Status.Code.PERMISSION_DENIED, () -> stub.credit(CreditRequest.newBuilder().setRequestId("c")
                    .setAgentId(a.id()).setAmountMicros(1).setCurrencyCode("USD").build()));
            expectError(Status.Code.PERMISSION_DENIED, () -> stub.reverse(ReverseRequest.newBuilder().setRequestId("r")
                    .setEntryId(entry).build()));
            expectError(Status.Code.PERMISSION_DENIED, () -> stub.verifyLedger(VerifyLedgerRequest.getDefaultInstance()));
        }
        expectError(Status.Code.PERMISSION_DENIED, () -> Fixture.ledger(LedgerTestResource.SERVICE_TOKEN)
                .getBalance(GetBalanceRequest.newBuilder().setAgentId(a.id()).build()));
        // payments need an agent key: the admin cannot pay as someone
        expectError(Status.Code.PERMISSION_DENIED, () -> Fixture.admin().pay(pay(1).build()));
        expectError(Status.Code.INVALID_ARGUMENT, () -> Fixture.admin().getBalance(GetBalanceRequest.getDefaultInstance()));
        expectError(Status.Code.NOT_FOUND, () -> Fixture.admin().getBalance(GetBalanceRequest.newBuilder().setAgentId("agt_nobody").build()));
    }

    @Test
    void anExpiredKeyStopsWorkingOnTheLedgersClock() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000);
        String key = Fixture.identity().createApiKey(CreateApiKeyRequest.newBuilder().setRequestId("k-" + a.id())
                .setAgentId(a.id()).setDescription("short-lived")
                .setExpireTime(Timestamps.fromMillis(System.currentTimeMillis() + 3_600_000)).build()).getApiKeySecret();
        TestAgent withKey = new TestAgent(a.id(), key, "");
        Fixture.awaitKnown(withKey);
        assertEquals(Decision.DECISION_APPROVED, withKey.ledger().pay(pay(1).build()).getEntry().getDecision());
        clock.advance(Duration.ofHours(2));
        expectError(Status.Code.UNAUTHENTICATED, () -> withKey.ledger().pay(pay(1).build()));
        assertEquals(Decision.DECISION_APPROVED, a.ledger().pay(pay(1).build()).getEntry().getDecision());
    }
}
