package dev.agentspend.k8s;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static dev.agentspend.k8s.KubernetesObjects.ofKind;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** helm lint and helm template, for real, with default and non-default values. */
class ChartTest {
    private static final Path VALUES = Path.of("src/test/resources/values").toAbsolutePath();

    private static List<HasMetadata> render(String valuesFile) {
        return KubernetesObjects.parse(Chart.render(t -> t.withValuesFile(VALUES.resolve(valuesFile))));
    }

    private static Deployment deployment(List<HasMetadata> objects, String name) {
        return ofKind(objects, Deployment.class).stream().filter(d -> d.getMetadata().getName().equals(name))
                .findFirst().orElseThrow(() -> new AssertionError("no Deployment " + name));
    }

    private static Map<String, EnvVar> env(Deployment d) {
        return d.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv().stream()
                .collect(Collectors.toMap(EnvVar::getName, e -> e));
    }

    @Test
    void lintPassesStrictly() {
        LintResult lint = new Helm(Chart.CHART).lint().strict().call();
        assertFalse(lint.isFailed(), "helm lint --strict: " + lint.getMessages());
        assertTrue(lint.getMessages().stream().noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]")),
                "helm lint: " + lint.getMessages());
    }

    @Test
    void defaultsRenderEveryServiceHardened() {
        List<HasMetadata> objects = KubernetesObjects.parse(Chart.renderDefault());
        Invariants.check(objects, false, true);
        for (String component : Chart.COMPONENTS) {
            String name = "agentspend-" + component;
            Deployment d = deployment(objects, name);
            assertNull(d.getSpec().getReplicas(), "the HPA owns replicas by default");
            assertTrue(objects.stream().anyMatch(o -> o instanceof HorizontalPodAutoscaler && o.getMetadata().getName().equals(name)));
            assertTrue(objects.stream().anyMatch(o -> o instanceof PodDisruptionBudget && o.getMetadata().getName().equals(name)));
            assertTrue(objects.stream().anyMatch(o -> o instanceof ServiceAccount && o.getMetadata().getName().equals(name)));
            assertTrue(objects.stream().anyMatch(o -> o instanceof NetworkPolicy && o.getMetadata().getName().equals(name)));
            Map<String, String> annotations = d.getSpec().getTemplate().getMetadata().getAnnotations();
            assertEquals("true", annotations.get("prometheus.io/scrape"), name);
            assertEquals("/q/metrics", annotations.get("prometheus.io/path"), name);
            Map<String, EnvVar> env = env(d);
            assertEquals("jdbc:postgresql://postgresql:5432/agentspend?sslmode=require",
                    env.get("QUARKUS_DATASOURCE_JDBC_URL").getValue());
            assertEquals("postgresql://postgresql:5432/agentspend?sslmode=require",
                    env.get("QUARKUS_DATASOURCE_REACTIVE_URL").getValue());
            assertEquals("agentspend-database", env.get("QUARKUS_DATASOURCE_PASSWORD").getValueFrom().getSecretKeyRef().getName());
            assertEquals("admin-token", env.get("AGENTSPEND_ADMIN_TOKEN").getValueFrom().getSecretKeyRef().getKey());
            assertEquals("service-token", env.get("AGENTSPEND_SERVICE_TOKEN").getValueFrom().getSecretKeyRef().getKey());
        }
        assertTrue(ofKind(objects, ServiceMonitor.class).isEmpty(), "ServiceMonitor is opt-in");
        assertTrue(ofKind(objects, ConfigMap.class).isEmpty(), "no extra config by default");

        // gRPC clients point at the other services' Services and ports
        Map<String, EnvVar> ledger = env(deployment(objects, "agentspend-ledger"));
        assertEquals("agentspend-identity", ledger.get("QUARKUS_GRPC_CLIENTS_IDENTITY_HOST").getValue());
        assertEquals("8081", ledger.get("QUARKUS_GRPC_CLIENTS_IDENTITY_PORT").getValue());
        Map<String, EnvVar> alerts = env(deployment(objects, "agentspend-alerts"));
        assertEquals("agentspend-ledger", alerts.get("QUARKUS_GRPC_CLIENTS_LEDGER_HOST").getValue());
        assertEquals("agentspend-identity", alerts.get("QUARKUS_GRPC_CLIENTS_IDENTITY_HOST").getValue());

        // agents reach the ledger's port from anywhere; nothing else is open to them
        NetworkPolicy ledgerPolicy = ofKind(objects, NetworkPolicy.class).stream()
                .filter(p -> p.getMetadata().getName().equals("agentspend-ledger")).findFirst().orElseThrow();
        assertTrue(ledgerPolicy.getSpec().getIngress().get(0).getFrom() == null
                || ledgerPolicy.getSpec().getIngress().get(0).getFrom().isEmpty());
        NetworkPolicy identityPolicy = ofKind(objects, NetworkPolicy.class).stream()
                .filter(p -> p.getMetadata().getName().equals("agentspend-identity")).findFirst().orElseThrow();
        assertEquals(3, identityPolicy.getSpec().getIngress().get(0).getFrom().size(),
                "identity: release pods, admin peers, Prometheus");
    }

    @Test
    void tlsMountsTheCertificateReadOnlyAndProbesOverHttps() {
        List<HasMetadata> objects = render("tls.yaml");
        Invariants.check(objects, true, true);
        Deployment ledger = deployment(objects, "agentspend-ledger");
        Map<String, EnvVar> env = env(ledger);
        assertEquals("/etc/agentspend/tls/tls.crt", env.get("QUARKUS_HTTP_SSL_CERTIFICATE_FILES").getValue());
        assertEquals("/etc/agentspend/tls/tls.key", env.get("QUARKUS_HTTP_SSL_CERTIFICATE_KEY_FILES").getValue());
        assertEquals("disabled", env.get("QUARKUS_HTTP_INSECURE_REQUESTS").getValue());
        assertEquals("false", env.get("QUARKUS_GRPC_CLIENTS_IDENTITY_PLAIN_TEXT").getValue());
        assertEquals("/etc/agentspend/tls/ca.crt", env.get("QUARKUS_GRPC_CLIENTS_IDENTITY_SSL_TRUST_STORE").getValue());
        assertEquals("agentspend-tls", ledger.getSpec().getTemplate().getSpec().getVolumes().stream()
                .filter(v -> v.getName().equals("tls")).findFirst().orElseThrow().getSecret().getSecretName());
        assertEquals("https", ledger.getSpec().getTemplate().getMetadata().getAnnotations().get("prometheus.io/scheme"));
        for (Service s : ofKind(objects, Service.class)) {
            assertEquals("https", s.getSpec().getPorts().get(0).getAppProtocol());
        }
        ServiceMonitor sm = ofKind(objects, ServiceMonitor.class).get(0);
        assertEquals("https", sm.getSpec().getEndpoints().get(0).getScheme());
        assertEquals("ca.crt", sm.getSpec().getEndpoints().get(0).getTlsConfig().getCa().getSecret().getKey());
    }

    @Test
    void mutualTlsMovesGrpcToAPortThatAsksForClientCertificates() {
        List<HasMetadata> objects = render("mutual-tls.yaml");
        Invariants.check(objects, true, true);
        for (Deployment d : ofKind(objects, Deployment.class)) {
            Container c = d.getSpec().getTemplate().getSpec().getContainers().get(0);
            assertEquals(9443, c.getPorts().get(1).getContainerPort());
            // the probes stay on the HTTPS port, which asks no client certificate
            assertEquals("http", c.getReadinessProbe().getHttpGet().getPort().getStrVal());
            Map<String, EnvVar> env = env(d);
            assertEquals("REQUIRED", env.get("QUARKUS_GRPC_SERVER_SSL_CLIENT_AUTH").getValue());
            assertEquals("/etc/agentspend/tls/truststore.p12", env.get("QUARKUS_GRPC_SERVER_SSL_TRUST_STORE").getValue());
            assertEquals("agentspend-tls-keystore",
                    env.get("QUARKUS_GRPC_SERVER_SSL_TRUST_STORE_PASSWORD").getValueFrom().getSecretKeyRef().getName());
        }
        Map<String, EnvVar> alerts = env(deployment(objects, "agentspend-alerts"));
        for (String peer : List.of("IDENTITY", "LEDGER")) {
            assertEquals("9443", alerts.get("QUARKUS_GRPC_CLIENTS_" + peer + "_PORT").getValue());
            assertEquals("/etc/agentspend/tls/tls.crt", alerts.get("QUARKUS_GRPC_CLIENTS_" + peer + "_SSL_CERTIFICATE").getValue());
            assertEquals("/etc/agentspend/tls/tls.key", alerts.get("QUARKUS_GRPC_CLIENTS_" + peer + "_SSL_KEY").getValue());
            assertEquals("/etc/agentspend/tls/ca.crt", alerts.get("QUARKUS_GRPC_CLIENTS_" + peer + "_SSL_TRUST_STORE").getValue());
        }
        ServiceMonitor sm = ofKind(objects, ServiceMonitor.class).get(0);
        assertEquals("https", sm.getSpec().getEndpoints().get(0).getPort(), "scrapes stay on the HTTPS port");

        List<HasMetadata> request = KubernetesObjects.parse(Chart.render(t -> t
                .withValuesFile(Path.of("src/test/resources/values/mutual-tls.yaml").toAbsolutePath())
                .set("tls.mutual.clientAuth", "REQUEST")));
        assertEquals("REQUEST", env(deployment(request, "agentspend-ledger")).get("QUARKUS_GRPC_SERVER_SSL_CLIENT_AUTH").getValue());
    }

    @Test
    void mutualTlsWithoutTlsIsRefused() {
        Exception e = assertThrows(Exception.class, () -> Chart.render(t -> t.set("tls.mutual.enabled", "true")));
        assertTrue(e.getMessage().contains("tls.mutual.enabled needs tls.enabled"), e.getMessage());
    }

    @Test
    void theStartupProbeWaitsAsLongAsStartupTimeoutSays() {
        assertEquals(60, startupFailures(Chart.render(t -> t), "agentspend-ledger"), "5m by default, probed every 5 s");
        String longer = Chart.render(t -> t.set("startupTimeout", "120m"));
        for (String d : List.of("agentspend-identity", "agentspend-ledger", "agentspend-analytics", "agentspend-alerts")) {
            assertEquals(1_440, startupFailures(longer, d), d);
        }
        assertEquals(3, startupFailures(Chart.render(t -> t.set("startupTimeout", "11s")), "agentspend-ledger"), "rounded up");
        assertThrows(Exception.class, () -> Chart.render(t -> t.set("startupTimeout", "")), "a startup bound is required");
        assertThrows(Exception.class, () -> Chart.render(t -> t.set("startupTimeout", "2h")), "the schema's units");
    }

    private static int startupFailures(String rendered, String name) {
        Deployment d = deployment(KubernetesObjects.parse(rendered), name);
        var probe = d.getSpec().getTemplate().getSpec().getContainers().get(0).getStartupProbe();
        assertEquals(5, probe.getPeriodSeconds());
        return probe.getFailureThreshold();
    }

    @Test
    void aGracePeriodShorterThanTheShutdownDelayAndTimeoutIsRefused() {
        Map<String, EnvVar> defaults = env(deployment(KubernetesObjects.parse(Chart.render(t -> t)), "agentspend-ledger"));
        assertEquals("5s", defaults.get("QUARKUS_SHUTDOWN_DELAY").getValue());
        assertEquals("15s", defaults.get("QUARKUS_SHUTDOWN_TIMEOUT").getValue());
        Exception e = assertThrows(Exception.class, () -> Chart.render(t -> t.set("shutdownTimeout", "25s")));
        assertTrue(e.getMessage().contains("terminationGracePeriodSeconds (30) must be more than shutdownDelay (5s) plus "
                + "shutdownTimeout (25s)"), e.getMessage());
        Exception ms = assertThrows(Exception.class, () -> Chart.render(t -> t.set("shutdownDelay", "4500ms")
                .set("shutdownTimeout", "25s")));
        assertTrue(ms.getMessage().contains("shutdownDelay (4500ms)"), "milliseconds round up: " + ms.getMessage());
        Chart.render(t -> t.set("shutdownTimeout", "24s").set("alerts.terminationGracePeriodSeconds", "30"));
        Chart.render(t -> t.set("shutdownTimeout", "1m").set("identity.terminationGracePeriodSeconds", "70")
                .set("ledger.terminationGracePeriodSeconds", "70").set("analytics.terminationGracePeriodSeconds", "70")
                .set("alerts.terminationGracePeriodSeconds", "70"));
    }

    @Test
    void tlsWithoutSecretIsRefused() {
        Exception e = assertThrows(Exception.class, () -> Chart.render(t -> t.set("tls.enabled", "true")));
        assertTrue(e.getMessage().contains("tls.secretName is required"), e.getMessage());
    }

    @Test
    void serviceMonitorPerService() {
        List<HasMetadata> objects = render("service-monitor.yaml");
        Invariants.check(objects, false, true);
        List<ServiceMonitor> monitors = ofKind(objects, ServiceMonitor.class);
        assertEquals(Chart.COMPONENTS.size(), monitors.size());
        for (ServiceMonitor sm : monitors) {
            assertEquals("kube-prometheus-stack", sm.getMetadata().getLabels().get("release"));
            assertEquals(List.of("app.kubernetes.io/part-of", "app.kubernetes.io/component"), sm.getSpec().getTargetLabels());
        }
    }

    @Test
    void withoutAutoscalingTheDeploymentOwnsReplicas() {
        List<HasMetadata> objects = render("no-autoscaling.yaml");
        Invariants.check(objects, false, true);
        assertTrue(ofKind(objects, HorizontalPodAutoscaler.class).isEmpty());
        assertEquals(3, deployment(objects, "agentspend-identity").getSpec().getReplicas());
        assertEquals(4, deployment(objects, "agentspend-ledger").getSpec().getReplicas());
    }

    @Test
    void externalDatabaseUrlAndSecretNames() {
        List<HasMetadata> objects = render("external-database.yaml");
        Invariants.check(objects, false, true);
        for (Deployment d : ofKind(objects, Deployment.class)) {
            Map<String, EnvVar> env = env(d);
            assertEquals("jdbc:postgresql://spend-db.example.com:6432/spend?sslmode=verify-full&sslrootcert=/etc/agentspend/tls/ca.crt",
                    env.get("QUARKUS_DATASOURCE_JDBC_URL").getValue());
            assertEquals("postgresql://spend-db.example.com:6432/spend?sslmode=verify-full",
                    env.get("QUARKUS_DATASOURCE_REACTIVE_URL").getValue());
            assertNull(env.get("QUARKUS_DATASOURCE_REACTIVE_TRUST_ALL"), "a full URL decides verification itself");
            assertEquals("spend-db", env.get("QUARKUS_DATASOURCE_USERNAME").getValueFrom().getSecretKeyRef().getName());
            assertEquals("user", env.get("QUARKUS_DATASOURCE_USERNAME").getValueFrom().getSecretKeyRef().getKey());
            assertEquals("pass", env.get("QUARKUS_DATASOURCE_PASSWORD").getValueFrom().getSecretKeyRef().getKey());
            assertEquals("spend-tokens", env.get("AGENTSPEND_ADMIN_TOKEN").getValueFrom().getSecretKeyRef().getName());
        }
    }

    @Test
    void aReactiveUrlBuiltFromAJdbcUrlKeepsOnlyItsSslmode() {
        Map<String, EnvVar> env = env(deployment(KubernetesObjects.parse(Chart.render(t -> t.set("database.jdbcUrl",
                "jdbc:postgresql://db.example.com:5432/spend?ApplicationName=x&sslmode=require&sslrootcert=/etc/ca.crt"))),
                "agentspend-ledger"));
        assertEquals("postgresql://db.example.com:5432/spend?sslmode=require", env.get("QUARKUS_DATASOURCE_REACTIVE_URL").getValue(),
                "PostgreSQL refuses a session setting it does not know");
        assertEquals("true", env.get("QUARKUS_DATASOURCE_REACTIVE_TRUST_ALL").getValue(), "require: encrypted, not verified");

        Map<String, EnvVar> plain = env(deployment(KubernetesObjects.parse(Chart.render(t -> t.set("database.jdbcUrl",
                "jdbc:postgresql://db.example.com:5432/spend?currentSchema=x"))), "agentspend-ledger"));
        assertEquals("postgresql://db.example.com:5432/spend", plain.get("QUARKUS_DATASOURCE_REACTIVE_URL").getValue());
        assertNull(plain.get("QUARKUS_DATASOURCE_REACTIVE_TRUST_ALL"));
    }

    @Test
    void aDisabledServiceLeavesNothingBehind() {
        List<HasMetadata> objects = render("analytics-disabled.yaml");
        Invariants.check(objects, false, true);
        assertTrue(objects.stream().noneMatch(o -> o.getMetadata().getName().contains("analytics")),
                "objects left for a disabled service");
        assertEquals(3, ofKind(objects, Deployment.class).size());
    }

    @Test
    void everyOptionAtOnce() {
        List<HasMetadata> objects = render("everything.yaml");
        Invariants.check(objects, true, true);
        assertEquals(Set.of("spend-identity", "spend-ledger", "spend-analytics"), ofKind(objects, Deployment.class)
                .stream().map(d -> d.getMetadata().getName()).collect(Collectors.toSet()));
        Deployment ledger = deployment(objects, "spend-ledger");
        Container c = ledger.getSpec().getTemplate().getSpec().getContainers().get(0);
        assertEquals("registry.example.com/platform/agentspend/ledger-service:0.1.1", c.getImage());
        assertEquals(3, ledger.getSpec().getReplicas());
        Map<String, EnvVar> env = env(ledger);
        assertEquals("jdbc:postgresql://pg.databases.svc:5433/spend?sslmode=verify-full",
                env.get("QUARKUS_DATASOURCE_JDBC_URL").getValue());
        assertNull(env.get("QUARKUS_DATASOURCE_REACTIVE_TRUST_ALL"), "verify-full must verify");
        assertEquals("INFO", env.get("QUARKUS_LOG_LEVEL").getValue());
        assertEquals("metadata.name", env.get("POD_NAME").getValueFrom().getFieldRef().getFieldPath());
        assertEquals("-XX:MaxRAMPercentage=70.0", env.get("JAVA_OPTS").getValue());
        assertEquals("disabled", env.get("QUARKUS_HTTP_INSECURE_REQUESTS").getValue());
        assertEquals("15m", env.get("QUARKUS_HTTP_SSL_CERTIFICATE_RELOAD_PERIOD").getValue());
        assertEquals("spend-identity", env.get("QUARKUS_GRPC_CLIENTS_IDENTITY_HOST").getValue());
        ConfigMap config = ofKind(objects, ConfigMap.class).get(0);
        assertEquals("spend-ledger", config.getMetadata().getName());
        assertEquals(Set.of("agentspend.ledger.policy-staleness=20s", "quarkus.datasource.reactive.max-size=48"),
                Set.of(config.getData().get("application.properties").strip().split("\n")));
        assertTrue(c.getVolumeMounts().stream().anyMatch(m -> m.getMountPath().equals("/deployments/config")));
        assertTrue(ledger.getSpec().getTemplate().getMetadata().getAnnotations().containsKey("checksum/config"));
        assertNull(ledger.getSpec().getTemplate().getMetadata().getAnnotations().get("prometheus.io/scrape"));
        assertEquals("registry-credentials", ledger.getSpec().getTemplate().getSpec().getImagePullSecrets().get(0).getName());
        assertEquals("25%", ofKind(objects, PodDisruptionBudget.class).stream()
                .filter(p -> p.getMetadata().getName().equals("spend-ledger")).findFirst().orElseThrow()
                .getSpec().getMaxUnavailable().getStrVal());
        assertEquals("shared-identity", deployment(objects, "spend-identity").getSpec().getTemplate().getSpec().getServiceAccountName());
        assertTrue(ofKind(objects, ServiceAccount.class).stream().noneMatch(s -> s.getMetadata().getName().equals("shared-identity")));
        assertEquals("kubernetes.io/h2c", ofKind(objects, Service.class).stream()
                .filter(s -> s.getMetadata().getName().equals("spend-identity")).findFirst().orElseThrow()
                .getSpec().getPorts().get(0).getAppProtocol());
        NetworkPolicy ledgerPolicy = ofKind(objects, NetworkPolicy.class).stream()
                .filter(p -> p.getMetadata().getName().equals("spend-ledger")).findFirst().orElseThrow();
        assertEquals(3, ledgerPolicy.getSpec().getIngress().get(0).getFrom().size(),
                "ledger: the agents' namespaces, the release's pods, Prometheus");
    }

    /** values.schema.json catches typos instead of letting Helm ignore them. */
    @ParameterizedTest
    @ValueSource(strings = {"ledger.replicas=3", "ledgr.enabled=false", "ledger.image.pullPolicy=Sometimes",
            "database.sslmode=on", "ledger.port=0", "tls.enable=true", "ledger.autoscaling.minReplica=1",
            "ledger.resources.limit.memory=1Gi", "ledger.grpcClients[0]=billing", "metrics.serviceMonitor.enable=true",
            "tls.insecureRequests=enabled", "tls.mutual.clientAuth=NONE", "tls.mutual.enable=true"})
    void schemaRejectsTypos(String setting) {
        int eq = setting.indexOf('=');
        Exception e = assertThrows(Exception.class,
                () -> Chart.render(t -> t.set(setting.substring(0, eq), setting.substring(eq + 1))));
        assertTrue(e.getMessage().toLowerCase().contains("schema"), e.getMessage());
    }
}
