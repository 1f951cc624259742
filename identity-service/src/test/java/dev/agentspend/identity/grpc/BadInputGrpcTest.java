package dev.agentspend.identity.grpc;

import com.google.protobuf.Any;
import com.google.protobuf.Timestamp;
import com.google.rpc.BadRequest;
import dev.agentspend.common.api.PageTokens;
import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.identity.support.Database;
import dev.agentspend.identity.support.FeedWatcher;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.proto.identity.v1.*;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

import static dev.agentspend.identity.support.Fixtures.*;
import static dev.agentspend.identity.support.Grpc.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Bad input to every identity RPC that takes input, over a real socket, one row per case, in the
 * manner of the ledger's BadInputGrpcTest: missing and malformed request ids, handles, names,
 * currencies, labels, caps (zero, negative, foreign currency, inverted windows, temporary raises),
 * working hours, expiries, update masks, references with control characters or over-long, unknown
 * agents, teams and keys, bad pages, transitions that do not apply, reused request ids. The
 * expected status comes from the proto, {@code RequestRules} and the README: INVALID_ARGUMENT with
 * a google.rpc.BadRequest naming every offending field, NOT_FOUND naming the id, FAILED_PRECONDITION
 * or ABORTED with their ErrorInfo reason, ALREADY_EXISTS for a taken name or a reused request id,
 * UNAUTHENTICATED (INVALID_API_KEY) for every key Authenticate refuses. Every refusal carries a
 * message without control characters, and all refused rows together change nothing: every table of
 * the identity schema (agents, teams, keys, audit log, policy feed, idempotency records) is
 * digested before and after. Calls use the admin token (the service token for Authenticate and
 * WatchPolicies), so that each refusal is about the input.
 */
@QuarkusTest
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
class BadInputGrpcTest {
    private static final Status.Code IA = Status.Code.INVALID_ARGUMENT;
    private static final Status.Code NF = Status.Code.NOT_FOUND;
    private static final Status.Code FP = Status.Code.FAILED_PRECONDITION;
    private static final Status.Code AE = Status.Code.ALREADY_EXISTS;
    private static final Status.Code AB = Status.Code.ABORTED;
    private static final Status.Code UN = Status.Code.UNAUTHENTICATED;
    private static final Status.Code OK = Status.Code.OK;

    private static final String S129 = "x".repeat(129);
    private static final String S257 = "y".repeat(257);
    private static final String CTRL = "bad\u0000id\n";
    /** One second after 9999-12-31T23:59:59Z, the largest valid google.protobuf.Timestamp. */
    private static final Timestamp AFTER_MAX_TIME = Timestamp.newBuilder().setSeconds(253_402_300_800L).build();
    /** One second before 0001-01-01T00:00:00Z, the smallest valid google.protobuf.Timestamp. */
    private static final Timestamp BEFORE_MIN_TIME = Timestamp.newBuilder().setSeconds(-62_135_596_801L).build();
    private static final Timestamp NEGATIVE_NANOS = Timestamp.newBuilder().setSeconds(4_000_000_000L).setNanos(-1).build();

    /**
     * One case. {@code mention}: for INVALID_ARGUMENT the fields BadRequest must name (comma
     * separated); otherwise a text the message must contain. {@code reason}: the ErrorInfo reason, if checked.
     */
    record Row(String rpc, String name, Status.Code expected, String mention, String reason, Supplier<Object> call) {
    }

    record Observed(Row row, Status.Code code, String reason, String fields, String message, String verdict) {
    }

    private final List<Row> rows = new ArrayList<>();

    private void row(String rpc, String name, Status.Code expected, String mention, Supplier<Object> call) {
        rows.add(new Row(rpc, name, expected, mention, null, call));
    }

    private void row(String rpc, String name, Status.Code expected, String mention, String reason, Supplier<Object> call) {
        rows.add(new Row(rpc, name, expected, mention, reason, call));
    }

    private static Map<String, String> labels(int n) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < n; i++) {
            m.put("k" + i, "v");
        }
        return m;
    }

    private static Cap.Builder usdCap(CapWindow window, long limitMicros) {
        return cap(window, limitMicros).toBuilder();
    }

    private static Timestamp secondsFromNow(long seconds) {
        return Timestamp.newBuilder().setSeconds(Instant.now().getEpochSecond() + seconds).build();
    }

    private static WorkingInterval interval(int day, int start, int end) {
        return WorkingInterval.newBuilder().setDayOfWeek(day).setStartMinute(start).setEndMinute(end).build();
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void badInputIsRefusedWithTheFieldNamedAndNothingWritten() throws Exception {
        long started = System.nanoTime();
        var admin = admin();
        Team team = createTeam();
        Team euroTeam = admin.createTeam(CreateTeamRequest.newBuilder().setRequestId(requestId()).setName(unique("eur"))
                .setDisplayName("euro team").setCurrencyCode("EUR").build()).getTeam();
        CreateAgentRequest firstRequest = agentRequest().build();
        CreateAgentResponse created = admin.createAgent(firstRequest);
        Agent suspended = createAgent().getAgent();
        admin.suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(suspended.getId()).build());
        Agent revoked = createAgent().getAgent();
        admin.revokeAgent(RevokeAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(revoked.getId()).build());
        String revokedKey = admin.createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(requestId())
                .setAgentId(created.getAgent().getId()).setDescription("to revoke").build()).getApiKey().getKeyId();
        admin.revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(requestId()).setKeyId(revokedKey).build());
        Agent fullOfKeys = createAgent().getAgent();
        for (int i = 1; i < 20; i++) {
            admin.createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(requestId()).setAgentId(fullOfKeys.getId()).build());
        }
        Agent agent = admin.getAgent(GetAgentRequest.newBuilder().setAgent(created.getAgent().getId()).build()).getAgent();
        String a = agent.getId();
        long staleVersion = agent.getVersion() - 1;
        String unknownAgent = "agt_" + "0".repeat(26);
        String unknownTeam = "team_" + "0".repeat(26);
        String unknownKey = "key_" + "0".repeat(16);
        String otherKindToken = PageTokens.encode("teams", "x");
        String auditNotANumber = PageTokens.encode("audit", "abc");

        // ---- CreateAgent ----
        createRow("request_id empty", IA, "request_id", r -> r.setRequestId(""));
        createRow("request_id 129 chars", IA, "request_id", r -> r.setRequestId("r".repeat(129)));
        createRow("request_id with space", IA, "request_id", r -> r.setRequestId("req 1"));
        createRow("request_id with control char", IA, "request_id", r -> r.setRequestId("req\n1"));
        createRow("handle empty", IA, "handle", r -> r.setHandle(""));
        createRow("handle 2 chars", IA, "handle", r -> r.setHandle("ab"));
        createRow("handle 64 chars", IA, "handle", r -> r.setHandle("h".repeat(64)));
        createRow("handle uppercase", IA, "handle", r -> r.setHandle("Support-Bot"));
        createRow("handle starts with '-'", IA, "handle", r -> r.setHandle("-bot"));
        createRow("handle ends with '-'", IA, "handle", r -> r.setHandle("bot-"));
        createRow("handle with underscore", IA, "handle", r -> r.setHandle("support_bot"));
        createRow("handle with NUL", IA, "handle", r -> r.setHandle("bot\u0000x"));
        createRow("handle non-ASCII", IA, "handle", r -> r.setHandle("bötx"));
        createRow("display_name 257 chars", IA, "display_name", r -> r.setDisplayName(S257));
        createRow("display_name with ESC", IA, "display_name", r -> r.setDisplayName("bot \u001b[31m"));
        createRow("team_id 129 chars", IA, "team_id", r -> r.setTeamId(S129));
        createRow("team_id with control chars", IA, "team_id", r -> r.setTeamId(CTRL));
        createRow("team_id of an EUR team (agent in USD)", IA, "team_id", r -> r.setTeamId(euroTeam.getId()));
        createRow("33 labels", IA, "labels", r -> r.putAllLabels(labels(33)));
        createRow("label key uppercase", IA, "labels", r -> r.putLabels("Env", "x"));
        createRow("label key 64 chars", IA, "labels", r -> r.putLabels("k".repeat(64), "x"));
        createRow("label key empty", IA, "labels", r -> r.putLabels("", "x"));
        createRow("label value 257 chars", IA, "labels", r -> r.putLabels("env", S257));
        createRow("label value with newline", IA, "labels", r -> r.putLabels("env", "a\nb"));
        createRow("mode unspecified", IA, "mode", r -> r.setMode(AgentMode.AGENT_MODE_UNSPECIFIED));
        createRow("mode 99 (unknown enum value)", IA, "mode", r -> r.setModeValue(99));
        createRow("currency 'usd'", IA, "currency_code", r -> r.setCurrencyCode("usd"));
        createRow("currency 'US'", IA, "currency_code", r -> r.setCurrencyCode("US"));
        createRow("currency 'USDX'", IA, "currency_code", r -> r.setCurrencyCode("USDX"));
        createRow("currency ''", IA, "currency_code", r -> r.setCurrencyCode(""));
        createRow("currency 'XQZ' (not ISO 4217)", IA, "currency_code", r -> r.setCurrencyCode("XQZ"));
        createRow("cap window unspecified", IA, "policy.caps[0].window",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1).setWindow(CapWindow.CAP_WINDOW_UNSPECIFIED))));
        createRow("cap window 99", IA, "policy.caps[0].window",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1).setWindowValue(99))));
        createRow("cap enforcement unspecified", IA, "policy.caps[0].enforcement",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1)
                        .setEnforcement(CapEnforcement.CAP_ENFORCEMENT_UNSPECIFIED))));
        createRow("cap limit 0", IA, "policy.caps[0].limit_micros",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 0))));
        createRow("cap limit -1", IA, "policy.caps[0].limit_micros",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, -1))));
        createRow("cap limit Long.MIN_VALUE", IA, "policy.caps[0].limit_micros",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, Long.MIN_VALUE))));
        createRow("cap currency EUR (agent in USD)", IA, "policy.caps[0].currency_code",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1).setCurrencyCode("EUR"))));
        createRow("cap currency 'usd'", IA, "policy.caps[0].currency_code",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1).setCurrencyCode("usd"))));
        createRow("cap tool 129 chars", IA, "policy.caps[0].tool",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1).setTool(S129))));
        createRow("cap tool with NUL", IA, "policy.caps[0].tool",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1).setTool("openai/\u0000chat"))));
        createRow("cap tool with surrounding spaces", IA, "policy.caps[0].tool",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1).setTool(" openai "))));
        createRow("65 caps", IA, "policy.caps", r -> {
            SpendingPolicy.Builder p = SpendingPolicy.newBuilder().setAllowInvertedWindows(true);
            for (int i = 0; i < 65; i++) {
                p.addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1).setTool("tool/" + i));
            }
            r.setPolicy(p);
        });
        createRow("the same cap twice", IA, "policy.caps[1]", r -> r.setPolicy(SpendingPolicy.newBuilder()
                .addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1)).addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 2))));
        createRow("day cap above the month cap", IA, "policy.caps[0].limit_micros", r -> r.setPolicy(SpendingPolicy.newBuilder()
                .addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 2_000_000)).addCaps(usdCap(CapWindow.CAP_WINDOW_MONTH, 1_000_000))));
        createRow("payment cap Long.MAX_VALUE above a lifetime cap of 1", IA, "policy.caps[0].limit_micros",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_PAYMENT, Long.MAX_VALUE))
                        .addCaps(usdCap(CapWindow.CAP_WINDOW_LIFETIME, 1))));
        createRow("temporary raise not above the limit", IA, "policy.caps[0].temporary_raise.limit_micros",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 5).setTemporaryRaise(
                        TemporaryRaise.newBuilder().setLimitMicros(5).setExpireTime(secondsFromNow(3600))))));
        createRow("temporary raise negative", IA, "policy.caps[0].temporary_raise.limit_micros",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 5).setTemporaryRaise(
                        TemporaryRaise.newBuilder().setLimitMicros(-1).setExpireTime(secondsFromNow(3600))))));
        createRow("temporary raise without expiry", IA, "policy.caps[0].temporary_raise.expire_time",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 5).setTemporaryRaise(
                        TemporaryRaise.newBuilder().setLimitMicros(10)))));
        createRow("temporary raise expired", IA, "policy.caps[0].temporary_raise.expire_time",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 5).setTemporaryRaise(
                        TemporaryRaise.newBuilder().setLimitMicros(10).setExpireTime(secondsFromNow(-60))))));
        createRow("temporary raise until after 9999", IA, "policy.caps[0].temporary_raise.expire_time",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 5).setTemporaryRaise(
                        TemporaryRaise.newBuilder().setLimitMicros(10).setExpireTime(AFTER_MAX_TIME)))));
        createRow("temporary raise expiry nanos -1", IA, "policy.caps[0].temporary_raise.expire_time",
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 5).setTemporaryRaise(
                        TemporaryRaise.newBuilder().setLimitMicros(10).setExpireTime(NEGATIVE_NANOS)))));
        createRow("max_concurrent_holds -1", IA, "policy.max_concurrent_holds",
                r -> r.setPolicy(SpendingPolicy.newBuilder().setMaxConcurrentHolds(-1)));
        createRow("max_concurrent_holds Integer.MAX_VALUE", IA, "policy.max_concurrent_holds",
                r -> r.setPolicy(SpendingPolicy.newBuilder().setMaxConcurrentHolds(Integer.MAX_VALUE)));
        createRow("sandbox_ceiling -1", IA, "policy.sandbox_ceiling_micros",
                r -> r.setPolicy(SpendingPolicy.newBuilder().setSandboxCeilingMicros(-1)));
        createRow("sandbox_ceiling Long.MIN_VALUE", IA, "policy.sandbox_ceiling_micros",
                r -> r.setPolicy(SpendingPolicy.newBuilder().setSandboxCeilingMicros(Long.MIN_VALUE)));
        createRow("time zone 'Mars/Olympus'", IA, "working_hours.time_zone",
                r -> r.setWorkingHours(WorkingHours.newBuilder().setTimeZone("Mars/Olympus")));
        createRow("time zone '+02:00' (an offset)", IA, "working_hours.time_zone",
                r -> r.setWorkingHours(WorkingHours.newBuilder().setTimeZone("+02:00")));
        createRow("time zone with control chars", IA, "working_hours.time_zone",
                r -> r.setWorkingHours(WorkingHours.newBuilder().setTimeZone("Europe/\nParis")));
        createRow("intervals without a time zone", IA, "working_hours.time_zone",
                r -> r.setWorkingHours(WorkingHours.newBuilder().addIntervals(interval(1, 540, 1020))));
        createRow("day_of_week 0", IA, "working_hours.intervals[0].day_of_week",
                r -> r.setWorkingHours(WorkingHours.newBuilder().setTimeZone("UTC").addIntervals(interval(0, 540, 1020))));
        createRow("day_of_week 8", IA, "working_hours.intervals[0].day_of_week",
                r -> r.setWorkingHours(WorkingHours.newBuilder().setTimeZone("UTC").addIntervals(interval(8, 540, 1020))));
        createRow("start_minute -1", IA, "working_hours.intervals[0].start_minute",
                r -> r.setWorkingHours(WorkingHours.newBuilder().setTimeZone("UTC").addIntervals(interval(1, -1, 1020))));
        createRow("start_minute 1440", IA, "working_hours.intervals[0].start_minute,working_hours.intervals[0].end_minute",
                r -> r.setWorkingHours(WorkingHours.newBuilder().setTimeZone("UTC").addIntervals(interval(1, 1440, 1440))));
        createRow("end_minute 1441", IA, "working_hours.intervals[0].end_minute",
                r -> r.setWorkingHours(WorkingHours.newBuilder().setTimeZone("UTC").addIntervals(interval(1, 540, 1441))));
        createRow("end_minute before start_minute", IA, "working_hours.intervals[0].end_minute",
                r -> r.setWorkingHours(WorkingHours.newBuilder().setTimeZone("UTC").addIntervals(interval(1, 1020, 540))));
        createRow("overlapping intervals", IA, "working_hours.intervals[1]",
                r -> r.setWorkingHours(WorkingHours.newBuilder().setTimeZone("UTC").addIntervals(interval(1, 540, 720))
                        .addIntervals(interval(1, 700, 1020))));
        createRow("65 intervals", IA, "working_hours.intervals", r -> {
            WorkingHours.Builder h = WorkingHours.newBuilder().setTimeZone("UTC");
            for (int i = 0; i < 65; i++) {
                h.addIntervals(interval(1 + i % 7, i, i + 1));
            }
            r.setWorkingHours(h);
        });
        createRow("key_expire_time in the past", IA, "key_expire_time", r -> r.setKeyExpireTime(secondsFromNow(-60)));
        createRow("key_expire_time after 9999", IA, "key_expire_time", r -> r.setKeyExpireTime(AFTER_MAX_TIME));
        createRow("key_expire_time before 0001", IA, "key_expire_time", r -> r.setKeyExpireTime(BEFORE_MIN_TIME));
        createRow("key_expire_time 11 years ahead", IA, "key_expire_time", r -> r.setKeyExpireTime(secondsFromNow(11L * 366 * 86400)));
        createRow("key_expire_time nanos -1", IA, "key_expire_time", r -> r.setKeyExpireTime(NEGATIVE_NANOS));
        createRow("three bad fields at once", IA, "request_id,handle,currency_code",
                r -> r.setRequestId("").setHandle("X").setCurrencyCode("usd"));
        createRow("unknown team", NF, unknownTeam, r -> r.setTeamId(unknownTeam));
        createRow("handle taken", AE, agent.getHandle(), "HANDLE_TAKEN", r -> r.setHandle(created.getAgent().getHandle()));
        row("CreateAgent", "request_id reused, other content", AE, "request_id", "REQUEST_ID_REUSED",
                () -> admin.createAgent(firstRequest.toBuilder().setDisplayName("another name").build()));

        // ---- GetAgent ----
        row("GetAgent", "agent empty", IA, "agent", () -> admin.getAgent(GetAgentRequest.getDefaultInstance()));
        row("GetAgent", "agent 129 chars", IA, "agent", () -> admin.getAgent(GetAgentRequest.newBuilder().setAgent(S129).build()));
        row("GetAgent", "agent with control chars", IA, "agent", () -> admin.getAgent(GetAgentRequest.newBuilder().setAgent(CTRL).build()));
        row("GetAgent", "unknown id", NF, unknownAgent, () -> admin.getAgent(GetAgentRequest.newBuilder().setAgent(unknownAgent).build()));
        row("GetAgent", "unknown handle", NF, "no-such-agent", () -> admin.getAgent(GetAgentRequest.newBuilder().setAgent("no-such-agent").build()));

        // ---- ListAgents ----
        listAgentsRow("page_size -1", "page_size", r -> r.setPageSize(-1));
        listAgentsRow("page_size 501", "page_size", r -> r.setPageSize(501));
        listAgentsRow("page_size Integer.MIN_VALUE", "page_size", r -> r.setPageSize(Integer.MIN_VALUE));
        listAgentsRow("page_token not base64", "page_token", r -> r.setPageToken("not a token!"));
        listAgentsRow("page_token of another listing", "page_token", r -> r.setPageToken(otherKindToken));
        listAgentsRow("page_token 2000 chars", "page_token", r -> r.setPageToken("A".repeat(2000)));
        listAgentsRow("team_id 129 chars", "team_id", r -> r.setTeamId(S129));
        listAgentsRow("team_id with control chars", "team_id", r -> r.setTeamId(CTRL));
        listAgentsRow("status 99 (unknown enum value)", "status", r -> r.setStatusValue(99));

        // ---- UpdateAgent ----
        updateRow("request_id empty", IA, "request_id", a, r -> r.setRequestId(""));
        updateRow("agent_id empty", IA, "agent_id", a, r -> r.setAgentId(""));
        updateRow("agent_id 129 chars", IA, "agent_id", a, r -> r.setAgentId(S129));
        updateRow("agent_id with control chars", IA, "agent_id", a, r -> r.setAgentId(CTRL));
        updateRow("update_mask empty", IA, "update_mask", a, UpdateAgentRequest.Builder::clearUpdateMask);
        updateRow("update_mask names 'handle'", IA, "update_mask[0]", a, r -> r.clearUpdateMask().addUpdateMask("handle"));
        updateRow("update_mask names 'policy'", IA, "update_mask[0]", a, r -> r.clearUpdateMask().addUpdateMask("policy"));
        updateRow("update_mask entry with control chars", IA, "update_mask[0]", a, r -> r.clearUpdateMask().addUpdateMask(CTRL));
        updateRow("update_mask names a field twice", IA, "update_mask[1]", a, r -> r.addUpdateMask("display_name"));
        updateRow("update_mask 9 entries", IA, "update_mask", a, r -> {
            for (int i = 0; i < 8; i++) {
                r.addUpdateMask("display_name");
            }
        });
        updateRow("display_name 257 chars", IA, "display_name", a, r -> r.setDisplayName(S257));
        updateRow("team_id with control chars", IA, "team_id", a, r -> r.clearUpdateMask().addUpdateMask("team_id").setTeamId(CTRL));
        updateRow("team_id of an EUR team", IA, "team_id", a,
                r -> r.clearUpdateMask().addUpdateMask("team_id").setTeamId(euroTeam.getId()));
        updateRow("33 labels", IA, "labels", a, r -> r.clearUpdateMask().addUpdateMask("labels").putAllLabels(labels(33)));
        updateRow("mode unspecified", IA, "mode", a, r -> r.clearUpdateMask().addUpdateMask("mode"));
        updateRow("working hours in 'Nowhere/Town'", IA, "working_hours.time_zone", a,
                r -> r.clearUpdateMask().addUpdateMask("working_hours").setWorkingHours(WorkingHours.newBuilder().setTimeZone("Nowhere/Town")));
        updateRow("expected_version -1", IA, "expected_version", a, r -> r.setExpectedVersion(-1));
        updateRow("expected_version Long.MIN_VALUE", IA, "expected_version", a, r -> r.setExpectedVersion(Long.MIN_VALUE));
        updateRow("unknown agent", NF, unknownAgent, a, r -> r.setAgentId(unknownAgent));
        updateRow("unknown team", NF, unknownTeam, a, r -> r.clearUpdateMask().addUpdateMask("team_id").setTeamId(unknownTeam));
        updateRow("stale expected_version", AB, "version", a, r -> r.setExpectedVersion(staleVersion));
        rows.add(new Row("UpdateAgent", "revoked agent", FP, "revoked", "AGENT_REVOKED", () -> admin.updateAgent(
                UpdateAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(revoked.getId())
                        .addUpdateMask("display_name").setDisplayName("x").build())));

        // ---- SuspendAgent / ReinstateAgent / RevokeAgent ----
        for (String rpc : List.of("SuspendAgent", "ReinstateAgent", "RevokeAgent")) {
            statusRow(rpc, "request_id empty", IA, "request_id", null, "", a, "");
            statusRow(rpc, "agent_id empty", IA, "agent_id", null, requestId(), "", "");
            statusRow(rpc, "agent_id 129 chars", IA, "agent_id", null, requestId(), S129, "");
            statusRow(rpc, "agent_id with control chars", IA, "agent_id", null, requestId(), CTRL, "");
            statusRow(rpc, "reason 1025 chars", IA, "reason", null, requestId(), a, "r".repeat(1025));
            statusRow(rpc, "reason with ESC", IA, "reason", null, requestId(), a, "alert \u001b[2J");
            statusRow(rpc, "unknown agent", NF, unknownAgent, null, requestId(), unknownAgent, "");
            statusRow(rpc, "revoked agent", FP, "revoked", "AGENT_REVOKED", requestId(), revoked.getId(), "");
        }
        statusRow("SuspendAgent", "already suspended", FP, "SUSPENDED", "AGENT_NOT_ACTIVE", requestId(), suspended.getId(), "");
        statusRow("ReinstateAgent", "active agent", FP, "ACTIVE", "AGENT_NOT_SUSPENDED", requestId(), a, "");
        row("SuspendAgent", "service token, agent_id with control chars", IA, "agent_id", () -> service().suspendAgent(
                SuspendAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(CTRL).setReason("alt_x").build()));
        row("SuspendAgent", "service token, unknown agent", NF, unknownAgent, () -> service().suspendAgent(
                SuspendAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(unknownAgent).setReason("alt_x").build()));

        // ---- SetAgentPolicy ----
        policyRow("request_id empty", IA, "request_id", a, r -> r.setRequestId(""));
        policyRow("agent_id empty", IA, "agent_id", a, r -> r.setAgentId(""));
        policyRow("agent_id with control chars", IA, "agent_id", a, r -> r.setAgentId(CTRL));
        policyRow("expected_version -1", IA, "expected_version", a, r -> r.setExpectedVersion(-1));
        policyRow("cap limit 0", IA, "policy.caps[0].limit_micros", a,
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 0))));
        policyRow("cap limit -1", IA, "policy.caps[0].limit_micros", a,
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, -1))));
        policyRow("cap currency EUR (agent in USD)", IA, "policy.caps[0].currency_code", a,
                r -> r.setPolicy(SpendingPolicy.newBuilder().addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1).setCurrencyCode("EUR"))));
        policyRow("hour cap above the day cap", IA, "policy.caps[0].limit_micros", a, r -> r.setPolicy(SpendingPolicy.newBuilder()
                .addCaps(usdCap(CapWindow.CAP_WINDOW_HOUR, 3)).addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 2))));
        policyRow("max_concurrent_holds 100001", IA, "policy.max_concurrent_holds", a,
                r -> r.setPolicy(SpendingPolicy.newBuilder().setMaxConcurrentHolds(100_001)));
        policyRow("sandbox_ceiling -1", IA, "policy.sandbox_ceiling_micros", a,
                r -> r.setPolicy(SpendingPolicy.newBuilder().setSandboxCeilingMicros(-1)));
        policyRow("unknown agent", NF, unknownAgent, a, r -> r.setAgentId(unknownAgent));
        policyRow("stale expected_version", AB, "version", a, r -> r.setExpectedVersion(staleVersion));
        rows.add(new Row("SetAgentPolicy", "revoked agent", FP, "revoked", "AGENT_REVOKED", () -> admin.setAgentPolicy(
                SetAgentPolicyRequest.newBuilder().setRequestId(requestId()).setAgentId(revoked.getId()).build())));

        // ---- CreateTeam ----
        teamRow("request_id empty", IA, "request_id", r -> r.setRequestId(""));
        teamRow("name empty", IA, "name", r -> r.setName(""));
        teamRow("name 2 chars", IA, "name", r -> r.setName("ab"));
        teamRow("name uppercase", IA, "name", r -> r.setName("Platform"));
        teamRow("name with control chars", IA, "name", r -> r.setName("team\n1"));
        teamRow("display_name 257 chars", IA, "display_name", r -> r.setDisplayName(S257));
        teamRow("currency 'usd'", IA, "currency_code", r -> r.setCurrencyCode("usd"));
        teamRow("currency ''", IA, "currency_code", r -> r.setCurrencyCode(""));
        teamRow("cap limit 0", IA, "caps[0].limit_micros", r -> r.addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 0)));
        teamRow("cap currency EUR (team in USD)", IA, "caps[0].currency_code",
                r -> r.addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1).setCurrencyCode("EUR")));
        teamRow("cap window unspecified", IA, "caps[0].window",
                r -> r.addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1).setWindow(CapWindow.CAP_WINDOW_UNSPECIFIED)));
        teamRow("name taken", AE, team.getName(), r -> r.setName(team.getName()));

        // ---- GetTeam / ListTeams ----
        row("GetTeam", "team empty", IA, "team", () -> admin.getTeam(GetTeamRequest.getDefaultInstance()));
        row("GetTeam", "team 129 chars", IA, "team", () -> admin.getTeam(GetTeamRequest.newBuilder().setTeam(S129).build()));
        row("GetTeam", "team with control chars", IA, "team", () -> admin.getTeam(GetTeamRequest.newBuilder().setTeam(CTRL).build()));
        row("GetTeam", "unknown team", NF, unknownTeam, () -> admin.getTeam(GetTeamRequest.newBuilder().setTeam(unknownTeam).build()));
        row("ListTeams", "page_size -1", IA, "page_size", () -> admin.listTeams(ListTeamsRequest.newBuilder().setPageSize(-1).build()));
        row("ListTeams", "page_size 501", IA, "page_size", () -> admin.listTeams(ListTeamsRequest.newBuilder().setPageSize(501).build()));
        row("ListTeams", "page_token not base64", IA, "page_token",
                () -> admin.listTeams(ListTeamsRequest.newBuilder().setPageToken("%%%").build()));
        row("ListTeams", "page_token of the agents listing", IA, "page_token",
                () -> admin.listTeams(ListTeamsRequest.newBuilder().setPageToken(PageTokens.encode("agents", "a")).build()));

        // ---- SetTeamPolicy ----
        teamPolicyRow("request_id empty", IA, "request_id", team.getId(), r -> r.setRequestId(""));
        teamPolicyRow("team_id empty", IA, "team_id", team.getId(), r -> r.setTeamId(""));
        teamPolicyRow("team_id with control chars", IA, "team_id", team.getId(), r -> r.setTeamId(CTRL));
        teamPolicyRow("expected_version -1", IA, "expected_version", team.getId(), r -> r.setExpectedVersion(-1));
        teamPolicyRow("cap limit -1", IA, "caps[0].limit_micros", team.getId(), r -> r.addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, -1)));
        teamPolicyRow("cap currency EUR (team in USD)", IA, "caps[0].currency_code", team.getId(),
                r -> r.addCaps(usdCap(CapWindow.CAP_WINDOW_DAY, 1).setCurrencyCode("EUR")));
        teamPolicyRow("week cap above the month cap", IA, "caps[0].limit_micros", team.getId(),
                r -> r.addCaps(usdCap(CapWindow.CAP_WINDOW_WEEK, Long.MAX_VALUE)).addCaps(usdCap(CapWindow.CAP_WINDOW_MONTH, 1)));
        teamPolicyRow("unknown team", NF, unknownTeam, team.getId(), r -> r.setTeamId(unknownTeam));
        teamPolicyRow("stale expected_version", AB, "version", team.getId(), r -> r.setExpectedVersion(team.getVersion() + 5));

        // ---- CreateApiKey ----
        keyRow("request_id empty", IA, "request_id", a, r -> r.setRequestId(""));
        keyRow("agent_id empty", IA, "agent_id", a, r -> r.setAgentId(""));
        keyRow("agent_id 129 chars", IA, "agent_id", a, r -> r.setAgentId(S129));
        keyRow("agent_id with control chars", IA, "agent_id", a, r -> r.setAgentId(CTRL));
        keyRow("description 257 chars", IA, "description", a, r -> r.setDescription(S257));
        keyRow("description with newline", IA, "description", a, r -> r.setDescription("rotation\nkey"));
        keyRow("expire_time in the past", IA, "expire_time", a, r -> r.setExpireTime(secondsFromNow(-1)));
        keyRow("expire_time after 9999", IA, "expire_time", a, r -> r.setExpireTime(AFTER_MAX_TIME));
        keyRow("expire_time nanos -1", IA, "expire_time", a, r -> r.setExpireTime(NEGATIVE_NANOS));
        keyRow("unknown agent", NF, unknownAgent, a, r -> r.setAgentId(unknownAgent));
        keyRow("revoked agent", FP, "revoked", revoked.getId(), r -> { });
        rows.add(new Row("CreateApiKey", "21st usable key", FP, "usable keys", "TOO_MANY_KEYS", () -> admin.createApiKey(
                CreateApiKeyRequest.newBuilder().setRequestId(requestId()).setAgentId(fullOfKeys.getId()).build())));

        // ---- ListApiKeys ----
        row("ListApiKeys", "agent_id empty", IA, "agent_id", () -> admin.listApiKeys(ListApiKeysRequest.getDefaultInstance()));
        row("ListApiKeys", "agent_id with control chars", IA, "agent_id",
                () -> admin.listApiKeys(ListApiKeysRequest.newBuilder().setAgentId(CTRL).build()));
        row("ListApiKeys", "page_size 501", IA, "page_size",
                () -> admin.listApiKeys(ListApiKeysRequest.newBuilder().setAgentId(a).setPageSize(501).build()));
        row("ListApiKeys", "page_token of another listing", IA, "page_token",
                () -> admin.listApiKeys(ListApiKeysRequest.newBuilder().setAgentId(a).setPageToken(otherKindToken).build()));
        row("ListApiKeys", "unknown agent", NF, unknownAgent,
                () -> admin.listApiKeys(ListApiKeysRequest.newBuilder().setAgentId(unknownAgent).build()));

        // ---- RevokeApiKey ----
        row("RevokeApiKey", "request_id empty", IA, "request_id",
                () -> admin.revokeApiKey(RevokeApiKeyRequest.newBuilder().setKeyId(revokedKey).build()));
        row("RevokeApiKey", "key_id empty", IA, "key_id",
                () -> admin.revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(requestId()).build()));
        row("RevokeApiKey", "key_id 129 chars", IA, "key_id",
                () -> admin.revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(requestId()).setKeyId(S129).build()));
        row("RevokeApiKey", "key_id with control chars", IA, "key_id",
                () -> admin.revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(requestId()).setKeyId(CTRL).build()));
        row("RevokeApiKey", "reason 1025 chars", IA, "reason", () -> admin.revokeApiKey(RevokeApiKeyRequest.newBuilder()
                .setRequestId(requestId()).setKeyId(revokedKey).setReason("r".repeat(1025)).build()));
        row("RevokeApiKey", "unknown key", NF, unknownKey,
                () -> admin.revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(requestId()).setKeyId(unknownKey).build()));
        row("RevokeApiKey", "key revoked already", FP, revokedKey, "KEY_ALREADY_REVOKED",
                () -> admin.revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(requestId()).setKeyId(revokedKey).build()));

        // ---- Authenticate (service token): every refusal is the same UNAUTHENTICATED ----
        for (var c : List.of(new String[]{"api_key empty", ""}, new String[]{"api_key not a key", "hello"},
                new String[]{"api_key with control chars", "as_key_\u0000\n"}, new String[]{"api_key 10,000 chars", "as_" + "k".repeat(10_000)},
                new String[]{"api_key of an unknown key id", "as_" + unknownKey + "_" + "s".repeat(43)},
                new String[]{"api_key: the right id, a wrong secret", "as_" + created.getApiKey().getKeyId() + "_" + "s".repeat(43)})) {
            row("Authenticate", c[0], UN, "API key", "INVALID_API_KEY",
                    () -> service().authenticate(AuthenticateRequest.newBuilder().setApiKey(c[1]).build()));
        }

        // ---- ListAuditEvents ----
        row("ListAuditEvents", "page_size -1", IA, "page_size",
                () -> admin.listAuditEvents(ListAuditEventsRequest.newBuilder().setPageSize(-1).build()));
        row("ListAuditEvents", "page_token not base64", IA, "page_token",
                () -> admin.listAuditEvents(ListAuditEventsRequest.newBuilder().setPageToken("not a token!").build()));
        row("ListAuditEvents", "page_token without a sequence", IA, "page_token",
                () -> admin.listAuditEvents(ListAuditEventsRequest.newBuilder().setPageToken(auditNotANumber).build()));
        row("ListAuditEvents", "subject_id 129 chars", IA, "subject_id",
                () -> admin.listAuditEvents(ListAuditEventsRequest.newBuilder().setSubjectId(S129).build()));
        row("ListAuditEvents", "subject_id with control chars", IA, "subject_id",
                () -> admin.listAuditEvents(ListAuditEventsRequest.newBuilder().setSubjectId(CTRL).build()));

        // ---- WatchPolicies (service token) ----
        row("WatchPolicies", "after_version -1", IA, "after_version", () -> firstFeedEvent(-1));
        row("WatchPolicies", "after_version Long.MIN_VALUE", IA, "after_version", () -> firstFeedEvent(Long.MIN_VALUE));

        // ---- run every refused row, digest before and after ----
        List<Observed> observed = new ArrayList<>();
        String before = identitySchemaFingerprint();
        long refusedStart = System.nanoTime();
        for (Row r : rows) {
            observed.add(check(r));
        }
        long refusedMillis = (System.nanoTime() - refusedStart) / 1_000_000;
        String after = identitySchemaFingerprint();

        // ---- inputs the contract accepts (recorded; run after the digest) ----
        List<Row> accepted = new ArrayList<>();
        accepted.add(new Row("ListAgents", "unknown team_id: an empty page", OK, "0", null,
                () -> admin.listAgents(ListAgentsRequest.newBuilder().setTeamId(unknownTeam).build()).getAgentsCount()));
        accepted.add(new Row("ListAuditEvents", "unknown subject_id: an empty page", OK, "0", null,
                () -> admin.listAuditEvents(ListAuditEventsRequest.newBuilder().setSubjectId(unknownAgent).build()).getAuditEventsCount()));
        accepted.add(new Row("WatchPolicies", "after_version Long.MAX_VALUE (beyond the head): a snapshot", OK, "_policy", null,
                () -> firstFeedEvent(Long.MAX_VALUE).getEventCase().name().toLowerCase()));
        accepted.add(new Row("CreateAgent", "payment cap Long.MAX_VALUE alone", OK, "1", null,
                () -> admin.createAgent(agentRequest().setPolicy(SpendingPolicy.newBuilder()
                        .addCaps(usdCap(CapWindow.CAP_WINDOW_PAYMENT, Long.MAX_VALUE))).build()).getAgent().getVersion()));
        List<String> acceptedProblems = new ArrayList<>();
        StringBuilder acceptedTable = new StringBuilder();
        for (Row r : accepted) {
            String result;
            try {
                result = "OK " + r.call().get();
                if (!result.contains(r.mention())) {
                    acceptedProblems.add(r.rpc() + " / " + r.name() + ": expected " + r.mention() + ", got " + result);
                }
            } catch (StatusRuntimeException e) {
                result = e.getStatus().getCode() + " " + e.getStatus().getDescription();
                acceptedProblems.add(r.rpc() + " / " + r.name() + ": expected OK, got " + result);
            }
            acceptedTable.append(String.format("%n%-15s %-58s %s", r.rpc(), r.name(), printable(result)));
        }

        print(observed);
        System.out.println("accepted inputs:" + acceptedTable);
        System.out.printf("identity: %d refused rows in %d ms; whole test %d ms%n", rows.size(), refusedMillis,
                (System.nanoTime() - started) / 1_000_000);
        List<String> failures = new ArrayList<>();
        for (Observed o : observed) {
            if (!o.verdict().equals("ok")) {
                failures.add(o.row().rpc() + " / " + o.row().name() + ": " + o.verdict());
            }
        }
        failures.addAll(acceptedProblems);
        assertEquals(before, after, "refused calls changed identity's data");
        if (!failures.isEmpty()) {
            fail(failures.size() + " rows differ from the documented rules:\n" + String.join("\n", failures));
        }
    }

    // ---- row builders: a valid request, changed by one case ----

    private void createRow(String name, Status.Code code, String mention, Consumer<CreateAgentRequest.Builder> change) {
        createRow(name, code, mention, null, change);
    }

    private void createRow(String name, Status.Code code, String mention, String reason,
                           Consumer<CreateAgentRequest.Builder> change) {
        row("CreateAgent", name, code, mention, reason, () -> {
            CreateAgentRequest.Builder r = agentRequest();
            change.accept(r);
            return admin().createAgent(r.build());
        });
    }

    private void listAgentsRow(String name, String field, Consumer<ListAgentsRequest.Builder> change) {
        row("ListAgents", name, IA, field, () -> {
            ListAgentsRequest.Builder r = ListAgentsRequest.newBuilder();
            change.accept(r);
            return admin().listAgents(r.build());
        });
    }

    private void updateRow(String name, Status.Code code, String mention, String agentId,
                           Consumer<UpdateAgentRequest.Builder> change) {
        row("UpdateAgent", name, code, mention, () -> {
            UpdateAgentRequest.Builder r = UpdateAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId)
                    .addUpdateMask("display_name").setDisplayName("renamed");
            change.accept(r);
            return admin().updateAgent(r.build());
        });
    }

    private void statusRow(String rpc, String name, Status.Code code, String mention, String reason, String requestId,
                           String agentId, String why) {
        row(rpc, name, code, mention, reason, () -> switch (rpc) {
            case "SuspendAgent" -> admin().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(requestId)
                    .setAgentId(agentId).setReason(why).build());
            case "ReinstateAgent" -> admin().reinstateAgent(ReinstateAgentRequest.newBuilder().setRequestId(requestId)
                    .setAgentId(agentId).setReason(why).build());
            default -> admin().revokeAgent(RevokeAgentRequest.newBuilder().setRequestId(requestId)
                    .setAgentId(agentId).setReason(why).build());
        });
    }

    private void policyRow(String name, Status.Code code, String mention, String agentId,
                           Consumer<SetAgentPolicyRequest.Builder> change) {
        row("SetAgentPolicy", name, code, mention, () -> {
            SetAgentPolicyRequest.Builder r = SetAgentPolicyRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId)
                    .setPolicy(policy());
            change.accept(r);
            return admin().setAgentPolicy(r.build());
        });
    }

    private void teamRow(String name, Status.Code code, String mention, Consumer<CreateTeamRequest.Builder> change) {
        row("CreateTeam", name, code, mention, code == AE ? "TEAM_NAME_TAKEN" : null, () -> {
            CreateTeamRequest.Builder r = CreateTeamRequest.newBuilder().setRequestId(requestId()).setName(unique("team"))
                    .setDisplayName("team").setCurrencyCode("USD");
            change.accept(r);
            return admin().createTeam(r.build());
        });
    }

    private void teamPolicyRow(String name, Status.Code code, String mention, String teamId,
                               Consumer<SetTeamPolicyRequest.Builder> change) {
        row("SetTeamPolicy", name, code, mention, code == AB ? "VERSION_MISMATCH" : null, () -> {
            SetTeamPolicyRequest.Builder r = SetTeamPolicyRequest.newBuilder().setRequestId(requestId()).setTeamId(teamId);
            change.accept(r);
            return admin().setTeamPolicy(r.build());
        });
    }

    private void keyRow(String name, Status.Code code, String mention, String agentId, Consumer<CreateApiKeyRequest.Builder> change) {
        row("CreateApiKey", name, code, mention, code == FP ? "AGENT_REVOKED" : null, () -> {
            CreateApiKeyRequest.Builder r = CreateApiKeyRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId)
                    .setDescription("rotation");
            change.accept(r);
            return admin().createApiKey(r.build());
        });
    }

    /** The first event of the policy feed after {@code afterVersion}, bounded by the watcher's deadline. */
    private static WatchPoliciesResponse firstFeedEvent(long afterVersion) {
        try (FeedWatcher watcher = FeedWatcher.service(afterVersion)) {
            return watcher.next();
        }
    }

    // ---- checking (as the ledger's BadInputGrpcTest) ----

    private static Observed check(Row r) {
        StatusRuntimeException e;
        try {
            r.call().get();
            return new Observed(r, OK, "", "", "", "FAIL: the call succeeded");
        } catch (StatusRuntimeException x) {
            e = x;
        }
        Status.Code code = e.getStatus().getCode();
        String message = e.getStatus().getDescription() == null ? "" : e.getStatus().getDescription();
        String reason = GrpcErrors.reasonOf(e);
        List<String> fields = badRequestFields(e);
        List<String> problems = new ArrayList<>();
        if (code != r.expected()) {
            problems.add("expected " + r.expected() + ", got " + code);
        }
        if (message.isBlank()) {
            problems.add("empty message");
        }
        if (message.chars().anyMatch(Character::isISOControl)) {
            problems.add("the message echoes control characters");
        }
        if (code == IA) {
            for (String f : r.mention().split(",")) {
                if (!fields.contains(f)) {
                    problems.add("BadRequest does not name " + f + " (names " + fields + ")");
                }
                if (!message.contains(f) && fields.size() == 1) {
                    problems.add("the message does not name " + f);
                }
            }
            if (!"INVALID_ARGUMENT".equals(reason)) {
                problems.add("ErrorInfo reason " + reason);
            }
        } else if (code == r.expected()) {
            if (!message.contains(r.mention())) {
                problems.add("the message does not mention '" + r.mention() + "'");
            }
            if (r.reason() != null && !r.reason().equals(reason)) {
                problems.add("ErrorInfo reason " + reason + ", expected " + r.reason());
            }
        }
        String verdict = problems.isEmpty() ? "ok" : "FAIL: " + String.join("; ", problems);
        return new Observed(r, code, reason, String.join(",", fields), message, verdict);
    }

    private static List<String> badRequestFields(StatusRuntimeException e) {
        List<String> fields = new ArrayList<>();
        com.google.rpc.Status status = StatusProto.fromThrowable(e);
        if (status == null) {
            return fields;
        }
        for (Any detail : status.getDetailsList()) {
            if (detail.is(BadRequest.class)) {
                try {
                    for (BadRequest.FieldViolation v : detail.unpack(BadRequest.class).getFieldViolationsList()) {
                        fields.add(v.getField());
                    }
                } catch (com.google.protobuf.InvalidProtocolBufferException ignored) {
                    fields.add("<unreadable BadRequest>");
                }
            }
        }
        return fields;
    }

    /** Row count and a digest of the rows of every table of the identity schema. */
    private static String identitySchemaFingerprint() throws Exception {
        StringBuilder out = new StringBuilder();
        try (Connection c = Database.connect(); Statement st = c.createStatement()) {
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("SELECT table_name FROM information_schema.tables"
                    + " WHERE table_schema = 'identity' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'flyway%'"
                    + " ORDER BY table_name")) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
            assertFalse(tables.isEmpty(), "the identity schema has tables");
            for (String table : tables) {
                try (ResultSet rs = st.executeQuery("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                        + " FROM identity.\"" + table + "\" t")) {
                    rs.next();
                    out.append(table).append(' ').append(rs.getLong(1)).append(' ').append(rs.getString(2)).append('\n');
                }
            }
        }
        return out.toString();
    }

    /** Control characters shown as '?', so that an echoed one does not garble the build log. */
    private static String printable(String s) {
        StringBuilder out = new StringBuilder(s.length());
        s.chars().forEach(c -> out.append(Character.isISOControl(c) ? '?' : (char) c));
        return out.toString();
    }

    private static void print(List<Observed> observed) {
        StringBuilder t = new StringBuilder(String.format("%-15s %-50s %-19s %-19s %-22s %-44s %s",
                "rpc", "case", "expected", "observed", "reason", "BadRequest fields", "verdict | message"));
        for (Observed o : observed) {
            String msg = printable(o.message().length() > 110 ? o.message().substring(0, 110) + "..." : o.message());
            t.append(String.format("%n%-15s %-50s %-19s %-19s %-22s %-44s %s | %s", o.row().rpc(), o.row().name(),
                    o.row().expected(), o.code(), o.reason(), o.fields(), o.verdict(), msg));
        }
        System.out.println(t);
    }
}
