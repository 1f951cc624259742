package dev.agentspend.k8s;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.openshift.api.model.monitoring.v1.PrometheusRule;
import io.fabric8.openshift.api.model.monitoring.v1.Rule;
import io.fabric8.openshift.api.model.monitoring.v1.RuleGroup;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Grafana dashboard and the PrometheusRule use only metrics the services really register
 * (read from their sources, with Micrometer's Prometheus naming), and only label values those
 * metrics really carry.
 */
class ObservabilityTest {
    static final Path DIR = Chart.K8S.resolve("observability");
    static final Path ROOT = ServiceConfigurationTest.ROOT;
    /** Series from Prometheus itself, Micrometer's JVM binder and kube-state-metrics. */
    static final Set<String> EXTERNAL = Set.of("up", "jvm_memory_used_bytes", "jvm_memory_max_bytes",
            "kube_deployment_status_replicas_available", "kube_deployment_spec_replicas");
    static final Set<String> PROMQL_WORDS = Set.of("sum", "max", "min", "avg", "count", "topk", "bottomk", "rate",
            "increase", "irate", "delta", "absent", "max_over_time", "min_over_time", "avg_over_time", "histogram_quantile",
            "and", "or", "unless", "by", "without", "on", "ignoring", "bool", "offset", "group_left", "group_right",
            "clamp_min", "clamp_max", "changes");

    /** Every Prometheus series name the services register with Micrometer, from their sources. */
    /**
     * The timers that publish a Prometheus histogram (publishPercentileHistogram) instead of
     * quantiles; the services' tests read their buckets (ConcurrencyGrpcTest for the ledger's,
     * BenchRunTest for the alert service's).
     */
    static final Set<String> HISTOGRAM_TIMERS = Set.of("agentspend.ledger.pay.queue.wait",
            "agentspend.ledger.pay.batch.preparing", "agentspend.ledger.pay.batch.committing",
            "agentspend.alerts.detection.latency");

    static Set<String> exposedMetrics() throws IOException {
        Set<String> names = new TreeSet<>(EXTERNAL);
        Pattern counter = Pattern.compile("(?:Counter\\.builder|\\.counter)\\(\\s*\"([a-z0-9.]+)\"");
        Pattern gauge = Pattern.compile("(?:MultiGauge\\.builder|Gauge\\.builder|\\.gauge)\\(\\s*\"([a-z0-9.]+)\"");
        Pattern timer = Pattern.compile("(?:Timer\\.builder|\\.timer)\\(\\s*\"([a-z0-9.]+)\"");
        Pattern summary = Pattern.compile("(?:DistributionSummary\\.builder|\\.summary)\\(\\s*\"([a-z0-9.]+)\"");
        for (String module : ServiceConfigurationTest.MODULES.values()) {
            Path src = ROOT.resolve(module).resolve("src/main/java");
            if (!Files.isDirectory(src)) {
                continue;
            }
            try (Stream<Path> files = Files.walk(src)) {
                for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                    String code = Files.readString(f);
                    Matcher m = counter.matcher(code);
                    while (m.find()) {
                        names.add(m.group(1).replace('.', '_') + baseUnit(code, m.end()) + "_total");
                    }
                    m = gauge.matcher(code);
                    while (m.find()) {
                        names.add(m.group(1).replace('.', '_') + baseUnit(code, m.end()));
                    }
                    m = timer.matcher(code);
                    while (m.find()) {
                        String base = m.group(1).replace('.', '_') + "_seconds";
                        names.addAll(List.of(base + "_count", base + "_sum", base + "_max"));
                        // a histogram timer exposes buckets, a summary timer its quantiles under the bare name
                        names.add(HISTOGRAM_TIMERS.contains(m.group(1)) ? base + "_bucket" : base);
                    }
                    m = summary.matcher(code);
                    while (m.find()) {
                        String base = m.group(1).replace('.', '_');
                        names.addAll(List.of(base, base + "_count", base + "_sum", base + "_max"));
                    }
                }
            }
        }
        return names;
    }

    /**
     * "_unit" when the builder whose name ends at {@code from} sets a base unit before its statement
     * ends: Micrometer's Prometheus names carry it ("purged" with unit "rows" is purged_rows_total).
     */
    static String baseUnit(String code, int from) {
        int end = code.indexOf(';', from);
        Matcher unit = Pattern.compile("\\.baseUnit\\(\\s*\"([a-z]+)\"").matcher(code.substring(from, end < 0 ? code.length() : end));
        return unit.find() ? "_" + unit.group(1) : "";
    }

    /** Metric names in a PromQL expression: what is left after strings, matchers, ranges, groupings. */
    static Set<String> metricNames(String expr) {
        String s = expr.replaceAll("\"[^\"]*\"", "\"\"")
                .replaceAll("\\{[^}]*}", " ")
                .replaceAll("\\[[^]]*]", " ")
                .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ");
        Set<String> names = new TreeSet<>();
        Matcher m = Pattern.compile("(?<![\\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)").matcher(s);
        while (m.find()) {
            if (!PROMQL_WORDS.contains(m.group(1)) && !m.group(1).matches("e\\d+")) {
                names.add(m.group(1));
            }
        }
        return names;
    }

    static Set<String> labelValues(String expr, String label) {
        Set<String> values = new TreeSet<>();
        Matcher m = Pattern.compile(label + "\\s*=~?\\s*\"([^\"]*)\"").matcher(expr);
        while (m.find()) {
            values.addAll(List.of(m.group(1).split("\\|")));
        }
        return values;
    }

    static List<String> dashboardExpressions() throws IOException {
        JsonNode dash = new ObjectMapper().readTree(DIR.resolve("grafana-dashboard.json").toFile());
        List<String> exprs = new ArrayList<>();
        for (JsonNode panel : dash.get("panels")) {
            for (JsonNode t : panel.path("targets")) {
                exprs.add(t.get("expr").asText());
            }
        }
        return exprs;
    }

    static PrometheusRule rule() throws IOException {
        return (PrometheusRule) KubernetesObjects.bind(Chart.documents(Files.readString(DIR.resolve("prometheusrule.yaml"))).get(0));
    }

    static List<String> ruleExpressions() throws IOException {
        List<String> exprs = new ArrayList<>();
        for (RuleGroup g : rule().getSpec().getGroups()) {
            for (Rule r : g.getRules()) {
                exprs.add(r.getExpr().getStrVal());
            }
        }
        return exprs;
    }

    @Test
    void dashboardIsAGrafanaDashboardOfTheFleet() throws IOException {
        JsonNode dash = new ObjectMapper().readTree(DIR.resolve("grafana-dashboard.json").toFile());
        assertEquals("agentspend-fleet", dash.get("uid").asText());
        assertEquals("datasource", dash.at("/templating/list/0/name").asText(), "the Prometheus data source is a variable");
        Set<Integer> ids = new HashSet<>();
        int queries = 0;
        for (JsonNode panel : dash.get("panels")) {
            assertTrue(ids.add(panel.get("id").asInt()), "duplicate panel id " + panel.get("id"));
            assertNotNull(panel.get("gridPos"), panel.get("title").asText());
            if (!panel.get("type").asText().equals("row")) {
                assertEquals("${datasource}", panel.at("/datasource/uid").asText(), panel.get("title").asText());
                assertFalse(panel.path("targets").isEmpty(), panel.get("title").asText() + " has no query");
                queries += panel.get("targets").size();
            }
        }
        assertTrue(queries >= 10, "queries: " + queries);
    }

    @Test
    void dashboardAndRulesUseOnlyExposedMetrics() throws IOException {
        Set<String> exposed = exposedMetrics();
        assertTrue(exposed.contains("agentspend_ledger_authorizations_total"), "ledger metrics found: " + exposed);
        List<String> exprs = new ArrayList<>(dashboardExpressions());
        exprs.addAll(ruleExpressions());
        Set<String> unknown = new TreeSet<>();
        Set<String> used = new TreeSet<>();
        for (String e : exprs) {
            Set<String> names = metricNames(e);
            assertFalse(names.isEmpty(), "no metric in " + e);
            used.addAll(names);
            names.stream().filter(n -> !exposed.contains(n)).forEach(unknown::add);
        }
        assertTrue(unknown.isEmpty(), "metrics no service exposes: " + unknown + "; exposed: " + exposed);
        assertTrue(used.containsAll(List.of("agentspend_ledger_authorized_amount_micros_total",
                "agentspend_agent_cap_utilization_7d", "agentspend_alerts_fired_total",
                "agentspend_ledger_pay_batch_size_sum", "agentspend_ledger_pay_batches_retried_total",
                "agentspend_ledger_pay_batch_committing_seconds_bucket")), "used: " + used);
    }

    @Test
    void labelValuesExist() throws IOException {
        List<String> exprs = new ArrayList<>(dashboardExpressions());
        exprs.addAll(ruleExpressions());
        Set<String> reasons = new TreeSet<>(Set.of("none"));
        Matcher m = Pattern.compile("DECLINE_REASON_([A-Z_]+) = [1-9]").matcher(Files.readString(
                ROOT.resolve("proto/src/main/proto/agentspend/ledger/v1/ledger_service.proto")));
        while (m.find()) {
            reasons.add(m.group(1).toLowerCase());
        }
        Set<String> operations = new TreeSet<>();
        m = Pattern.compile("metrics\\.record\\(\"([a-z_]+)\"").matcher(Files.readString(
                ROOT.resolve("ledger-service/src/main/java/dev/agentspend/ledger/grpc/LedgerGrpcService.java")));
        while (m.find()) {
            operations.add(m.group(1));
        }
        Set<String> rules = new TreeSet<>();
        m = Pattern.compile("(?m)^    ([A-Z_]+)\\(Level\\.").matcher(Files.readString(
                ROOT.resolve("alert-service/src/main/java/dev/agentspend/alerts/domain/RuleType.java")));
        while (m.find()) {
            rules.add(m.group(1));
        }
        assertTrue(rules.contains("RETRY_RATE") && operations.contains("pay") && reasons.contains("cap_exceeded"));
        for (String e : exprs) {
            assertTrue(reasons.containsAll(labelValues(e, "reason")), e + " vs " + reasons);
            assertTrue(operations.containsAll(labelValues(e, "operation")), e + " vs " + operations);
            assertTrue(rules.containsAll(labelValues(e, "rule")), e + " vs " + rules);
            assertTrue(Set.of("approved", "declined").containsAll(labelValues(e, "decision")), e);
            assertTrue(Set.of("delivered", "failed_attempt").containsAll(labelValues(e, "outcome")), e);
        }
    }

    @Test
    void prometheusRuleCarriesTheTriggersAndServiceHealth() throws IOException {
        PrometheusRule rule = rule();
        Map<String, Rule> byName = new java.util.HashMap<>();
        for (RuleGroup g : rule.getSpec().getGroups()) {
            for (Rule r : g.getRules()) {
                assertNotNull(r.getAlert(), "recording rules are not expected here");
                assertTrue(Set.of("critical", "warning", "info").contains(r.getLabels().get("severity")), r.getAlert());
                assertNotNull(r.getAnnotations().get("summary"), r.getAlert());
                assertNotNull(r.getAnnotations().get("description"), r.getAlert());
                assertEquals(null, byName.put(r.getAlert(), r), "duplicate alert " + r.getAlert());
            }
        }
        assertTrue(byName.keySet().containsAll(List.of("AgentSpendCapUtilizationHigh", "AgentSpendCostPerTaskUp",
                "AgentSpendVelocityOverBaseline", "AgentSpendToolConcentration", "AgentSpendRetryRateHigh",
                "AgentSpendTargetDown", "AgentSpendReplicasNotReady", "AgentSpendLedgerBatchesFailing",
                "AgentSpendIdempotencyPurgeBehind", "AgentSpendRetentionPurgeBehind", "AgentSpendPurgeFailing")),
                byName.keySet().toString());
        assertTrue(byName.get("AgentSpendCapUtilizationHigh").getExpr().getStrVal().contains("> 0.8"));
        assertTrue(metricNames("sum by (a) (rate(x_total{b=\"c\"}[5m])) / 1e6 > 0.8 and up").equals(Set.of("x_total", "up")),
                "the PromQL name extraction itself");
    }
}
