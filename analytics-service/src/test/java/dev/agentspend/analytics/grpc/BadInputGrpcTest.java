package dev.agentspend.analytics.grpc;

import com.google.protobuf.Any;
import com.google.protobuf.Timestamp;
import com.google.rpc.BadRequest;
import dev.agentspend.analytics.support.AnalyticsTestResource;
import dev.agentspend.common.api.PageTokens;
import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.proto.analytics.v1.*;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.GetAgentRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.ledger.v1.PayRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

import static dev.agentspend.analytics.support.Platform.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Bad input to every analytics RPC that takes input, over a real socket, one row per case, in the
 * manner of the ledger's BadInputGrpcTest: agent, team and invoice ids missing, over-long or with
 * control characters, unknown agents and invoices, time windows (end before start, empty, longer
 * than 400 days, not on a minute, before 2000 or after 2199, invalid nanos), window days, series
 * metrics, steps and point counts, fleet pages, filters and sort fields, cap advice enforcement,
 * and invoices (vendor, currency, header, columns, dates, amounts, line count, totals past
 * Long.MAX_VALUE, reused request ids). The expected status comes from the proto and
 * {@code AnalyticsApi}'s rules: INVALID_ARGUMENT with a google.rpc.BadRequest naming every
 * offending field, NOT_FOUND naming the id, FAILED_PRECONDITION and ALREADY_EXISTS with their
 * ErrorInfo reason. Every refusal carries a message without control characters, and all refused
 * rows together change nothing: every table of analytics' schema (but the feed consumers'
 * positions) and the agent's policy version in identity are compared before and after. Calls use
 * the admin token, so that each refusal is about the input.
 *
 * <p>GetIngestionStatus takes no fields, so it has no row here.
 */
@QuarkusTest
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class BadInputGrpcTest {
    private static final Status.Code IA = Status.Code.INVALID_ARGUMENT;
    private static final Status.Code NF = Status.Code.NOT_FOUND;
    private static final Status.Code FP = Status.Code.FAILED_PRECONDITION;
    private static final Status.Code AE = Status.Code.ALREADY_EXISTS;
    private static final Status.Code OK = Status.Code.OK;

    private static final String S129 = "x".repeat(129);
    private static final String S257 = "y".repeat(257);
    private static final String CTRL = "bad\u0000id\n";
    private static final String HEADER = "tool,period_start,period_end,amount\n";
    /** One second after 9999-12-31T23:59:59Z, the largest valid google.protobuf.Timestamp. */
    private static final Timestamp AFTER_MAX_TIME = Timestamp.newBuilder().setSeconds(253_402_300_800L).build();
    /** One second before 0001-01-01T00:00:00Z, the smallest valid google.protobuf.Timestamp. */
    private static final Timestamp BEFORE_MIN_TIME = Timestamp.newBuilder().setSeconds(-62_135_596_801L).build();
    private static final Timestamp YEAR_2200 = ts(Instant.parse("2200-01-01T00:00:00Z"));
    private static final Timestamp YEAR_1999 = ts(Instant.parse("1999-12-31T23:00:00Z"));
    private static final Timestamp YEAR_1970 = ts(Instant.EPOCH);

    record Row(String rpc, String name, Status.Code expected, String mention, String reason, Supplier<Object> call) {
    }

    record Observed(Row row, Status.Code code, String reason, String fields, String message, String verdict) {
    }

    private final List<Row> rows = new ArrayList<>();
    private String agentIdForAdvice;

    private void row(String rpc, String name, Status.Code expected, String mention, Supplier<Object> call) {
        rows.add(new Row(rpc, name, expected, mention, null, call));
    }

    private static String rid() {
        return "bad-" + UUID.randomUUID();
    }

    /** A whole minute {@code minutes} after the current one (negative: before). */
    private static Timestamp minute(long minutes) {
        return ts(Instant.now().truncatedTo(ChronoUnit.MINUTES).plus(minutes, ChronoUnit.MINUTES));
    }

    private static Map<String, String> labels(int n) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < n; i++) {
            m.put("k" + i, "v");
        }
        return m;
    }

    /** The fleet listing's filter fingerprint, as AnalyticsApi derives it, to forge a token of this listing. */
    private static String fleetFingerprint(String teamId, int sortField, boolean descending, boolean triggeredOnly) {
        String filters = teamId + '|' + sortField + '|' + descending + '|' + triggeredOnly;
        return HexFormat.of().formatHex(ApiKeys.sha256(filters), 0, 8);
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void badInputIsRefusedWithTheFieldNamedAndNothingWritten() throws Exception {
        long started = System.nanoTime();
        var an = analyticsAdmin();
        Agent agent = createAgent("badinput", "", Map.of(), SpendingPolicy.getDefaultInstance(),
                WorkingHours.getDefaultInstance(), 10_000_000);
        String a = agent.id();
        agentIdForAdvice = a;
        long last = ledgerAs(agent).pay(PayRequest.newBuilder().setRequestId(rid()).setAmountMicros(1_000)
                .setCurrencyCode("USD").setTool("llm/bad").setTaskId("task-1").build()).getEntry().getPosition();
        ImportInvoiceRequest invoiceRequest = ImportInvoiceRequest.newBuilder().setRequestId(rid()).setVendor("bad-vendor")
                .setCurrencyCode("USD").setCsv(HEADER + "llm/bad,2026-01-01,2026-01-31,1.00\n").build();
        String invoice = an.importInvoice(invoiceRequest).getInvoiceId();
        awaitIngested(last);
        String unknownAgent = "agt_" + "0".repeat(26);
        String unknownInvoice = "inv_" + "0".repeat(26);
        String defaultFleet = fleetFingerprint("", 0, false, false);

        // ---- GetCostPerTask ----
        row("GetCostPerTask", "agent_id empty", IA, "agent_id", () -> an.getCostPerTask(GetCostPerTaskRequest.getDefaultInstance()));
        row("GetCostPerTask", "agent_id 129 chars", IA, "agent_id",
                () -> an.getCostPerTask(GetCostPerTaskRequest.newBuilder().setAgentId(S129).build()));
        row("GetCostPerTask", "agent_id with control chars", IA, "agent_id",
                () -> an.getCostPerTask(GetCostPerTaskRequest.newBuilder().setAgentId(CTRL).build()));
        row("GetCostPerTask", "window_days -1", IA, "window_days",
                () -> an.getCostPerTask(GetCostPerTaskRequest.newBuilder().setAgentId(a).setWindowDays(-1).build()));
        row("GetCostPerTask", "window_days 91", IA, "window_days",
                () -> an.getCostPerTask(GetCostPerTaskRequest.newBuilder().setAgentId(a).setWindowDays(91).build()));
        row("GetCostPerTask", "window_days Integer.MAX_VALUE", IA, "window_days",
                () -> an.getCostPerTask(GetCostPerTaskRequest.newBuilder().setAgentId(a).setWindowDays(Integer.MAX_VALUE).build()));
        row("GetCostPerTask", "agent_id empty and window_days 91", IA, "agent_id,window_days",
                () -> an.getCostPerTask(GetCostPerTaskRequest.newBuilder().setWindowDays(91).build()));
        row("GetCostPerTask", "unknown agent", NF, unknownAgent,
                () -> an.getCostPerTask(GetCostPerTaskRequest.newBuilder().setAgentId(unknownAgent).build()));

        // ---- GetSpendVelocity, GetCapUtilization, GetCapAdvice: an agent id only ----
        for (String rpc : List.of("GetSpendVelocity", "GetCapUtilization", "GetCapAdvice")) {
            agentOnlyRow(rpc, "agent_id empty", IA, "agent_id", "");
            agentOnlyRow(rpc, "agent_id 129 chars", IA, "agent_id", S129);
            agentOnlyRow(rpc, "agent_id with control chars", IA, "agent_id", CTRL);
            agentOnlyRow(rpc, "unknown agent", NF, unknownAgent, unknownAgent);
        }

        // ---- GetToolAttribution ----
        toolsRow("agent_id 129 chars", IA, "agent_id", r -> r.setAgentId(S129));
        toolsRow("agent_id with control chars", IA, "agent_id", r -> r.setAgentId(CTRL));
        toolsRow("team_id 129 chars", IA, "team_id", r -> r.setTeamId(S129));
        toolsRow("team_id with control chars", IA, "team_id", r -> r.setTeamId(CTRL));
        toolsRow("both agent_id and team_id", IA, "team_id", r -> r.setAgentId(a).setTeamId("team_x"));
        toolsRow("end before start", IA, "start_time", r -> r.setStartTime(minute(0)).setEndTime(minute(-60)));
        toolsRow("start equals end", IA, "start_time", r -> r.setStartTime(minute(-60)).setEndTime(minute(-60)));
        toolsRow("start 2 hours ahead, end unset (now)", IA, "start_time", r -> r.setStartTime(minute(120)));
        toolsRow("start after 9999", IA, "start_time", r -> r.setStartTime(AFTER_MAX_TIME));
        toolsRow("end at 2200 (far future)", IA, "end_time", r -> r.setEndTime(YEAR_2200));
        toolsRow("start in 1999 (ancient)", IA, "start_time", r -> r.setStartTime(YEAR_1999));
        toolsRow("start before 0001", IA, "start_time", r -> r.setStartTime(BEFORE_MIN_TIME));
        toolsRow("start nanos -1", IA, "start_time", r -> r.setStartTime(minute(-60).toBuilder().setNanos(-1)));
        toolsRow("end nanos 1e9", IA, "end_time", r -> r.setEndTime(minute(0).toBuilder().setNanos(1_000_000_000)));
        toolsRow("start not on a minute", IA, "start_time", r -> r.setStartTime(minute(-60).toBuilder().setSeconds(minute(-60).getSeconds() + 7)));
        toolsRow("end not on a minute", IA, "end_time", r -> r.setEndTime(minute(0).toBuilder().setNanos(5)));
        toolsRow("401 days", IA, "start_time", r -> r.setStartTime(minute(-401L * 1440)).setEndTime(minute(0)));

        // ---- GetRetryCost ----
        retryRow("agent_id with control chars", IA, "agent_id", r -> r.setAgentId(CTRL));
        retryRow("end before start", IA, "start_time", r -> r.setStartTime(minute(0)).setEndTime(minute(-1)));
        retryRow("end after 9999", IA, "end_time", r -> r.setEndTime(AFTER_MAX_TIME));
        retryRow("start in 1970", IA, "start_time", r -> r.setStartTime(YEAR_1970));
        retryRow("unknown agent", NF, unknownAgent, r -> r.setAgentId(unknownAgent));

        // ---- GetOffHoursSpend ----
        offHoursRow("agent_id empty", IA, "agent_id", r -> r.setAgentId(""));
        offHoursRow("agent_id 129 chars", IA, "agent_id", r -> r.setAgentId(S129));
        offHoursRow("end before start", IA, "start_time", r -> r.setStartTime(minute(-10)).setEndTime(minute(-20)));
        offHoursRow("start before 0001", IA, "start_time", r -> r.setStartTime(BEFORE_MIN_TIME));
        offHoursRow("end at 2200", IA, "end_time", r -> r.setEndTime(YEAR_2200));
        offHoursRow("unknown agent", NF, unknownAgent, r -> r.setAgentId(unknownAgent));

        // ---- ListAgentFlows ----
        flowsRow("agent_id 129 chars", "agent_id", r -> r.setAgentId(S129));
        flowsRow("agent_id with control chars", "agent_id", r -> r.setAgentId(CTRL));
        flowsRow("end before start", "start_time", r -> r.setStartTime(minute(0)).setEndTime(minute(-30)));
        flowsRow("401 days", "start_time", r -> r.setStartTime(minute(-401L * 1440)).setEndTime(minute(0)));
        flowsRow("end nanos -1", "end_time", r -> r.setEndTime(minute(0).toBuilder().setNanos(-1)));
        flowsRow("start after 9999, end in 1999", "start_time,end_time", r -> r.setStartTime(AFTER_MAX_TIME).setEndTime(YEAR_1999));

        // ---- GetFleetOverview ----
        fleetRow("page_size -1", "page_size", r -> r.setPageSize(-1));
        fleetRow("page_size 501", "page_size", r -> r.setPageSize(501));
        fleetRow("page_size Integer.MIN_VALUE", "page_size", r -> r.setPageSize(Integer.MIN_VALUE));
        fleetRow("page_token not base64", "page_token", r -> r.setPageToken("not a token!"));
        fleetRow("page_token of another listing", "page_token", r -> r.setPageToken(PageTokens.encode("entries", "5")));
        fleetRow("page_token 2000 chars", "page_token", r -> r.setPageToken("A".repeat(2000)));
        fleetRow("page_token of other filters (sorted by velocity)", "page_token",
                r -> r.setPageToken(PageTokens.encode("fleet", "1|" + defaultFleet)).setSortField(FleetSortField.FLEET_SORT_FIELD_VELOCITY));
        fleetRow("page_token with offset -5", "page_token", r -> r.setPageToken(PageTokens.encode("fleet", "-5|" + defaultFleet)));
        fleetRow("page_token with offset past Integer.MAX_VALUE", "page_token",
                r -> r.setPageToken(PageTokens.encode("fleet", "99999999999|" + defaultFleet)));
        fleetRow("team_id 129 chars", "team_id", r -> r.setTeamId(S129));
        fleetRow("team_id with control chars", "team_id", r -> r.setTeamId(CTRL));
        fleetRow("33 labels", "labels", r -> r.putAllLabels(labels(33)));
        fleetRow("label key uppercase", "labels", r -> r.putLabels("Env", "x"));
        fleetRow("label value with newline", "labels", r -> r.putLabels("env", "a\nb"));
        fleetRow("label value 257 chars", "labels", r -> r.putLabels("env", S257));
        fleetRow("sort_field 99 (unknown enum value)", "sort_field", r -> r.setSortFieldValue(99));
        fleetRow("sort_field -1", "sort_field", r -> r.setSortFieldValue(-1));

        // ---- GetTimeSeries ----
        seriesRow("agent_id empty", IA, "agent_id", a, r -> r.setAgentId(""));
        seriesRow("agent_id with control chars", IA, "agent_id", a, r -> r.setAgentId(CTRL));
        seriesRow("metric unspecified", IA, "metric", a, r -> r.setMetric(SeriesMetric.SERIES_METRIC_UNSPECIFIED));
        seriesRow("metric 99 (unknown enum value)", IA, "metric", a, r -> r.setMetricValue(99));
        seriesRow("step_seconds 7", IA, "step_seconds", a, r -> r.setStepSeconds(7));
        seriesRow("step_seconds -60", IA, "step_seconds", a, r -> r.setStepSeconds(-60));
        seriesRow("step_seconds Integer.MAX_VALUE", IA, "step_seconds", a, r -> r.setStepSeconds(Integer.MAX_VALUE));
        seriesRow("TOOL_SPEND without a tool", IA, "tool", a, r -> r.setMetric(SeriesMetric.SERIES_METRIC_TOOL_SPEND));
        seriesRow("TOOL_SPEND tool 257 chars", IA, "tool", a, r -> r.setMetric(SeriesMetric.SERIES_METRIC_TOOL_SPEND).setTool(S257));
        seriesRow("TOOL_SPEND tool with control chars", IA, "tool", a,
                r -> r.setMetric(SeriesMetric.SERIES_METRIC_TOOL_SPEND).setTool("llm/\u0007bad"));
        seriesRow("end before start", IA, "start_time", a, r -> r.setStartTime(minute(0)).setEndTime(minute(-60)));
        seriesRow("1441 one-minute points", IA, "start_time", a,
                r -> r.setStepSeconds(60).setStartTime(minute(-1441)).setEndTime(minute(0)));
        seriesRow("start not on a minute", IA, "start_time", a,
                r -> r.setStartTime(minute(-60).toBuilder().setNanos(1)).setEndTime(minute(0)));
        seriesRow("end after 9999", IA, "end_time", a, r -> r.setEndTime(AFTER_MAX_TIME));
        seriesRow("start in 1970", IA, "start_time", a, r -> r.setStartTime(YEAR_1970));
        seriesRow("unknown agent", NF, unknownAgent, a, r -> r.setAgentId(unknownAgent));

        // ---- ApplyCapAdvice ----
        applyRow("request_id empty", IA, "request_id", null, r -> r.setRequestId(""));
        applyRow("request_id with space", IA, "request_id", null, r -> r.setRequestId("apply 1"));
        applyRow("request_id 129 chars", IA, "request_id", null, r -> r.setRequestId("r".repeat(129)));
        applyRow("agent_id empty", IA, "agent_id", null, r -> r.setAgentId(""));
        applyRow("agent_id with control chars", IA, "agent_id", null, r -> r.setAgentId(CTRL));
        applyRow("enforcement 99 (unknown enum value)", IA, "enforcement", null, r -> r.setEnforcementValue(99));
        applyRow("unknown agent", NF, unknownAgent, null, r -> r.setAgentId(unknownAgent));
        applyRow("one day of history (7 needed)", FP, "day", "INSUFFICIENT_DATA", r -> { });

        // ---- ImportInvoice ----
        invoiceRow("request_id empty", IA, "request_id", r -> r.setRequestId(""));
        invoiceRow("request_id with control chars", IA, "request_id", r -> r.setRequestId("inv\n1"));
        invoiceRow("vendor empty", IA, "vendor", r -> r.setVendor(""));
        invoiceRow("vendor 257 chars", IA, "vendor", r -> r.setVendor(S257));
        invoiceRow("vendor with ESC", IA, "vendor", r -> r.setVendor("acme \u001b[31m"));
        invoiceRow("currency 'usd'", IA, "currency_code", r -> r.setCurrencyCode("usd"));
        invoiceRow("currency ''", IA, "currency_code", r -> r.setCurrencyCode(""));
        invoiceRow("currency 'XQZ' (not ISO 4217)", IA, "currency_code", r -> r.setCurrencyCode("XQZ"));
        invoiceRow("csv empty", IA, "csv", r -> r.setCsv(""));
        invoiceRow("csv header only", IA, "csv", r -> r.setCsv(HEADER));
        invoiceRow("csv without its header", IA, "csv", r -> r.setCsv("llm/a,2026-01-01,2026-01-31,1.00\n"));
        invoiceRow("csv with another header", IA, "csv", r -> r.setCsv("tool,amount\nllm/a,1.00\n"));
        invoiceRow("line with 5 columns", IA, "csv.line[2]", r -> r.setCsv(HEADER + "llm/a,2026-01-01,2026-01-31,1.00,extra\n"));
        invoiceRow("line with 3 columns", IA, "csv.line[2]", r -> r.setCsv(HEADER + "llm/a,2026-01-01,1.00\n"));
        invoiceRow("tool empty", IA, "csv.line[2].tool", r -> r.setCsv(HEADER + ",2026-01-01,2026-01-31,1.00\n"));
        invoiceRow("tool with BEL", IA, "csv.line[2].tool", r -> r.setCsv(HEADER + "llm/\u0007a,2026-01-01,2026-01-31,1.00\n"));
        invoiceRow("tool 257 chars", IA, "csv.line[2].tool", r -> r.setCsv(HEADER + S257 + ",2026-01-01,2026-01-31,1.00\n"));
        invoiceRow("period not ISO (01/02/2026)", IA, "csv.line[2].period", r -> r.setCsv(HEADER + "llm/a,01/02/2026,2026-01-31,1.00\n"));
        invoiceRow("period 2026-02-30", IA, "csv.line[2].period", r -> r.setCsv(HEADER + "llm/a,2026-02-30,2026-03-31,1.00\n"));
        invoiceRow("period_end before period_start", IA, "csv.line[2].period_end", r -> r.setCsv(HEADER + "llm/a,2026-02-01,2026-01-31,1.00\n"));
        invoiceRow("period in year 10000 (far future)", IA, "csv.line[2].period", r -> r.setCsv(HEADER + "llm/a,+10000-01-01,+10000-01-31,1.00\n"));
        invoiceRow("period in 5000 BC (ancient)", IA, "csv.line[2].period", r -> r.setCsv(HEADER + "llm/a,-5000-01-01,-5000-01-31,1.00\n"));
        invoiceRow("period in year 1", IA, "csv.line[2].period", r -> r.setCsv(HEADER + "llm/a,0001-01-01,0001-01-31,1.00\n"));
        invoiceRow("amount -1.00", IA, "csv.line[2].amount", r -> r.setCsv(HEADER + "llm/a,2026-01-01,2026-01-31,-1.00\n"));
        invoiceRow("amount with 7 decimals", IA, "csv.line[2].amount", r -> r.setCsv(HEADER + "llm/a,2026-01-01,2026-01-31,0.0000001\n"));
        invoiceRow("amount 'abc'", IA, "csv.line[2].amount", r -> r.setCsv(HEADER + "llm/a,2026-01-01,2026-01-31,abc\n"));
        invoiceRow("amount 'NaN'", IA, "csv.line[2].amount", r -> r.setCsv(HEADER + "llm/a,2026-01-01,2026-01-31,NaN\n"));
        invoiceRow("amount 1e30", IA, "csv.line[2].amount", r -> r.setCsv(HEADER + "llm/a,2026-01-01,2026-01-31,1e30\n"));
        invoiceRow("amount one micro above Long.MAX_VALUE", IA, "csv.line[2].amount",
                r -> r.setCsv(HEADER + "llm/a,2026-01-01,2026-01-31,9223372036854.775808\n"));
        invoiceRow("two lines summing past Long.MAX_VALUE", IA, "csv", r -> r.setCsv(HEADER
                + "llm/a,2026-01-01,2026-01-31,9223372036854.775807\nllm/b,2026-01-01,2026-01-31,0.000001\n"));
        invoiceRow("three bad lines, each named", IA, "csv.line[2].amount,csv.line[3].period,csv.line[4].tool",
                r -> r.setCsv(HEADER + "llm/a,2026-01-01,2026-01-31,x\nllm/a,2026-13-01,2026-01-31,1\n,2026-01-01,2026-01-31,1\n"));
        invoiceRow("10,001 lines", IA, "csv", r -> {
            StringBuilder csv = new StringBuilder(HEADER);
            for (int i = 0; i < 10_001; i++) {
                csv.append("t/").append(i).append(",2026-01-01,2026-01-31,0.01\n");
            }
            r.setCsv(csv.toString());
        });
        rows.add(new Row("ImportInvoice", "request_id reused, other content", AE, "request_id", "REQUEST_ID_REUSED",
                () -> an.importInvoice(invoiceRequest.toBuilder().setVendor("other-vendor").build())));

        // ---- GetReconciliation ----
        row("GetReconciliation", "invoice_id 129 chars", IA, "invoice_id",
                () -> an.getReconciliation(GetReconciliationRequest.newBuilder().setInvoiceId(S129).build()));
        row("GetReconciliation", "invoice_id with control chars", IA, "invoice_id",
                () -> an.getReconciliation(GetReconciliationRequest.newBuilder().setInvoiceId(CTRL).build()));
        row("GetReconciliation", "unknown invoice", NF, unknownInvoice,
                () -> an.getReconciliation(GetReconciliationRequest.newBuilder().setInvoiceId(unknownInvoice).build()));

        // ---- run every refused row, digest before and after ----
        var identity = identityAdmin();
        long agentVersion = identity.getAgent(GetAgentRequest.newBuilder().setAgent(a).build()).getAgent().getVersion();
        List<Observed> observed = new ArrayList<>();
        String before = analyticsSchemaFingerprint();
        long refusedStart = System.nanoTime();
        for (Row r : rows) {
            observed.add(check(r));
        }
        long refusedMillis = (System.nanoTime() - refusedStart) / 1_000_000;
        String after = analyticsSchemaFingerprint();
        long agentVersionAfter = identity.getAgent(GetAgentRequest.newBuilder().setAgent(a).build()).getAgent().getVersion();

        // ---- inputs the contract accepts (recorded) ----
        List<Row> accepted = new ArrayList<>();
        // whole UTC days: a window reaching past the minutes' retention must start at a midnight
        Instant tomorrow = Instant.now().truncatedTo(ChronoUnit.DAYS).plus(1, ChronoUnit.DAYS);
        accepted.add(new Row("GetToolAttribution", "exactly 400 whole days", OK, "OK", null,
                () -> an.getToolAttribution(GetToolAttributionRequest.newBuilder()
                        .setStartTime(ts(tomorrow.minus(400, ChronoUnit.DAYS))).setEndTime(ts(tomorrow)).build())
                        .getToolsCount()));
        accepted.add(new Row("GetTimeSeries", "1440 one-minute points", OK, "1440", null,
                () -> an.getTimeSeries(GetTimeSeriesRequest.newBuilder().setAgentId(a).setMetric(SeriesMetric.SERIES_METRIC_SPEND)
                        .setStepSeconds(60).setStartTime(minute(-1440)).setEndTime(minute(0)).build()).getPointsCount()));
        accepted.add(new Row("GetFleetOverview", "page_token at offset Integer.MAX_VALUE: an empty last page", OK, "0 ''", null,
                () -> {
                    GetFleetOverviewResponse page = an.getFleetOverview(GetFleetOverviewRequest.newBuilder().setPageSize(500)
                            .setPageToken(PageTokens.encode("fleet", Integer.MAX_VALUE + "|" + defaultFleet)).build());
                    return page.getAgentsCount() + " '" + page.getNextPageToken() + "'";
                }));
        accepted.add(new Row("ListAgentFlows", "unknown agent_id filter: no flows", OK, "OK 0", null,
                () -> an.listAgentFlows(ListAgentFlowsRequest.newBuilder().setAgentId(unknownAgent).build()).getFlowsCount()));
        accepted.add(new Row("GetReconciliation", "the imported invoice", OK, "OK 1", null,
                () -> an.getReconciliation(GetReconciliationRequest.newBuilder().setInvoiceId(invoice).build()).getLinesCount()));
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
            acceptedTable.append(String.format("%n%-18s %-58s %s", r.rpc(), r.name(), printable(result)));
        }

        print(observed);
        System.out.println("accepted inputs:" + acceptedTable);
        System.out.printf("analytics: %d refused rows in %d ms; whole test %d ms%n", rows.size(), refusedMillis,
                (System.nanoTime() - started) / 1_000_000);
        List<String> failures = new ArrayList<>();
        for (Observed o : observed) {
            if (!o.verdict().equals("ok")) {
                failures.add(o.row().rpc() + " / " + o.row().name() + ": " + o.verdict());
            }
        }
        failures.addAll(acceptedProblems);
        assertEquals(before, after, "refused calls changed analytics' data");
        assertEquals(agentVersion, agentVersionAfter, "refused calls changed the agent's policy in identity");
        if (!failures.isEmpty()) {
            fail(failures.size() + " rows differ from the documented rules:\n" + String.join("\n", failures));
        }
    }

    // ---- row builders: a valid request, changed by one case ----

    private void agentOnlyRow(String rpc, String name, Status.Code code, String mention, String agentId) {
        var an = analyticsAdmin();
        row(rpc, name, code, mention, () -> switch (rpc) {
            case "GetSpendVelocity" -> an.getSpendVelocity(GetSpendVelocityRequest.newBuilder().setAgentId(agentId).build());
            case "GetCapUtilization" -> an.getCapUtilization(GetCapUtilizationRequest.newBuilder().setAgentId(agentId).build());
            default -> an.getCapAdvice(GetCapAdviceRequest.newBuilder().setAgentId(agentId).build());
        });
    }

    private void toolsRow(String name, Status.Code code, String mention, Consumer<GetToolAttributionRequest.Builder> change) {
        row("GetToolAttribution", name, code, mention, () -> {
            GetToolAttributionRequest.Builder r = GetToolAttributionRequest.newBuilder();
            change.accept(r);
            return analyticsAdmin().getToolAttribution(r.build());
        });
    }

    private void retryRow(String name, Status.Code code, String mention, Consumer<GetRetryCostRequest.Builder> change) {
        row("GetRetryCost", name, code, mention, () -> {
            GetRetryCostRequest.Builder r = GetRetryCostRequest.newBuilder();
            change.accept(r);
            return analyticsAdmin().getRetryCost(r.build());
        });
    }

    private void offHoursRow(String name, Status.Code code, String mention, Consumer<GetOffHoursSpendRequest.Builder> change) {
        row("GetOffHoursSpend", name, code, mention, () -> {
            GetOffHoursSpendRequest.Builder r = GetOffHoursSpendRequest.newBuilder().setAgentId("agt_" + "1".repeat(26));
            change.accept(r);
            return analyticsAdmin().getOffHoursSpend(r.build());
        });
    }

    private void flowsRow(String name, String fields, Consumer<ListAgentFlowsRequest.Builder> change) {
        row("ListAgentFlows", name, IA, fields, () -> {
            ListAgentFlowsRequest.Builder r = ListAgentFlowsRequest.newBuilder();
            change.accept(r);
            return analyticsAdmin().listAgentFlows(r.build());
        });
    }

    private void fleetRow(String name, String field, Consumer<GetFleetOverviewRequest.Builder> change) {
        row("GetFleetOverview", name, IA, field, () -> {
            GetFleetOverviewRequest.Builder r = GetFleetOverviewRequest.newBuilder();
            change.accept(r);
            return analyticsAdmin().getFleetOverview(r.build());
        });
    }

    private void seriesRow(String name, Status.Code code, String mention, String agentId,
                           Consumer<GetTimeSeriesRequest.Builder> change) {
        row("GetTimeSeries", name, code, mention, () -> {
            GetTimeSeriesRequest.Builder r = GetTimeSeriesRequest.newBuilder().setAgentId(agentId)
                    .setMetric(SeriesMetric.SERIES_METRIC_SPEND);
            change.accept(r);
            return analyticsAdmin().getTimeSeries(r.build());
        });
    }

    private void applyRow(String name, Status.Code code, String mention, String reason,
                          Consumer<ApplyCapAdviceRequest.Builder> change) {
        rows.add(new Row("ApplyCapAdvice", name, code, mention, reason, () -> {
            ApplyCapAdviceRequest.Builder r = ApplyCapAdviceRequest.newBuilder().setRequestId(rid())
                    .setAgentId(agentIdForAdvice).setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD);
            change.accept(r);
            return analyticsAdmin().applyCapAdvice(r.build());
        }));
    }

    private void invoiceRow(String name, Status.Code code, String mention, Consumer<ImportInvoiceRequest.Builder> change) {
        row("ImportInvoice", name, code, mention, () -> {
            ImportInvoiceRequest.Builder r = ImportInvoiceRequest.newBuilder().setRequestId(rid()).setVendor("bad-vendor")
                    .setCurrencyCode("USD").setCsv(HEADER + "llm/a,2026-01-01,2026-01-31,1.00\n");
            change.accept(r);
            return analyticsAdmin().importInvoice(r.build());
        });
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

    /** Row count and a digest of the rows of every table of analytics' schema but the feed consumers' positions. */
    private static String analyticsSchemaFingerprint() throws Exception {
        StringBuilder out = new StringBuilder();
        try (Connection c = DriverManager.getConnection(AnalyticsTestResource.analyticsJdbcUrl(), "postgres", "");
             Statement st = c.createStatement()) {
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("SELECT table_name FROM information_schema.tables"
                    + " WHERE table_schema = 'analytics' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'flyway%'"
                    // the feed consumers' own bookkeeping (positions, versions) moves with identity's heartbeats
                    + " AND table_name <> 'feed_state'"
                    + " ORDER BY table_name")) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
            assertFalse(tables.isEmpty(), "analytics' schema has tables");
            for (String table : tables) {
                try (ResultSet rs = st.executeQuery("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                        + " FROM analytics.\"" + table + "\" t")) {
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
        StringBuilder t = new StringBuilder(String.format("%-18s %-50s %-19s %-19s %-22s %-44s %s",
                "rpc", "case", "expected", "observed", "reason", "BadRequest fields", "verdict | message"));
        for (Observed o : observed) {
            String msg = printable(o.message().length() > 110 ? o.message().substring(0, 110) + "..." : o.message());
            t.append(String.format("%n%-18s %-50s %-19s %-19s %-22s %-44s %s | %s", o.row().rpc(), o.row().name(),
                    o.row().expected(), o.code(), o.reason(), o.fields(), o.verdict(), msg));
        }
        System.out.println(t);
    }
}
