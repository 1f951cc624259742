package dev.agentspend.alerts.store;

import com.google.protobuf.Timestamp;
import dev.agentspend.alerts.domain.ActionType;
import dev.agentspend.alerts.domain.Evidence;
import dev.agentspend.alerts.domain.Level;
import dev.agentspend.alerts.domain.OpenAlert;
import dev.agentspend.alerts.domain.RuleType;
import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.AlertState;
import dev.agentspend.proto.alerts.v1.LoopEdge;
import dev.agentspend.proto.alerts.v1.Measurement;
import dev.agentspend.proto.alerts.v1.Rule;
import dev.agentspend.proto.alerts.v1.RuleAction;
import dev.agentspend.proto.alerts.v1.Severity;
import io.vertx.mutiny.sqlclient.Row;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;

/** Conversions between alert rows, the domain's open alerts and the contract's messages. */
public final class AlertRecords {
    static final String COLUMNS = "alert_id, rule, dedupe_key, agent_ids, team_id, severity, state, action, "
            + "evidence::text as evidence, first_seen_time, last_seen_time, acknowledge_time, acknowledge_note, resolve_time";

    private AlertRecords() {
    }

    public static Alert fromRow(Row r) {
        Alert.Builder b = Alert.newBuilder()
                .setAlertId(r.getString("alert_id"))
                .setRule(rule(RuleType.valueOf(r.getString("rule"))))
                .addAllAgentIds(Arrays.asList(r.getArrayOfStrings("agent_ids")))
                .setTeamId(r.getString("team_id"))
                .setSeverity(Severity.forNumber(r.getShort("severity")))
                .setState(AlertState.valueOf("ALERT_STATE_" + r.getString("state")))
                .setAction(action(ActionType.valueOf(r.getString("action"))))
                .setEvidence(evidence(Json.read(r.getString("evidence"), Evidence.class)))
                .setFirstSeenTime(ts(r.getOffsetDateTime("first_seen_time")))
                .setLastSeenTime(ts(r.getOffsetDateTime("last_seen_time")))
                .setDedupeKey(r.getString("dedupe_key"))
                .setAcknowledgeNote(r.getString("acknowledge_note"));
        if (r.getOffsetDateTime("acknowledge_time") != null) {
            b.setAcknowledgeTime(ts(r.getOffsetDateTime("acknowledge_time")));
        }
        if (r.getOffsetDateTime("resolve_time") != null) {
            b.setResolveTime(ts(r.getOffsetDateTime("resolve_time")));
        }
        return b.build();
    }

    public static OpenAlert openFromRow(Row r) {
        return new OpenAlert(r.getString("alert_id"), RuleType.valueOf(r.getString("rule")), r.getString("dedupe_key"),
                List.of(r.getArrayOfStrings("agent_ids")), r.getString("team_id"),
                level(Severity.forNumber(r.getShort("severity"))), ActionType.valueOf(r.getString("action")),
                Json.read(r.getString("evidence"), Evidence.class),
                r.getOffsetDateTime("first_seen_time").toInstant(), r.getOffsetDateTime("last_seen_time").toInstant());
    }

    public static Rule rule(RuleType t) {
        return Rule.valueOf("RULE_" + t.name());
    }

    public static RuleType ruleType(Rule r) {
        return RuleType.valueOf(r.name().substring("RULE_".length()));
    }

    public static Severity severity(Level l) {
        return Severity.valueOf("SEVERITY_" + l.name());
    }

    public static Level level(Severity s) {
        return Level.valueOf(s.name().substring("SEVERITY_".length()));
    }

    public static RuleAction action(ActionType a) {
        return RuleAction.valueOf("RULE_ACTION_" + a.name());
    }

    public static ActionType actionType(RuleAction a) {
        return ActionType.valueOf(a.name().substring("RULE_ACTION_".length()));
    }

    public static dev.agentspend.proto.alerts.v1.Evidence evidence(Evidence e) {
        var b = dev.agentspend.proto.alerts.v1.Evidence.newBuilder()
                .setSummary(e.summary())
                .setCurrencyCode(e.currencyCode())
                .setTool(e.tool())
                .setTriggerPosition(e.triggerPosition());
        for (Evidence.Measure m : e.measurements()) {
            b.addMeasurements(Measurement.newBuilder().setName(m.name()).setValue(m.value()).setThreshold(m.threshold()));
        }
        for (Evidence.LoopHop h : e.loop()) {
            b.addLoopEdges(LoopEdge.newBuilder().setFromAgentId(h.from()).setToAgentId(h.to())
                    .setAmountMicros(h.amountMicros()).setPaymentCount(h.payments()));
        }
        if (e.windowStart() != null) {
            b.setWindowStartTime(ts(e.windowStart()));
        }
        if (e.windowEnd() != null) {
            b.setWindowEndTime(ts(e.windowEnd()));
        }
        if (e.triggerRecordTime() != null) {
            b.setTriggerRecordTime(ts(e.triggerRecordTime()));
        }
        return b.build();
    }

    public static Timestamp ts(Instant i) {
        return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
    }

    public static Timestamp ts(OffsetDateTime t) {
        return ts(t.toInstant());
    }

    public static Instant instant(Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    }

    public static OffsetDateTime odt(Instant i) {
        return i == null ? null : OffsetDateTime.ofInstant(i, ZoneOffset.UTC);
    }
}
