package dev.agentspend.alerts.grpc;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.AlertEvent;
import dev.agentspend.proto.alerts.v1.Measurement;
import dev.agentspend.proto.alerts.v1.WebhookFormat;

/**
 * Webhook bodies. GENERIC: {@code {"deliveryId": "...", "event": <AlertEvent in the proto3 JSON
 * mapping>}}. SLACK: an incoming-webhook message with {@code text} (the fallback line) and
 * {@code blocks} (one mrkdwn section with the evidence).
 */
final class WebhookPayloads {
    private static final JsonFormat.Printer PRINTER = JsonFormat.printer().omittingInsignificantWhitespace();

    private WebhookPayloads() {
    }

    static String body(WebhookFormat format, String deliveryId, AlertEvent event) {
        if (format == WebhookFormat.WEBHOOK_FORMAT_SLACK) {
            return slack(event);
        }
        try {
            return "{\"deliveryId\":" + quote(deliveryId) + ",\"event\":" + PRINTER.print(event) + "}";
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("alert event does not print as JSON", e);
        }
    }

    private static String slack(AlertEvent event) {
        Alert a = event.getAlert();
        String what = switch (event.getEventType()) {
            case ALERT_EVENT_TYPE_FIRED -> "FIRING";
            case ALERT_EVENT_TYPE_ACKNOWLEDGED -> "ACKNOWLEDGED";
            case ALERT_EVENT_TYPE_RESOLVED -> "RESOLVED";
            case ALERT_EVENT_TYPE_AGENT_SUSPENDED -> "AGENT SUSPENDED (" + event.getAgentId() + ")";
            default -> event.getEventType().name();
        };
        String rule = a.getRule().name().substring("RULE_".length()).toLowerCase(java.util.Locale.ROOT).replace('_', ' ');
        String severity = a.getSeverity().name().substring("SEVERITY_".length());
        String line = "[" + severity + "] " + what + ": " + rule + " for " + String.join(", ", a.getAgentIdsList())
                + " (alert " + a.getAlertId() + ")";
        StringBuilder detail = new StringBuilder("*").append(line).append("*\n").append(a.getEvidence().getSummary());
        for (Measurement m : a.getEvidence().getMeasurementsList()) {
            detail.append("\n• ").append(m.getName()).append(": ").append(m.getValue());
            if (m.getThreshold() != 0) {
                detail.append(" (threshold ").append(m.getThreshold()).append(')');
            }
        }
        return "{\"text\":" + quote(line) + ",\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":"
                + quote(detail.toString()) + "}}]}";
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
