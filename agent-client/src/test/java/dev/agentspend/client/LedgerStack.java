package dev.agentspend.client;

import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.ServiceProcess;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import dev.agentspend.proto.ledger.v1.LedgerServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;

import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * The real platform a client test talks to: an embedded PostgreSQL, the identity service and the
 * ledger, each a separate process on a free loopback port.
 */
final class LedgerStack implements AutoCloseable {
    static final String ADMIN_TOKEN = "client-test-admin-" + UUID.randomUUID();
    static final String SERVICE_TOKEN = "client-test-service-" + UUID.randomUUID();

    final EmbeddedDatabase db;
    final ServiceProcess identity;
    final ServiceProcess ledger;
    final ManagedChannel identityChannel;
    final ManagedChannel ledgerChannel;

    LedgerStack() {
        db = EmbeddedDatabase.throwaway().start();
        db.createDatabase("identity");
        db.createDatabase("ledger");
        int identityPort = ServiceProcess.freePort();
        identity = ServiceProcess.of("identity-service", identityPort, env("identity")).start()
                .awaitReady(Duration.ofSeconds(90));
        int ledgerPort = ServiceProcess.freePort();
        Map<String, String> ledgerEnv = new java.util.HashMap<>(env("ledger"));
        ledgerEnv.put("QUARKUS_GRPC_CLIENTS_IDENTITY_HOST", "localhost");
        ledgerEnv.put("QUARKUS_GRPC_CLIENTS_IDENTITY_PORT", Integer.toString(identityPort));
        ledger = ServiceProcess.of("ledger-service", ledgerPort, ledgerEnv).start().awaitReady(Duration.ofSeconds(90));
        identityChannel = ManagedChannelBuilder.forAddress("localhost", identityPort).usePlaintext().build();
        ledgerChannel = ManagedChannelBuilder.forAddress("localhost", ledgerPort).usePlaintext().build();
    }

    private Map<String, String> env(String database) {
        return Map.of(
                "QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl(database),
                "QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl(database),
                "QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER,
                "QUARKUS_DATASOURCE_PASSWORD", "",
                "AGENTSPEND_ADMIN_TOKEN", ADMIN_TOKEN,
                "AGENTSPEND_SERVICE_TOKEN", SERVICE_TOKEN);
    }

    int ledgerPort() {
        return ledger.httpPort();
    }

    IdentityServiceGrpc.IdentityServiceBlockingStub identityAdmin() {
        return IdentityServiceGrpc.newBlockingStub(identityChannel).withInterceptors(bearer(ADMIN_TOKEN))
                .withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    LedgerServiceGrpc.LedgerServiceBlockingStub ledgerAdmin() {
        return LedgerServiceGrpc.newBlockingStub(ledgerChannel).withInterceptors(bearer(ADMIN_TOKEN))
                .withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    /** A PRODUCTION agent in USD with a HARD per-payment cap, topped up with {@code balanceMicros}. */
    CreateAgentResponse fundedAgent(String handlePrefix, long perPaymentCapMicros, long balanceMicros) {
        CreateAgentResponse created = identityAdmin().createAgent(CreateAgentRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString())
                .setHandle(handlePrefix + "-" + UUID.randomUUID().toString().substring(0, 8))
                .setDisplayName(handlePrefix)
                .setMode(AgentMode.AGENT_MODE_PRODUCTION)
                .setCurrencyCode("USD")
                .setPolicy(SpendingPolicy.newBuilder().addCaps(Cap.newBuilder()
                        .setWindow(CapWindow.CAP_WINDOW_PAYMENT)
                        .setLimitMicros(perPaymentCapMicros)
                        .setCurrencyCode("USD")
                        .setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD)))
                .build());
        awaitKnownToLedger(created.getAgent().getId());
        if (balanceMicros == 0) {
            return created;
        }
        ledgerAdmin().credit(CreditRequest.newBuilder()
                .setRequestId(UUID.randomUUID().toString())
                .setAgentId(created.getAgent().getId())
                .setAmountMicros(balanceMicros)
                .setCurrencyCode("USD")
                .setNote("test top-up")
                .build());
        return created;
    }

    /** The ledger learns a new agent from identity's policy feed a moment after its creation. */
    void awaitKnownToLedger(String agentId) {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (true) {
            try {
                ledgerAdmin().getBalance(GetBalanceRequest.newBuilder().setAgentId(agentId).build());
                return;
            } catch (StatusRuntimeException e) {
                boolean notYet = e.getStatus().getCode() == Status.Code.NOT_FOUND
                        || e.getStatus().getCode() == Status.Code.UNAVAILABLE;
                if (!notYet || System.nanoTime() > deadline) {
                    throw e;
                }
            }
        }
    }

    static io.grpc.ClientInterceptor bearer(String token) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return MetadataUtils.newAttachHeadersInterceptor(headers);
    }

    @Override
    public void close() {
        identityChannel.shutdownNow();
        ledgerChannel.shutdownNow();
        ledger.stop();
        identity.stop();
        db.close();
    }
}
