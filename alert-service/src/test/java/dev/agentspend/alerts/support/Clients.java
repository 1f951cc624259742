package dev.agentspend.alerts.support;

import com.google.protobuf.Timestamp;
import dev.agentspend.common.auth.BearerTokens;
import dev.agentspend.proto.alerts.v1.*;
import dev.agentspend.proto.identity.v1.*;
import dev.agentspend.proto.ledger.v1.*;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import org.eclipse.microprofile.config.ConfigProvider;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/** Real gRPC clients of identity, the ledger and the alert service, and the steps tests build histories from. */
public final class Clients implements AutoCloseable {
    private static final AtomicLong REQUESTS = new AtomicLong();
    public final ManagedChannel identityChannel;
    public final ManagedChannel ledgerChannel;
    public final ManagedChannel alertsChannel;

    public Clients() {
        int identityPort = ConfigProvider.getConfig().getValue("test.identity.port", Integer.class);
        int ledgerPort = ConfigProvider.getConfig().getValue("test.ledger.port", Integer.class);
        int alertsPort = ConfigProvider.getConfig().getValue("quarkus.http.test-port", Integer.class);
        identityChannel = ManagedChannelBuilder.forAddress("localhost", identityPort).usePlaintext().build();
        ledgerChannel = ManagedChannelBuilder.forAddress("localhost", ledgerPort).usePlaintext().build();
        alertsChannel = ManagedChannelBuilder.forAddress("localhost", alertsPort).usePlaintext().build();
    }

    public static <S extends AbstractStub<S>> S as(S stub, String token) {
        Metadata h = new Metadata();
        if (token != null) {
            h.put(Metadata.Key.of(BearerTokens.METADATA_KEY, Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        }
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(h)).withDeadlineAfter(30, java.util.concurrent.TimeUnit.SECONDS);
    }

    public IdentityServiceGrpc.IdentityServiceBlockingStub identity() {
        return as(IdentityServiceGrpc.newBlockingStub(identityChannel), Platform.ADMIN);
    }

    public LedgerServiceGrpc.LedgerServiceBlockingStub ledger(String token) {
        return as(LedgerServiceGrpc.newBlockingStub(ledgerChannel), token);
    }

    public AlertServiceGrpc.AlertServiceBlockingStub alerts(String token) {
        return as(AlertServiceGrpc.newBlockingStub(alertsChannel), token);
    }

    public AlertServiceGrpc.AlertServiceBlockingStub admin() {
        return alerts(Platform.ADMIN);
    }

    public static String rid() {
        return "t-" + System.nanoTime() + "-" + REQUESTS.incrementAndGet();
    }

    /** An agent with its key. */
    public record TestAgent(String id, String key, String teamId) {
    }

    /** Creates an agent, funds it with 1,000 USD and waits until the ledger accepts its key. */
    public TestAgent agent(String teamId, SpendingPolicy policy, WorkingHours hours) {
        String handle = "it-" + Long.toString(ThreadLocalRandom.current().nextLong(Long.MAX_VALUE), 36);
        CreateAgentRequest.Builder r = CreateAgentRequest.newBuilder().setRequestId(rid()).setHandle(handle)
                .setDisplayName(handle).setCurrencyCode("USD").setMode(AgentMode.AGENT_MODE_PRODUCTION)
                .setPolicy(policy == null ? SpendingPolicy.getDefaultInstance() : policy);
        if (teamId != null) {
            r.setTeamId(teamId);
        }
        if (hours != null) {
            r.setWorkingHours(hours);
        }
        CreateAgentResponse created = identity().createAgent(r.build());
        TestAgent a = new TestAgent(created.getAgent().getId(), created.getApiKeySecret(), created.getAgent().getTeamId());
        CreditRequest credit = CreditRequest.newBuilder().setRequestId(rid()).setAgentId(a.id())
                .setAmountMicros(1_000_000_000L).setCurrencyCode("USD").setNote("test funding").build();
        // the ledger learns of the agent through identity's policy feed, a moment after it is created
        Await.until(Duration.ofSeconds(20), "the ledger to fund agent " + a.id(), () -> {
            ledger(Platform.ADMIN).credit(credit);
            return Optional.of(true);
        });
        Await.until(Duration.ofSeconds(20), "the ledger to know agent " + a.id(), () -> {
            ledger(a.key()).getBalance(GetBalanceRequest.getDefaultInstance());
            return Optional.of(true);
        });
        return a;
    }

    public TestAgent agent() {
        return agent(null, null, null);
    }

    public static SpendingPolicy dailyCap(long micros, CapEnforcement enforcement) {
        return SpendingPolicy.newBuilder().addCaps(Cap.newBuilder().setWindow(CapWindow.CAP_WINDOW_DAY)
                .setLimitMicros(micros).setCurrencyCode("USD").setEnforcement(enforcement)).build();
    }

    public Entry pay(TestAgent a, long micros, String tool) {
        return pay(a, PayRequest.newBuilder().setAmountMicros(micros).setTool(tool));
    }

    public Entry pay(TestAgent a, PayRequest.Builder r) {
        return ledger(a.key()).pay(r.setRequestId(rid()).setCurrencyCode("USD").build()).getEntry();
    }

    public Entry payAgent(TestAgent from, TestAgent to, long micros) {
        return ledger(from.key()).payAgent(PayAgentRequest.newBuilder().setRequestId(rid()).setPayeeAgentId(to.id())
                .setAmountMicros(micros).setCurrencyCode("USD").setTool("agent-payment").build()).getEntry();
    }

    public Entry completeTask(TestAgent a, String taskId, Instant occurred) {
        CompleteTaskRequest.Builder r = CompleteTaskRequest.newBuilder().setRequestId(rid()).setTaskId(taskId)
                .setOutcome(TaskOutcome.TASK_OUTCOME_SUCCEEDED);
        if (occurred != null) {
            r.setOccurredTime(ts(occurred));
        }
        return ledger(a.key()).completeTask(r.build()).getEntry();
    }

    /** Sets parameters of one rule for one agent. */
    public void configure(TestAgent a, Rule rule, java.util.Map<String, Long> params) {
        admin().setRuleConfig(SetRuleConfigRequest.newBuilder().setRequestId(rid()).setConfig(RuleConfig.newBuilder()
                .setScope(ConfigScope.CONFIG_SCOPE_AGENT).setScopeId(a.id()).setRule(rule).putAllParameters(params)).build());
    }

    public List<Alert> alerts(String agentId, Rule rule) {
        return admin().listAlerts(ListAlertsRequest.newBuilder().setAgentId(agentId).setRule(rule).build()).getAlertsList();
    }

    /** Waits for an alert of the rule for the agent. */
    public Alert awaitAlert(String agentId, Rule rule) {
        return Await.until(Duration.ofSeconds(20), rule + " alert for " + agentId, () -> {
            List<Alert> found = alerts(agentId, rule);
            return found.isEmpty() ? Optional.empty() : Optional.of(found.get(0));
        });
    }

    public static Timestamp ts(Instant i) {
        return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
    }

    public static Instant instant(Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    }

    public static long measure(Alert a, String name) {
        return a.getEvidence().getMeasurementsList().stream().filter(m -> m.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no measurement " + name + " in " + a.getEvidence())).getValue();
    }

    public static long threshold(Alert a, String name) {
        return a.getEvidence().getMeasurementsList().stream().filter(m -> m.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no measurement " + name)).getThreshold();
    }

    @Override
    public void close() {
        identityChannel.shutdownNow();
        ledgerChannel.shutdownNow();
        alertsChannel.shutdownNow();
    }
}
