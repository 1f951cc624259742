package dev.agentspend.alerts.grpc;

import dev.agentspend.alerts.config.AlertsConfig;
import dev.agentspend.alerts.domain.Access;
import dev.agentspend.alerts.domain.RuleConfigSet;
import dev.agentspend.alerts.domain.RuleOverride;
import dev.agentspend.alerts.domain.RuleSettings;
import dev.agentspend.alerts.domain.RuleType;
import dev.agentspend.alerts.domain.SecretBox;
import dev.agentspend.alerts.store.AlertRecords;
import dev.agentspend.alerts.store.AlertStore;
import dev.agentspend.alerts.store.RuleConfigStore;
import dev.agentspend.alerts.store.WebhookStore;
import dev.agentspend.common.api.Fields;
import dev.agentspend.common.api.Ids;
import dev.agentspend.common.api.PageTokens;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.common.error.Violations;
import dev.agentspend.proto.alerts.v1.*;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The alert API, independent of transport: gRPC and REST call it with the caller's credential.
 * Access first, then the request on its own, then the store.
 */
@ApplicationScoped
public class AlertApi {
    private static final String ALERTS_PAGE = "alerts";
    private static final String CONFIGS_PAGE = "rule-configs";
    private static final String WEBHOOKS_PAGE = "webhooks";
    private static final SecureRandom RANDOM = new SecureRandom();

    @Inject
    AlertStore alerts;
    @Inject
    RuleConfigStore configs;
    @Inject
    WebhookStore webhooks;
    @Inject
    AlertFeed feed;
    @Inject
    AlertsConfig config;

    private SecretBox secretBox;

    @PostConstruct
    void init() {
        secretBox = new SecretBox(Base64.getDecoder().decode(config.webhooks().secretKey()));
    }

    public SecretBox secretBox() {
        return secretBox;
    }

    public Multi<WatchAlertsResponse> watchAlerts(Access.Credential c, WatchAlertsRequest r) {
        return Uni.createFrom().deferred(() -> {
            Access.check(c, Access.Operation.READ);
            Violations v = new Violations();
            v.check(r.getAfterEventId() >= 0, "after_event_id", "must be 0 or an event id from the feed");
            optionalId(r.getAgentId(), "agent_id", v);
            optionalId(r.getTeamId(), "team_id", v);
            v.check(r.getRule() != Rule.UNRECOGNIZED, "rule", "is not a known rule");
            v.check(r.getMinSeverity() != Severity.UNRECOGNIZED, "min_severity", "is not a known severity");
            v.throwIfAny();
            AlertStore.Filter filter = new AlertStore.Filter(r.getAgentId(), r.getTeamId(), r.getRule(),
                    r.getMinSeverity(), AlertState.ALERT_STATE_UNSPECIFIED);
            // an id past the newest event was never handed out: a subscriber with a corrupt
            // checkpoint would otherwise wait silently for events that may not come for days
            return alerts.lastEventId().map(head -> {
                if (r.getAfterEventId() > head) {
                    throw ApiException.of(ErrorCode.OUT_OF_RANGE, "EVENT_ID_PAST_HEAD", "after_event_id "
                            + r.getAfterEventId() + " is past the newest event (" + head
                            + "); resume from 0 or from an event_id this feed delivered");
                }
                return filter;
            });
        }).onItem().transformToMulti(f -> feed.watch(r.getAfterEventId(), f))
                .map(e -> WatchAlertsResponse.newBuilder().setEvent(e).build());
    }

    public Uni<ListAlertsResponse> listAlerts(Access.Credential c, ListAlertsRequest r) {
        return run(c, Access.Operation.READ, () -> {
            Violations v = new Violations();
            int size = pageSize(r.getPageSize(), v);
            Optional<String> cursor = cursor(ALERTS_PAGE, r.getPageToken(), v);
            optionalId(r.getAgentId(), "agent_id", v);
            optionalId(r.getTeamId(), "team_id", v);
            v.check(r.getRule() != Rule.UNRECOGNIZED, "rule", "is not a known rule");
            v.check(r.getState() != AlertState.UNRECOGNIZED, "state", "is not a known state");
            v.check(r.getMinSeverity() != Severity.UNRECOGNIZED, "min_severity", "is not a known severity");
            OffsetDateTime afterTime = null;
            String afterId = "";
            if (cursor.isPresent()) {
                int bar = cursor.get().indexOf('|');
                try {
                    afterTime = OffsetDateTime.parse(cursor.get().substring(0, bar));
                    afterId = cursor.get().substring(bar + 1);
                } catch (RuntimeException e) {
                    v.add("page_token", "is not a token of this listing");
                }
                // the id goes to PostgreSQL as text, which cannot hold NUL: a forged one is bad input
                if (!Fields.isText(afterId, Fields.MAX_ID_LENGTH)) {
                    v.add("page_token", "is not a token of this listing");
                }
            }
            v.throwIfAny();
            AlertStore.Filter f = new AlertStore.Filter(r.getAgentId(), r.getTeamId(), r.getRule(), r.getMinSeverity(), r.getState());
            return alerts.list(f, afterTime, afterId, size + 1).map(found -> {
                boolean more = found.size() > size;
                List<Alert> shown = more ? found.subList(0, size) : found;
                ListAlertsResponse.Builder b = ListAlertsResponse.newBuilder().addAllAlerts(shown);
                if (more) {
                    Alert last = shown.get(shown.size() - 1);
                    b.setNextPageToken(PageTokens.encode(ALERTS_PAGE, AlertRecords.odt(AlertRecords.instant(last.getFirstSeenTime()))
                            + "|" + last.getAlertId()));
                }
                return b.build();
            });
        });
    }

    public Uni<GetAlertResponse> getAlert(Access.Credential c, GetAlertRequest r) {
        return run(c, Access.Operation.READ, () -> {
            Violations v = new Violations();
            requiredId(r.getAlertId(), "alert_id", v);
            v.throwIfAny();
            return alerts.get(r.getAlertId()).map(a -> GetAlertResponse.newBuilder().setAlert(a).build());
        });
    }

    public Uni<AcknowledgeAlertResponse> acknowledgeAlert(Access.Credential c, AcknowledgeAlertRequest r) {
        return run(c, Access.Operation.ADMIN, () -> {
            Violations v = new Violations();
            requestId(r.getRequestId(), v);
            requiredId(r.getAlertId(), "alert_id", v);
            v.check(Fields.isText(r.getNote(), Fields.MAX_TEXT_LENGTH), "note", "must be at most 256 characters without control characters");
            v.throwIfAny();
            return alerts.acknowledge(r.getAlertId(), r.getNote(), Instant.now())
                    .map(a -> AcknowledgeAlertResponse.newBuilder().setAlert(a).build());
        });
    }

    public Uni<SetRuleConfigResponse> setRuleConfig(Access.Credential c, SetRuleConfigRequest r) {
        return run(c, Access.Operation.ADMIN, () -> {
            Violations v = new Violations();
            requestId(r.getRequestId(), v);
            RuleConfig rc = r.getConfig();
            RuleConfigSet.Key key = key(rc.getScope(), rc.getScopeId(), rc.getRule(), "config.", v);
            v.check(rc.getAction() != RuleAction.UNRECOGNIZED, "config.action", "is not a known action");
            v.check(rc.getSeverity() != Severity.UNRECOGNIZED, "config.severity", "is not a known severity");
            if (key != null) {
                RuleConfigSet.validate(key.rule(), rc.getParametersMap(), "config.parameters", v);
            }
            v.throwIfAny();
            RuleOverride o = new RuleOverride(rc.hasEnabled() ? rc.getEnabled() : null,
                    rc.getAction() == RuleAction.RULE_ACTION_UNSPECIFIED ? null : AlertRecords.actionType(rc.getAction()),
                    rc.getSeverity() == Severity.SEVERITY_UNSPECIFIED ? null : AlertRecords.level(rc.getSeverity()),
                    rc.getParametersMap());
            return configs.put(key, o, Instant.now())
                    .map(s -> SetRuleConfigResponse.newBuilder().setConfig(toProto(s)).build());
        });
    }

    public Uni<DeleteRuleConfigResponse> deleteRuleConfig(Access.Credential c, DeleteRuleConfigRequest r) {
        return run(c, Access.Operation.ADMIN, () -> {
            Violations v = new Violations();
            requestId(r.getRequestId(), v);
            RuleConfigSet.Key key = key(r.getScope(), r.getScopeId(), r.getRule(), "", v);
            v.throwIfAny();
            return configs.delete(key).map(d -> DeleteRuleConfigResponse.newBuilder().setDeleted(d).build());
        });
    }

    public Uni<ListRuleConfigsResponse> listRuleConfigs(Access.Credential c, ListRuleConfigsRequest r) {
        return run(c, Access.Operation.READ, () -> {
            Violations v = new Violations();
            int size = pageSize(r.getPageSize(), v);
            Optional<String> cursor = cursor(CONFIGS_PAGE, r.getPageToken(), v);
            v.check(r.getScope() != ConfigScope.UNRECOGNIZED, "scope", "is not a known scope");
            optionalId(r.getScopeId(), "scope_id", v);
            v.throwIfAny();
            String scope = r.getScope() == ConfigScope.CONFIG_SCOPE_UNSPECIFIED ? ""
                    : r.getScope().name().substring("CONFIG_SCOPE_".length());
            return configs.list(scope, r.getScopeId(), cursor.orElse(""), size + 1).map(found -> {
                boolean more = found.size() > size;
                var shown = more ? found.subList(0, size) : found;
                ListRuleConfigsResponse.Builder b = ListRuleConfigsResponse.newBuilder();
                shown.forEach(s -> b.addConfigs(toProto(s)));
                if (more) {
                    RuleConfigSet.Key k = shown.get(shown.size() - 1).key();
                    b.setNextPageToken(PageTokens.encode(CONFIGS_PAGE, k.scope() + "|" + k.scopeId() + "|" + k.rule()));
                }
                return b.build();
            });
        });
    }

    public Uni<GetEffectiveRuleConfigResponse> getEffectiveRuleConfig(Access.Credential c, GetEffectiveRuleConfigRequest r) {
        return run(c, Access.Operation.READ, () -> {
            Violations v = new Violations();
            requiredId(r.getAgentId(), "agent_id", v);
            optionalId(r.getTeamId(), "team_id", v);
            v.check(r.getRule() != Rule.RULE_UNSPECIFIED && r.getRule() != Rule.UNRECOGNIZED, "rule", "is required");
            v.throwIfAny();
            RuleType rule = AlertRecords.ruleType(r.getRule());
            return configs.all().map(set -> {
                RuleSettings s = set.effective(r.getAgentId(), r.getTeamId(), rule);
                return GetEffectiveRuleConfigResponse.newBuilder().setConfig(RuleConfig.newBuilder()
                        .setScope(ConfigScope.CONFIG_SCOPE_AGENT).setScopeId(r.getAgentId()).setRule(r.getRule())
                        .setEnabled(s.enabled()).setAction(AlertRecords.action(s.action()))
                        .setSeverity(AlertRecords.severity(s.severity())).putAllParameters(s.params())).build();
            });
        });
    }

    public Uni<CreateWebhookResponse> createWebhook(Access.Credential c, CreateWebhookRequest r) {
        return run(c, Access.Operation.ADMIN, () -> {
            Violations v = new Violations();
            requestId(r.getRequestId(), v);
            v.check(validUrl(r.getUrl()), "url",
                    "must be an absolute http or https URL with a host (and a port 1..65535, if any) of at most 2048 characters");
            v.check(r.getFormat() == WebhookFormat.WEBHOOK_FORMAT_GENERIC || r.getFormat() == WebhookFormat.WEBHOOK_FORMAT_SLACK,
                    "format", "must be WEBHOOK_FORMAT_GENERIC or WEBHOOK_FORMAT_SLACK");
            v.check(Fields.isText(r.getDescription(), Fields.MAX_TEXT_LENGTH), "description",
                    "must be at most 256 characters without control characters");
            v.throwIfAny();
            String webhookId = Ids.newId("whk");
            byte[] secretBytes = new byte[32];
            RANDOM.nextBytes(secretBytes);
            String secret = "whsec_" + Base64.getUrlEncoder().withoutPadding().encodeToString(secretBytes);
            SecretBox.Sealed sealed = secretBox.seal(webhookId, secret.getBytes(StandardCharsets.UTF_8));
            return webhooks.create(webhookId, r.getRequestId(), r.getUrl(), r.getFormat(), r.getDescription(), sealed, Instant.now())
                    .map(created -> {
                        CreateWebhookResponse.Builder b = CreateWebhookResponse.newBuilder().setWebhook(created.webhook());
                        if (!created.replay()) {
                            b.setSigningSecret(secret);
                        }
                        return b.build();
                    });
        });
    }

    public Uni<ListWebhooksResponse> listWebhooks(Access.Credential c, ListWebhooksRequest r) {
        return run(c, Access.Operation.ADMIN, () -> {
            Violations v = new Violations();
            int size = pageSize(r.getPageSize(), v);
            Optional<String> cursor = cursor(WEBHOOKS_PAGE, r.getPageToken(), v);
            v.throwIfAny();
            return webhooks.list(cursor.orElse(""), size + 1).map(found -> {
                boolean more = found.size() > size;
                var shown = more ? found.subList(0, size) : found;
                ListWebhooksResponse.Builder b = ListWebhooksResponse.newBuilder().addAllWebhooks(shown);
                if (more) {
                    b.setNextPageToken(PageTokens.encode(WEBHOOKS_PAGE, shown.get(shown.size() - 1).getWebhookId()));
                }
                return b.build();
            });
        });
    }

    public Uni<DeleteWebhookResponse> deleteWebhook(Access.Credential c, DeleteWebhookRequest r) {
        return run(c, Access.Operation.ADMIN, () -> {
            Violations v = new Violations();
            requestId(r.getRequestId(), v);
            requiredId(r.getWebhookId(), "webhook_id", v);
            v.throwIfAny();
            return webhooks.delete(r.getWebhookId(), Instant.now())
                    .map(d -> DeleteWebhookResponse.newBuilder().setDeleted(d).build());
        });
    }

    // ---- helpers

    private static <T> Uni<T> run(Access.Credential c, Access.Operation op, Supplier<Uni<T>> action) {
        return Uni.createFrom().deferred(() -> {
            Access.check(c, op);
            return action.get();
        });
    }

    private static RuleConfigSet.Key key(ConfigScope scope, String scopeId, Rule rule, String prefix, Violations v) {
        RuleConfigSet.Scope s = switch (scope) {
            case CONFIG_SCOPE_FLEET -> RuleConfigSet.Scope.FLEET;
            case CONFIG_SCOPE_TEAM -> RuleConfigSet.Scope.TEAM;
            case CONFIG_SCOPE_AGENT -> RuleConfigSet.Scope.AGENT;
            default -> null;
        };
        v.check(s != null, prefix + "scope", "must be FLEET, TEAM or AGENT");
        if (s == RuleConfigSet.Scope.FLEET) {
            v.check(scopeId.isEmpty(), prefix + "scope_id", "must be empty for the fleet scope");
        } else if (s != null) {
            requiredId(scopeId, prefix + "scope_id", v);
        }
        boolean ruleOk = rule != Rule.RULE_UNSPECIFIED && rule != Rule.UNRECOGNIZED;
        v.check(ruleOk, prefix + "rule", "is required");
        return s == null || !ruleOk ? null : new RuleConfigSet.Key(s, scopeId, AlertRecords.ruleType(rule));
    }

    private static RuleConfig toProto(RuleConfigStore.Stored s) {
        RuleConfig.Builder b = RuleConfig.newBuilder()
                .setScope(ConfigScope.valueOf("CONFIG_SCOPE_" + s.key().scope().name()))
                .setScopeId(s.key().scopeId())
                .setRule(AlertRecords.rule(s.key().rule()))
                .putAllParameters(s.override().params())
                .setUpdateTime(AlertRecords.ts(s.updateTime()));
        if (s.override().enabled() != null) {
            b.setEnabled(s.override().enabled());
        }
        if (s.override().action() != null) {
            b.setAction(AlertRecords.action(s.override().action()));
        }
        if (s.override().severity() != null) {
            b.setSeverity(AlertRecords.severity(s.override().severity()));
        }
        return b.build();
    }

    private static int pageSize(int requested, Violations v) {
        v.check(requested >= 0 && requested <= 500, "page_size", "must be 0..500");
        return requested == 0 ? 100 : Math.max(1, Math.min(requested, 500));
    }

    /** Longer than any cursor this service hands out (an id, or a config's scope, id and rule). */
    private static final int MAX_CURSOR_LENGTH = 1_024;

    private static Optional<String> cursor(String kind, String token, Violations v) {
        if (token.isEmpty()) {
            return Optional.empty();
        }
        Optional<String> c = PageTokens.decode(kind, token);
        // a cursor goes to PostgreSQL as text, which cannot hold NUL: a forged one is bad input
        v.check(c.isPresent() && Fields.isText(c.get(), MAX_CURSOR_LENGTH), "page_token", "is not a token of this listing");
        return c;
    }

    private static void requestId(String requestId, Violations v) {
        v.check(Fields.isRequestId(requestId), "request_id", "must be 1 to 128 characters of [A-Za-z0-9._:-]");
    }

    private static void requiredId(String id, String field, Violations v) {
        v.check(!id.isEmpty() && id.length() <= Fields.MAX_ID_LENGTH && Fields.isText(id, Fields.MAX_ID_LENGTH),
                field, "is required (at most 128 characters)");
    }

    private static void optionalId(String id, String field, Violations v) {
        v.check(id.length() <= Fields.MAX_ID_LENGTH && Fields.isText(id, Fields.MAX_ID_LENGTH), field,
                "must be at most 128 characters");
    }

    private static boolean validUrl(String url) {
        if (url.isEmpty() || url.length() > 2048) {
            return false;
        }
        try {
            URI u = URI.create(url);
            boolean portOk = u.getPort() == -1 || (u.getPort() >= 1 && u.getPort() <= 65535);
            return ("http".equals(u.getScheme()) || "https".equals(u.getScheme())) && u.getHost() != null && portOk;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

}
