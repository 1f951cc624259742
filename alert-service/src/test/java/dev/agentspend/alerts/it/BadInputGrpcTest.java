package dev.agentspend.alerts.it;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import dev.agentspend.alerts.support.ApiWrites;
import dev.agentspend.alerts.support.Clients;
import dev.agentspend.alerts.support.Platform;
import dev.agentspend.alerts.support.PlatformTest;
import dev.agentspend.common.api.PageTokens;
import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.proto.alerts.v1.*;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

import static dev.agentspend.alerts.support.Clients.rid;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Bad input to every alert-service RPC that takes input, over a real socket, one row per case, in
 * the manner of the ledger's BadInputGrpcTest: request ids, alert, agent, team, scope and webhook
 * ids missing, over-long or with control characters, unknown alerts, enum values outside the
 * contract, rule configuration (scopes, rules, unknown parameters, thresholds zero, negative,
 * overflowing or out of range), webhook URLs (not absolute, not http(s), no host, bad port,
 * control characters, over-long), formats, notes and descriptions, pages, WatchAlerts resume ids
 * (negative or past the feed's head), reused request ids. The expected status comes from the
 * proto and {@code AlertApi}'s rules: INVALID_ARGUMENT with a google.rpc.BadRequest naming every
 * offending field, NOT_FOUND naming the id, OUT_OF_RANGE and ALREADY_EXISTS with their ErrorInfo
 * reason. Every refusal carries a message without control characters, and all refused rows
 * together change nothing: everything the API writes (rule configurations, webhooks,
 * acknowledgements and their events and deliveries; see {@link ApiWrites}) is digested before and
 * after. Calls use the admin token, so
 * that each refusal is about the input.
 */
@QuarkusTest
@WithTestResource(value = Platform.class, scope = TestResourceScope.MATCHING_RESOURCES)
class BadInputGrpcTest extends PlatformTest {
    private static final Status.Code IA = Status.Code.INVALID_ARGUMENT;
    private static final Status.Code NF = Status.Code.NOT_FOUND;
    private static final Status.Code AE = Status.Code.ALREADY_EXISTS;
    private static final Status.Code OR = Status.Code.OUT_OF_RANGE;
    private static final Status.Code OK = Status.Code.OK;

    private static final String S129 = "x".repeat(129);
    private static final String S257 = "y".repeat(257);
    private static final String CTRL = "bad\u0000id\n";

    record Row(String rpc, String name, Status.Code expected, String mention, String reason, Supplier<Object> call) {
    }

    record Observed(Row row, Status.Code code, String reason, String fields, String message, String verdict) {
    }

    private final List<Row> rows = new ArrayList<>();

    private void row(String rpc, String name, Status.Code expected, String mention, Supplier<Object> call) {
        rows.add(new Row(rpc, name, expected, mention, null, call));
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void badInputIsRefusedWithTheFieldNamedAndNothingWritten() throws Exception {
        long started = System.nanoTime();
        var admin = clients.admin();
        CreateWebhookRequest firstWebhook = CreateWebhookRequest.newBuilder().setRequestId(rid())
                .setUrl("https://hooks.example.test/bad-input").setFormat(WebhookFormat.WEBHOOK_FORMAT_GENERIC)
                .setDescription("bad input test").build();
        String webhookId = admin.createWebhook(firstWebhook).getWebhook().getWebhookId();
        String unknownAlert = "alt_" + "0".repeat(26);
        String agentId = "agt_" + "1".repeat(26);

        // ---- WatchAlerts ----
        watchRow("after_event_id -1", IA, "after_event_id", null, r -> r.setAfterEventId(-1));
        watchRow("after_event_id Long.MIN_VALUE", IA, "after_event_id", null, r -> r.setAfterEventId(Long.MIN_VALUE));
        watchRow("agent_id 129 chars", IA, "agent_id", null, r -> r.setAgentId(S129));
        watchRow("agent_id with control chars", IA, "agent_id", null, r -> r.setAgentId(CTRL));
        watchRow("team_id with control chars", IA, "team_id", null, r -> r.setTeamId(CTRL));
        watchRow("rule 99 (unknown enum value)", IA, "rule", null, r -> r.setRuleValue(99));
        watchRow("min_severity 99 (unknown enum value)", IA, "min_severity", null, r -> r.setMinSeverityValue(99));
        // "a subscriber passes the last event_id it saw": an id past the feed's head was never seen
        watchRow("after_event_id Long.MAX_VALUE (past the head)", OR, "after_event_id", "EVENT_ID_PAST_HEAD",
                r -> r.setAfterEventId(Long.MAX_VALUE));

        // ---- ListAlerts ----
        listRow("page_size -1", "page_size", r -> r.setPageSize(-1));
        listRow("page_size 501", "page_size", r -> r.setPageSize(501));
        listRow("page_size Integer.MIN_VALUE", "page_size", r -> r.setPageSize(Integer.MIN_VALUE));
        listRow("page_token not base64", "page_token", r -> r.setPageToken("not a token!"));
        listRow("page_token of another listing", "page_token", r -> r.setPageToken(PageTokens.encode("webhooks", "whk_x")));
        listRow("page_token 2000 chars", "page_token", r -> r.setPageToken("A".repeat(2000)));
        listRow("page_token without a separator", "page_token", r -> r.setPageToken(PageTokens.encode("alerts", "nothing")));
        listRow("page_token with a time that is not one", "page_token",
                r -> r.setPageToken(PageTokens.encode("alerts", "yesterday|alt_x")));
        listRow("page_token with a NUL in the id", "page_token",
                r -> r.setPageToken(PageTokens.encode("alerts", "2026-01-01T00:00Z|alt_\u0000")));
        listRow("agent_id 129 chars", "agent_id", r -> r.setAgentId(S129));
        listRow("agent_id with control chars", "agent_id", r -> r.setAgentId(CTRL));
        listRow("team_id with control chars", "team_id", r -> r.setTeamId(CTRL));
        listRow("rule 99 (unknown enum value)", "rule", r -> r.setRuleValue(99));
        listRow("state 99 (unknown enum value)", "state", r -> r.setStateValue(99));
        listRow("min_severity 99 (unknown enum value)", "min_severity", r -> r.setMinSeverityValue(99));
        listRow("page_size -1 and rule 99", "page_size,rule", r -> r.setPageSize(-1).setRuleValue(99));

        // ---- GetAlert ----
        row("GetAlert", "alert_id empty", IA, "alert_id", () -> admin.getAlert(GetAlertRequest.getDefaultInstance()));
        row("GetAlert", "alert_id 129 chars", IA, "alert_id", () -> admin.getAlert(GetAlertRequest.newBuilder().setAlertId(S129).build()));
        row("GetAlert", "alert_id with control chars", IA, "alert_id",
                () -> admin.getAlert(GetAlertRequest.newBuilder().setAlertId(CTRL).build()));
        row("GetAlert", "unknown alert", NF, unknownAlert, () -> admin.getAlert(GetAlertRequest.newBuilder().setAlertId(unknownAlert).build()));

        // ---- AcknowledgeAlert ----
        ackRow("request_id empty", IA, "request_id", r -> r.setRequestId(""));
        ackRow("request_id with space", IA, "request_id", r -> r.setRequestId("ack 1"));
        ackRow("request_id 129 chars", IA, "request_id", r -> r.setRequestId("r".repeat(129)));
        ackRow("alert_id empty", IA, "alert_id", r -> r.setAlertId(""));
        ackRow("alert_id with control chars", IA, "alert_id", r -> r.setAlertId(CTRL));
        ackRow("note 257 chars", IA, "note", r -> r.setNote(S257));
        ackRow("note with ESC", IA, "note", r -> r.setNote("mine \u001b[31m"));
        ackRow("unknown alert", NF, unknownAlert, r -> r.setAlertId(unknownAlert));

        // ---- SetRuleConfig ----
        configRow("request_id empty", "request_id", r -> r.setRequestId(""));
        configRow("request_id with control chars", "request_id", r -> r.setRequestId("set\n1"));
        configRow("no config at all", "config.scope,config.rule", SetRuleConfigRequest.Builder::clearConfig);
        configRow("scope unspecified", "config.scope", r -> r.getConfigBuilder().setScope(ConfigScope.CONFIG_SCOPE_UNSPECIFIED));
        configRow("scope 99 (unknown enum value)", "config.scope", r -> r.getConfigBuilder().setScopeValue(99));
        configRow("FLEET with a scope_id", "config.scope_id",
                r -> r.getConfigBuilder().setScope(ConfigScope.CONFIG_SCOPE_FLEET).setScopeId(agentId));
        configRow("TEAM without a scope_id", "config.scope_id",
                r -> r.getConfigBuilder().setScope(ConfigScope.CONFIG_SCOPE_TEAM).setScopeId(""));
        configRow("AGENT scope_id 129 chars", "config.scope_id", r -> r.getConfigBuilder().setScopeId(S129));
        configRow("AGENT scope_id with control chars", "config.scope_id", r -> r.getConfigBuilder().setScopeId(CTRL));
        configRow("rule unspecified", "config.rule", r -> r.getConfigBuilder().setRule(Rule.RULE_UNSPECIFIED));
        configRow("rule 99 (unknown enum value)", "config.rule", r -> r.getConfigBuilder().setRuleValue(99));
        configRow("action 99 (unknown enum value)", "config.action", r -> r.getConfigBuilder().setActionValue(99));
        configRow("severity 99 (unknown enum value)", "config.severity", r -> r.getConfigBuilder().setSeverityValue(99));
        configRow("parameter of another rule (share_permille)", "config.parameters[share_permille]",
                r -> r.getConfigBuilder().putParameters("share_permille", 500));
        configRow("parameter name with control chars", "config.parameters[wi?ndow?]",
                r -> r.getConfigBuilder().putParameters("wi\u0000ndow\n", 5));
        configRow("parameter name 1000 chars", "config.parameters",
                r -> r.getConfigBuilder().putParameters("p".repeat(1000), 5));
        configRow("window_seconds 0", "config.parameters[window_seconds]", r -> r.getConfigBuilder().putParameters("window_seconds", 0));
        configRow("window_seconds -1", "config.parameters[window_seconds]", r -> r.getConfigBuilder().putParameters("window_seconds", -1));
        configRow("window_seconds 8 days + 1 s", "config.parameters[window_seconds]",
                r -> r.getConfigBuilder().putParameters("window_seconds", 8 * 86_400L + 1));
        configRow("window_seconds Long.MAX_VALUE", "config.parameters[window_seconds]",
                r -> r.getConfigBuilder().putParameters("window_seconds", Long.MAX_VALUE));
        configRow("share_permille 0", "config.parameters[share_permille]",
                r -> r.getConfigBuilder().setRule(Rule.RULE_TOOL_CONCENTRATION).putParameters("share_permille", 0));
        configRow("share_permille 1000001", "config.parameters[share_permille]",
                r -> r.getConfigBuilder().setRule(Rule.RULE_TOOL_CONCENTRATION).putParameters("share_permille", 1_000_001));
        configRow("increase_permille Long.MIN_VALUE", "config.parameters[increase_permille]",
                r -> r.getConfigBuilder().setRule(Rule.RULE_COST_PER_TASK_INCREASE).putParameters("increase_permille", Long.MIN_VALUE));
        configRow("multiplier_permille Long.MAX_VALUE", "config.parameters[multiplier_permille]",
                r -> r.getConfigBuilder().setRule(Rule.RULE_TOOL_SPEND_SPIKE).putParameters("multiplier_permille", Long.MAX_VALUE));
        configRow("regular_days 0", "config.parameters[regular_days]",
                r -> r.getConfigBuilder().setRule(Rule.RULE_CAP_UTILIZATION).putParameters("regular_days", 0));
        configRow("lookback_days 8", "config.parameters[lookback_days]",
                r -> r.getConfigBuilder().setRule(Rule.RULE_CAP_UTILIZATION).putParameters("lookback_days", 8));
        configRow("max_length 1", "config.parameters[max_length]",
                r -> r.getConfigBuilder().setRule(Rule.RULE_PAYMENT_LOOP).putParameters("max_length", 1));
        configRow("max_length 65", "config.parameters[max_length]",
                r -> r.getConfigBuilder().setRule(Rule.RULE_PAYMENT_LOOP).putParameters("max_length", 65));
        configRow("min_declines -1", "config.parameters[min_declines]",
                r -> r.getConfigBuilder().putParameters("min_declines", -1));
        configRow("min_spend_micros Long.MIN_VALUE", "config.parameters[min_spend_micros]",
                r -> r.getConfigBuilder().setRule(Rule.RULE_SPEND_VELOCITY).putParameters("min_spend_micros", Long.MIN_VALUE));
        configRow("three bad parameters at once",
                "config.parameters[window_seconds],config.parameters[baseline_window_seconds],config.parameters[min_payments]",
                r -> r.getConfigBuilder().setRule(Rule.RULE_TOOL_SPEND_SPIKE).putParameters("window_seconds", 0)
                        .putParameters("baseline_window_seconds", -5).putParameters("min_payments", -1));

        // ---- DeleteRuleConfig ----
        deleteConfigRow("request_id empty", "request_id", r -> r.setRequestId(""));
        deleteConfigRow("scope unspecified", "scope", r -> r.setScope(ConfigScope.CONFIG_SCOPE_UNSPECIFIED));
        deleteConfigRow("FLEET with a scope_id", "scope_id", r -> r.setScope(ConfigScope.CONFIG_SCOPE_FLEET));
        deleteConfigRow("AGENT without a scope_id", "scope_id", r -> r.setScopeId(""));
        deleteConfigRow("scope_id with control chars", "scope_id", r -> r.setScopeId(CTRL));
        deleteConfigRow("rule unspecified", "rule", r -> r.setRule(Rule.RULE_UNSPECIFIED));
        deleteConfigRow("rule 99 (unknown enum value)", "rule", r -> r.setRuleValue(99));

        // ---- ListRuleConfigs ----
        row("ListRuleConfigs", "page_size -1", IA, "page_size",
                () -> admin.listRuleConfigs(ListRuleConfigsRequest.newBuilder().setPageSize(-1).build()));
        row("ListRuleConfigs", "page_size 501", IA, "page_size",
                () -> admin.listRuleConfigs(ListRuleConfigsRequest.newBuilder().setPageSize(501).build()));
        row("ListRuleConfigs", "page_token not base64", IA, "page_token",
                () -> admin.listRuleConfigs(ListRuleConfigsRequest.newBuilder().setPageToken("%%").build()));
        row("ListRuleConfigs", "page_token of another listing", IA, "page_token",
                () -> admin.listRuleConfigs(ListRuleConfigsRequest.newBuilder().setPageToken(PageTokens.encode("alerts", "x|y")).build()));
        row("ListRuleConfigs", "page_token with a NUL in its cursor", IA, "page_token",
                () -> admin.listRuleConfigs(ListRuleConfigsRequest.newBuilder().setPageToken(PageTokens.encode("rule-configs", "\u0000")).build()));
        row("ListWebhooks", "page_token with a NUL in its cursor", IA, "page_token",
                () -> admin.listWebhooks(dev.agentspend.proto.alerts.v1.ListWebhooksRequest.newBuilder()
                        .setPageToken(PageTokens.encode("webhooks", "whk_\u0000")).build()));
        row("ListRuleConfigs", "scope 99 (unknown enum value)", IA, "scope",
                () -> admin.listRuleConfigs(ListRuleConfigsRequest.newBuilder().setScopeValue(99).build()));
        row("ListRuleConfigs", "scope_id 129 chars", IA, "scope_id",
                () -> admin.listRuleConfigs(ListRuleConfigsRequest.newBuilder().setScopeId(S129).build()));
        row("ListRuleConfigs", "scope_id with control chars", IA, "scope_id",
                () -> admin.listRuleConfigs(ListRuleConfigsRequest.newBuilder().setScopeId(CTRL).build()));

        // ---- GetEffectiveRuleConfig ----
        effectiveRow("agent_id empty", "agent_id", r -> r.setAgentId(""));
        effectiveRow("agent_id 129 chars", "agent_id", r -> r.setAgentId(S129));
        effectiveRow("agent_id with control chars", "agent_id", r -> r.setAgentId(CTRL));
        effectiveRow("team_id with control chars", "team_id", r -> r.setTeamId(CTRL));
        effectiveRow("rule unspecified", "rule", r -> r.setRule(Rule.RULE_UNSPECIFIED));
        effectiveRow("rule 99 (unknown enum value)", "rule", r -> r.setRuleValue(99));

        // ---- CreateWebhook ----
        webhookRow("request_id empty", "request_id", r -> r.setRequestId(""));
        webhookRow("url empty", "url", r -> r.setUrl(""));
        webhookRow("url 'not a url'", "url", r -> r.setUrl("not a url"));
        webhookRow("url relative (/hooks/alerts)", "url", r -> r.setUrl("/hooks/alerts"));
        webhookRow("url ftp://", "url", r -> r.setUrl("ftp://hooks.example.test/alerts"));
        webhookRow("url javascript:", "url", r -> r.setUrl("javascript:alert(1)"));
        webhookRow("url file:///etc/passwd", "url", r -> r.setUrl("file:///etc/passwd"));
        webhookRow("url without a host (https:///alerts)", "url", r -> r.setUrl("https:///alerts"));
        webhookRow("url 'http://'", "url", r -> r.setUrl("http://"));
        webhookRow("url with a space in the host", "url", r -> r.setUrl("https://hooks example.test/"));
        webhookRow("url with a newline", "url", r -> r.setUrl("https://hooks.example.test/\nX-Injected: 1"));
        webhookRow("url with NUL", "url", r -> r.setUrl("https://hooks.example.test/\u0000"));
        webhookRow("url with port 99999", "url", r -> r.setUrl("https://hooks.example.test:99999/alerts"));
        webhookRow("url with port 0", "url", r -> r.setUrl("https://hooks.example.test:0/alerts"));
        webhookRow("url 2049 chars", "url", r -> r.setUrl("https://hooks.example.test/" + "p".repeat(2049 - 27)));
        webhookRow("format unspecified", "format", r -> r.setFormat(WebhookFormat.WEBHOOK_FORMAT_UNSPECIFIED));
        webhookRow("format 99 (unknown enum value)", "format", r -> r.setFormatValue(99));
        webhookRow("description 257 chars", "description", r -> r.setDescription(S257));
        webhookRow("description with ESC", "description", r -> r.setDescription("ops \u001b[31m"));
        webhookRow("url, format and description at once", "url,format,description",
                r -> r.setUrl("ftp://x").setFormatValue(0).setDescription(S257));
        rows.add(new Row("CreateWebhook", "request_id reused, another url", AE, "request_id", "REQUEST_ID_REUSED",
                () -> admin.createWebhook(firstWebhook.toBuilder().setUrl("https://elsewhere.example.test/").build())));

        // ---- ListWebhooks ----
        row("ListWebhooks", "page_size -1", IA, "page_size", () -> admin.listWebhooks(ListWebhooksRequest.newBuilder().setPageSize(-1).build()));
        row("ListWebhooks", "page_size 501", IA, "page_size", () -> admin.listWebhooks(ListWebhooksRequest.newBuilder().setPageSize(501).build()));
        row("ListWebhooks", "page_token not base64", IA, "page_token",
                () -> admin.listWebhooks(ListWebhooksRequest.newBuilder().setPageToken("not a token!").build()));
        row("ListWebhooks", "page_token of another listing", IA, "page_token",
                () -> admin.listWebhooks(ListWebhooksRequest.newBuilder().setPageToken(PageTokens.encode("rule-configs", "x")).build()));

        // ---- DeleteWebhook ----
        row("DeleteWebhook", "request_id empty", IA, "request_id",
                () -> admin.deleteWebhook(DeleteWebhookRequest.newBuilder().setWebhookId(webhookId).build()));
        row("DeleteWebhook", "webhook_id empty", IA, "webhook_id",
                () -> admin.deleteWebhook(DeleteWebhookRequest.newBuilder().setRequestId(rid()).build()));
        row("DeleteWebhook", "webhook_id 129 chars", IA, "webhook_id",
                () -> admin.deleteWebhook(DeleteWebhookRequest.newBuilder().setRequestId(rid()).setWebhookId(S129).build()));
        row("DeleteWebhook", "webhook_id with control chars", IA, "webhook_id",
                () -> admin.deleteWebhook(DeleteWebhookRequest.newBuilder().setRequestId(rid()).setWebhookId(CTRL).build()));

        // ---- run every refused row, digest before and after ----
        List<Observed> observed = new ArrayList<>();
        String before = ApiWrites.fingerprint();
        long refusedStart = System.nanoTime();
        for (Row r : rows) {
            observed.add(check(r));
        }
        long refusedMillis = (System.nanoTime() - refusedStart) / 1_000_000;
        String after = ApiWrites.fingerprint();

        // ---- inputs the contract accepts (recorded; run after the digest) ----
        List<Row> accepted = new ArrayList<>();
        accepted.add(new Row("DeleteWebhook", "unknown webhook: deleted=false", OK, "false", null,
                () -> admin.deleteWebhook(DeleteWebhookRequest.newBuilder().setRequestId(rid())
                        .setWebhookId("whk_" + "0".repeat(26)).build()).getDeleted()));
        accepted.add(new Row("DeleteRuleConfig", "nothing stored at that scope: deleted=false", OK, "false", null,
                () -> admin.deleteRuleConfig(DeleteRuleConfigRequest.newBuilder().setRequestId(rid())
                        .setScope(ConfigScope.CONFIG_SCOPE_AGENT).setScopeId(agentId).setRule(Rule.RULE_DECLINE_BURST).build()).getDeleted()));
        accepted.add(new Row("CreateWebhook", "the same request again: a replay without the secret", OK, webhookId + " ''", null,
                () -> {
                    CreateWebhookResponse replay = admin.createWebhook(firstWebhook);
                    return replay.getWebhook().getWebhookId() + " '" + replay.getSigningSecret() + "'";
                }));
        accepted.add(new Row("SetRuleConfig", "min_spend_micros Long.MAX_VALUE (the rule never fires)", OK,
                Long.toString(Long.MAX_VALUE), null, () -> admin.setRuleConfig(SetRuleConfigRequest.newBuilder().setRequestId(rid())
                        .setConfig(RuleConfig.newBuilder().setScope(ConfigScope.CONFIG_SCOPE_AGENT).setScopeId(agentId)
                                .setRule(Rule.RULE_SPEND_VELOCITY).putParameters("min_spend_micros", Long.MAX_VALUE)).build())
                .getConfig().getParametersMap().get("min_spend_micros")));
        // a token the service never issued, with a time PostgreSQL can hold but no alert has: a page, not an error
        accepted.add(new Row("ListAlerts", "page_token in the year 300000 (never issued): from the newest", OK, "OK", null,
                () -> admin.listAlerts(ListAlertsRequest.newBuilder().setPageToken(
                        PageTokens.encode("alerts", "+300000-01-01T00:00Z|alt_x")).build()).getAlertsCount()));
        accepted.add(new Row("ListAlerts", "page_token in 5000 BC (never issued): nothing older", OK, "OK 0", null,
                () -> admin.listAlerts(ListAlertsRequest.newBuilder().setPageToken(
                        PageTokens.encode("alerts", "-5000-01-01T00:00Z|alt_x")).build()).getAlertsCount()));
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
            acceptedTable.append(String.format("%n%-16s %-58s %s", r.rpc(), r.name(), printable(result)));
        }
        admin.deleteWebhook(DeleteWebhookRequest.newBuilder().setRequestId(rid()).setWebhookId(webhookId).build());
        admin.deleteRuleConfig(DeleteRuleConfigRequest.newBuilder().setRequestId(rid()).setScope(ConfigScope.CONFIG_SCOPE_AGENT)
                .setScopeId(agentId).setRule(Rule.RULE_SPEND_VELOCITY).build());

        print(observed);
        System.out.println("accepted inputs:" + acceptedTable);
        System.out.printf("alerts: %d refused rows in %d ms; whole test %d ms%n", rows.size(), refusedMillis,
                (System.nanoTime() - started) / 1_000_000);
        List<String> failures = new ArrayList<>();
        for (Observed o : observed) {
            if (!o.verdict().equals("ok")) {
                failures.add(o.row().rpc() + " / " + o.row().name() + ": " + o.verdict());
            }
        }
        failures.addAll(acceptedProblems);
        assertEquals(before, after, "refused calls changed the alert service's data");
        if (!failures.isEmpty()) {
            fail(failures.size() + " rows differ from the documented rules:\n" + String.join("\n", failures));
        }
    }

    // ---- row builders: a valid request, changed by one case ----

    private void watchRow(String name, Status.Code code, String mention, String reason, Consumer<WatchAlertsRequest.Builder> change) {
        rows.add(new Row("WatchAlerts", name, code, mention, reason, () -> {
            WatchAlertsRequest.Builder r = WatchAlertsRequest.newBuilder();
            change.accept(r);
            return firstEvent(r.build());
        }));
    }

    private void listRow(String name, String fields, Consumer<ListAlertsRequest.Builder> change) {
        row("ListAlerts", name, IA, fields, () -> {
            ListAlertsRequest.Builder r = ListAlertsRequest.newBuilder();
            change.accept(r);
            return clients.admin().listAlerts(r.build());
        });
    }

    private void ackRow(String name, Status.Code code, String mention, Consumer<AcknowledgeAlertRequest.Builder> change) {
        row("AcknowledgeAlert", name, code, mention, () -> {
            AcknowledgeAlertRequest.Builder r = AcknowledgeAlertRequest.newBuilder().setRequestId(rid())
                    .setAlertId("alt_" + "0".repeat(26)).setNote("looking");
            change.accept(r);
            return clients.admin().acknowledgeAlert(r.build());
        });
    }

    private void configRow(String name, String fields, Consumer<SetRuleConfigRequest.Builder> change) {
        row("SetRuleConfig", name, IA, fields, () -> {
            SetRuleConfigRequest.Builder r = SetRuleConfigRequest.newBuilder().setRequestId(rid())
                    .setConfig(RuleConfig.newBuilder().setScope(ConfigScope.CONFIG_SCOPE_AGENT).setScopeId("agt_" + "1".repeat(26))
                            .setRule(Rule.RULE_DECLINE_BURST).setSeverity(Severity.SEVERITY_CRITICAL));
            change.accept(r);
            return clients.admin().setRuleConfig(r.build());
        });
    }

    private void deleteConfigRow(String name, String field, Consumer<DeleteRuleConfigRequest.Builder> change) {
        row("DeleteRuleConfig", name, IA, field, () -> {
            DeleteRuleConfigRequest.Builder r = DeleteRuleConfigRequest.newBuilder().setRequestId(rid())
                    .setScope(ConfigScope.CONFIG_SCOPE_AGENT).setScopeId("agt_" + "1".repeat(26)).setRule(Rule.RULE_DECLINE_BURST);
            change.accept(r);
            return clients.admin().deleteRuleConfig(r.build());
        });
    }

    private void effectiveRow(String name, String field, Consumer<GetEffectiveRuleConfigRequest.Builder> change) {
        row("GetEffectiveRuleConfig", name, IA, field, () -> {
            GetEffectiveRuleConfigRequest.Builder r = GetEffectiveRuleConfigRequest.newBuilder()
                    .setAgentId("agt_" + "1".repeat(26)).setRule(Rule.RULE_RETRY_RATE);
            change.accept(r);
            return clients.admin().getEffectiveRuleConfig(r.build());
        });
    }

    private void webhookRow(String name, String fields, Consumer<CreateWebhookRequest.Builder> change) {
        row("CreateWebhook", name, IA, fields, () -> {
            CreateWebhookRequest.Builder r = CreateWebhookRequest.newBuilder().setRequestId(rid())
                    .setUrl("https://hooks.example.test/alerts").setFormat(WebhookFormat.WEBHOOK_FORMAT_SLACK).setDescription("ops");
            change.accept(r);
            return clients.admin().createWebhook(r.build());
        });
    }

    /** The first event of WatchAlerts, the call bounded to 5 s (a refusal comes at once). */
    private static Object firstEvent(WatchAlertsRequest request) {
        Context.CancellableContext context = Context.current().withCancellation();
        Context previous = context.attach();
        try {
            return Clients.as(AlertServiceGrpc.newBlockingStub(clients.alertsChannel), Platform.ADMIN)
                    .withDeadlineAfter(5, TimeUnit.SECONDS).watchAlerts(request).next();
        } finally {
            context.detach(previous);
            context.cancel(null);
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
        if (message.length() > 1024) {
            problems.add("a message of " + message.length() + " characters");
        }
        if (code == IA) {
            for (String f : r.mention().split(",")) {
                if (fields.stream().noneMatch(named -> named.equals(f) || named.startsWith(f + "["))) {
                    problems.add("BadRequest does not name " + f + " (names " + fields + ")");
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

    /** Control characters shown as '?', so that an echoed one does not garble the build log. */
    private static String printable(String s) {
        StringBuilder out = new StringBuilder(s.length());
        s.chars().forEach(c -> out.append(Character.isISOControl(c) ? '?' : (char) c));
        return out.toString();
    }

    private static void print(List<Observed> observed) {
        StringBuilder t = new StringBuilder(String.format("%-22s %-48s %-19s %-19s %-22s %-44s %s",
                "rpc", "case", "expected", "observed", "reason", "BadRequest fields", "verdict | message"));
        for (Observed o : observed) {
            String msg = printable(o.message().length() > 110 ? o.message().substring(0, 110) + "..." : o.message());
            String fields = o.fields().length() > 44 ? o.fields().substring(0, 41) + "..." : o.fields();
            t.append(String.format("%n%-22s %-48s %-19s %-19s %-22s %-44s %s | %s", o.row().rpc(), o.row().name(),
                    o.row().expected(), o.code(), o.reason(), printable(fields), o.verdict(), msg));
        }
        System.out.println(t);
    }
}
