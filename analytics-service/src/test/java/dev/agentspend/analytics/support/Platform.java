package dev.agentspend.analytics.support;

import com.google.protobuf.Timestamp;
import dev.agentspend.proto.analytics.v1.AnalyticsServiceGrpc;
import dev.agentspend.proto.analytics.v1.GetIngestionStatusRequest;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Real gRPC clients of the three services for tests, over sockets on loopback. */
public final class Platform {
    public static final int ANALYTICS_PORT = 18083;
    private static ManagedChannel identityChannel;
    private static ManagedChannel ledgerChannel;
    private static ManagedChannel analyticsChannel;

    private Platform() {
    }

    /** An agent created through identity: its id and its API key. */
    public record Agent(String id, String key, String handle) {
    }

    public static synchronized ManagedChannel identity() {
        if (identityChannel == null) {
            identityChannel = ManagedChannelBuilder.forAddress("localhost", AnalyticsTestResource.identityPort())
                    .usePlaintext().build();
        }
        return identityChannel;
    }

    public static synchronized ManagedChannel ledger() {
        if (ledgerChannel == null) {
            ledgerChannel = ManagedChannelBuilder.forAddress("localhost", AnalyticsTestResource.ledgerPort())
                    .usePlaintext().build();
        }
        return ledgerChannel;
    }

    public static synchronized ManagedChannel analytics() {
        if (analyticsChannel == null) {
            analyticsChannel = ManagedChannelBuilder.forAddress("localhost", ANALYTICS_PORT).usePlaintext().build();
        }
        return analyticsChannel;
    }

    public static <S extends AbstractStub<S>> S withToken(S stub, String token) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    public static IdentityServiceGrpc.IdentityServiceBlockingStub identityAdmin() {
        return withToken(IdentityServiceGrpc.newBlockingStub(identity()), AnalyticsTestResource.ADMIN_TOKEN);
    }

    public static LedgerServiceGrpc.LedgerServiceBlockingStub ledgerAdmin() {
        return withToken(LedgerServiceGrpc.newBlockingStub(ledger()), AnalyticsTestResource.ADMIN_TOKEN);
    }

    public static LedgerServiceGrpc.LedgerServiceBlockingStub ledgerAs(Agent agent) {
        return withToken(LedgerServiceGrpc.newBlockingStub(ledger()), agent.key());
    }

    public static AnalyticsServiceGrpc.AnalyticsServiceBlockingStub analyticsAdmin() {
        return withToken(AnalyticsServiceGrpc.newBlockingStub(analytics()), AnalyticsTestResource.ADMIN_TOKEN);
    }

    public static AnalyticsServiceGrpc.AnalyticsServiceBlockingStub analyticsAs(String token) {
        return withToken(AnalyticsServiceGrpc.newBlockingStub(analytics()), token);
    }

    /** Creates a PRODUCTION agent in USD and credits it. */
    public static Agent createAgent(String prefix, String teamId, Map<String, String> labels, SpendingPolicy policy,
                                    WorkingHours hours, long creditMicros) {
        String handle = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
        CreateAgentResponse r = identityAdmin().createAgent(CreateAgentRequest.newBuilder()
                .setRequestId("create-" + handle).setHandle(handle).setDisplayName(handle).setTeamId(teamId)
                .putAllLabels(labels).setMode(AgentMode.AGENT_MODE_PRODUCTION).setCurrencyCode("USD")
                .setPolicy(policy).setWorkingHours(hours).build());
        Agent agent = new Agent(r.getAgent().getId(), r.getApiKeySecret(), handle);
        await(Duration.ofSeconds(20), () -> {
            ledgerAs(agent).getBalance(dev.agentspend.proto.ledger.v1.GetBalanceRequest.getDefaultInstance());
            return true;
        }, "the ledger did not learn agent " + agent.id());
        if (creditMicros > 0) {
            ledgerAdmin().credit(CreditRequest.newBuilder().setRequestId("credit-" + handle).setAgentId(agent.id())
                    .setAmountMicros(creditMicros).setCurrencyCode("USD").setNote("test funds").build());
        }
        return agent;
    }

    /** Waits until analytics has applied the ledger's feed up to {@code position}. */
    public static void awaitIngested(long position) {
        await(Duration.ofSeconds(60), () -> analyticsAdmin().getIngestionStatus(
                GetIngestionStatusRequest.getDefaultInstance()).getLedgerPosition() >= position,
                "analytics did not ingest up to ledger position " + position);
    }

    public static void await(Duration timeout, BooleanSupplier condition, String message) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                if (condition.getAsBoolean()) {
                    return;
                }
            } catch (io.grpc.StatusRuntimeException e) {
                // not there yet (for example the ledger has not heard of a new agent)
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted: " + message);
            }
        }
        throw new AssertionError(message + " within " + timeout);
    }

    public static Timestamp ts(Instant t) {
        return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }

    public static Instant instant(Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    }
}
