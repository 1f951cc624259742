package dev.agentspend.identity.support;

import com.google.protobuf.Timestamp;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import dev.agentspend.proto.identity.v1.CreateTeamRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.Team;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.identity.v1.WorkingInterval;

import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/** Unique names and valid requests, so that test classes sharing one database never collide. */
public final class Fixtures {
    private static final AtomicLong COUNTER = new AtomicLong();
    private static final String RUN = UUID.randomUUID().toString().substring(0, 6);

    private Fixtures() {
    }

    public static String unique(String prefix) {
        return prefix + "-" + RUN + "-" + COUNTER.incrementAndGet();
    }

    public static String requestId() {
        return "req-" + UUID.randomUUID();
    }

    public static Cap cap(CapWindow window, long limitMicros) {
        return Cap.newBuilder().setWindow(window).setLimitMicros(limitMicros).setCurrencyCode("USD")
                .setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD).build();
    }

    public static SpendingPolicy policy() {
        return SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_PAYMENT, 5_000_000))
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 50_000_000))
                .addCaps(cap(CapWindow.CAP_WINDOW_MONTH, 500_000_000))
                .setMaxConcurrentHolds(4).setSandboxCeilingMicros(10_000_000).build();
    }

    public static WorkingHours workingHours() {
        WorkingHours.Builder hours = WorkingHours.newBuilder().setTimeZone("Europe/Paris");
        for (int day = 1; day <= 5; day++) {
            hours.addIntervals(WorkingInterval.newBuilder().setDayOfWeek(day).setStartMinute(9 * 60).setEndMinute(18 * 60));
        }
        return hours.build();
    }

    public static CreateAgentRequest.Builder agentRequest() {
        return CreateAgentRequest.newBuilder().setRequestId(requestId()).setHandle(unique("agent"))
                .setDisplayName("Test agent").putLabels("env", "test").setMode(AgentMode.AGENT_MODE_PRODUCTION)
                .setCurrencyCode("USD").setPolicy(policy()).setWorkingHours(workingHours());
    }

    public static CreateAgentResponse createAgent() {
        return Grpc.admin().createAgent(agentRequest().build());
    }

    public static Team createTeam() {
        return Grpc.admin().createTeam(CreateTeamRequest.newBuilder().setRequestId(requestId())
                .setName(unique("team")).setDisplayName("Test team").setCurrencyCode("USD")
                .addCaps(cap(CapWindow.CAP_WINDOW_DAY, 100_000_000)).build()).getTeam();
    }

    public static Timestamp inFuture(long seconds) {
        Instant t = Instant.now().plusSeconds(seconds);
        return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }
}
