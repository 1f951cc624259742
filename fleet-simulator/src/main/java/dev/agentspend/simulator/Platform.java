package dev.agentspend.simulator;

import dev.agentspend.proto.alerts.v1.AlertServiceGrpc;
import dev.agentspend.proto.analytics.v1.AnalyticsServiceGrpc;
import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;

import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The four services' public gRPC APIs as an operator reaches them: plain-text channels to their
 * addresses and stubs carrying the admin token. Every call gets a deadline.
 */
public final class Platform implements AutoCloseable {
    private static final long DEADLINE_SECONDS = 15;

    private final String adminToken;
    final ManagedChannel identity;
    final ManagedChannel ledger;
    final ManagedChannel analytics;
    final ManagedChannel alerts;

    public Platform(String identityTarget, String ledgerTarget, String analyticsTarget, String alertsTarget,
                    String adminToken) {
        this.adminToken = Objects.requireNonNull(adminToken, "adminToken");
        this.identity = channel(identityTarget);
        this.ledger = channel(ledgerTarget);
        this.analytics = channel(analyticsTarget);
        this.alerts = channel(alertsTarget);
    }

    /** The services on one host at the fixed local ports (8081..8084), as {@code ./agentspend up} runs them. */
    public static Platform local(String host, int identityPort, int ledgerPort, int analyticsPort, int alertsPort,
                                 String adminToken) {
        return new Platform(host + ":" + identityPort, host + ":" + ledgerPort, host + ":" + analyticsPort,
                host + ":" + alertsPort, adminToken);
    }

    private static ManagedChannel channel(String target) {
        return ManagedChannelBuilder.forTarget(target).usePlaintext().build();
    }

    static Metadata bearer(String token) {
        Metadata m = new Metadata();
        m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return m;
    }

    public IdentityServiceGrpc.IdentityServiceBlockingStub identityAdmin() {
        return IdentityServiceGrpc.newBlockingStub(identity)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(adminToken)))
                .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
    }

    public LedgerServiceGrpc.LedgerServiceBlockingStub ledgerAdmin() {
        return LedgerServiceGrpc.newBlockingStub(ledger)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(adminToken)))
                .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
    }

    /** The ledger as one agent (its API key as bearer), for calls the client library does not offer. */
    public LedgerServiceGrpc.LedgerServiceBlockingStub ledgerAs(String apiKey) {
        return LedgerServiceGrpc.newBlockingStub(ledger)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(apiKey)))
                .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
    }

    public AnalyticsServiceGrpc.AnalyticsServiceBlockingStub analyticsAdmin() {
        return AnalyticsServiceGrpc.newBlockingStub(analytics)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(adminToken)))
                .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
    }

    public AlertServiceGrpc.AlertServiceBlockingStub alertsAdmin() {
        return AlertServiceGrpc.newBlockingStub(alerts)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(adminToken)))
                .withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS);
    }

    ManagedChannel ledgerChannel() {
        return ledger;
    }

    @Override
    public void close() {
        for (ManagedChannel c : new ManagedChannel[]{identity, ledger, analytics, alerts}) {
            c.shutdownNow();
            try {
                c.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
