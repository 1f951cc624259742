package dev.agentspend.k8s;

import dev.agentspend.platform.ServiceProcess;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The chart agrees with the services it deploys: ports, probe endpoints, metrics, gRPC clients,
 * credential variables, read from each service's own pom and application.properties (and, for
 * a service not written yet, from docs/conventions.md).
 */
class ServiceConfigurationTest {
    static final Path ROOT = ServiceProcess.repositoryRoot();
    static final Map<String, String> MODULES = Map.of("identity", "identity-service", "ledger", "ledger-service",
            "analytics", "analytics-service", "alerts", "alert-service");

    @SuppressWarnings("unchecked")
    static Map<String, Object> values() throws IOException {
        return Chart.YAML.readValue(Chart.CHART.resolve("values.yaml").toFile(), Map.class);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> service(String component) throws IOException {
        return (Map<String, Object>) values().get(component);
    }

    static Properties applicationProperties(String module) throws IOException {
        Path file = ROOT.resolve(module).resolve("src/main/resources/application.properties");
        Properties p = new Properties();
        if (Files.isRegularFile(file)) {
            try (Reader r = Files.newBufferedReader(file)) {
                p.load(r);
            }
        }
        return p;
    }

    /** The ports table of docs/conventions.md: service name to HTTP + gRPC port. */
    static Map<String, Integer> conventionPorts() throws IOException {
        Map<String, Integer> ports = new java.util.HashMap<>();
        Matcher m = Pattern.compile("(?m)^\\| (identity|ledger|analytics|alerts) \\| (\\d+) \\|")
                .matcher(Files.readString(ROOT.resolve("docs/conventions.md")));
        while (m.find()) {
            ports.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        return ports;
    }

    @Test
    void portsFollowTheConventionsAndEachServicesConfiguration() throws IOException {
        Map<String, Integer> conventions = conventionPorts();
        assertEquals(Set.copyOf(Chart.COMPONENTS), conventions.keySet(), "docs/conventions.md ports table");
        List<String> checkedAgainstService = new ArrayList<>();
        for (String component : Chart.COMPONENTS) {
            int chartPort = (Integer) service(component).get("port");
            assertEquals(conventions.get(component), chartPort, component + ": chart port vs docs/conventions.md");
            Properties p = applicationProperties(MODULES.get(component));
            if (!p.isEmpty()) {
                assertEquals(String.valueOf(chartPort), p.getProperty("quarkus.http.port"),
                        component + ": chart port vs quarkus.http.port");
                assertEquals("false", p.getProperty("quarkus.grpc.server.use-separate-server"),
                        component + ": gRPC must share the HTTP port (the chart opens one port)");
                assertNull(p.getProperty("quarkus.http.root-path"), component + ": probes assume /q at the root");
                assertNull(p.getProperty("quarkus.http.non-application-root-path"), component + ": probes assume /q");
                assertNull(p.getProperty("quarkus.management.enabled"), component + ": probes assume no management port");
                checkedAgainstService.add(component);
            }
        }
        assertTrue(checkedAgainstService.containsAll(List.of("identity", "ledger")),
                "identity and ledger exist and must be checked against their configuration: " + checkedAgainstService);
    }

    @Test
    void everyServiceHasTheHealthAndMetricsTheChartProbesAndScrapes() throws IOException {
        for (String component : Chart.COMPONENTS) {
            Path pom = ROOT.resolve(MODULES.get(component)).resolve("pom.xml");
            if (!Files.isRegularFile(pom)) {
                continue;
            }
            String text = Files.readString(pom);
            assertTrue(text.contains("<artifactId>quarkus-smallrye-health</artifactId>"),
                    component + ": /q/health/{started,live,ready} come from quarkus-smallrye-health");
            assertTrue(text.contains("<artifactId>quarkus-micrometer-registry-prometheus</artifactId>"),
                    component + ": /q/metrics comes from quarkus-micrometer-registry-prometheus");
            assertTrue(text.contains("<artifactId>quarkus-flyway</artifactId>"),
                    component + ": the migration story of the chart assumes Flyway at start");
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void grpcClientsAndCredentialsMatchWhatEachServiceReads() throws IOException {
        var objects = KubernetesObjects.parse(Chart.renderDefault());
        Pattern client = Pattern.compile("^quarkus\\.grpc\\.clients\\.\"?([a-z-]+)\"?\\.host$");
        for (String component : Chart.COMPONENTS) {
            Properties p = applicationProperties(MODULES.get(component));
            if (p.isEmpty()) {
                continue;
            }
            Set<String> clients = new TreeSet<>();
            for (String key : p.stringPropertyNames()) {
                Matcher m = client.matcher(key);
                if (m.matches()) {
                    clients.add(m.group(1));
                }
            }
            Set<String> chartClients = new TreeSet<>((List<String>) service(component).get("grpcClients"));
            assertEquals(clients, chartClients, component + ": the gRPC clients the chart points at other services");
            assertEquals("${AGENTSPEND_ADMIN_TOKEN}", p.getProperty("agentspend.auth.admin-token"), component);
            assertEquals("${AGENTSPEND_SERVICE_TOKEN}", p.getProperty("agentspend.auth.service-token"), component);
            assertEquals("postgresql", p.getProperty("quarkus.datasource.db-kind"), component);
            assertEquals("true", p.getProperty("quarkus.flyway.migrate-at-start"), component);

            Deployment d = KubernetesObjects.ofKind(objects, Deployment.class).stream()
                    .filter(x -> x.getMetadata().getName().equals("agentspend-" + component)).findFirst().orElseThrow();
            Container c = d.getSpec().getTemplate().getSpec().getContainers().get(0);
            Set<String> env = new TreeSet<>(c.getEnv().stream().map(EnvVar::getName).toList());
            for (String name : clients) {
                String upper = name.toUpperCase().replace('-', '_');
                assertTrue(env.contains("QUARKUS_GRPC_CLIENTS_" + upper + "_HOST"), component + " -> " + name);
                assertTrue(env.contains("QUARKUS_GRPC_CLIENTS_" + upper + "_PORT"), component + " -> " + name);
            }
            // a service refuses to start when a variable its production config needs is unset
            Pattern required = Pattern.compile("\\$\\{([A-Z][A-Z0-9_]*)}");
            for (String key : p.stringPropertyNames()) {
                if (key.startsWith("%")) {
                    continue;
                }
                Matcher m = required.matcher(p.getProperty(key));
                while (m.find()) {
                    assertTrue(env.contains(m.group(1)), component + ": " + key + " needs " + m.group(1)
                            + ", which the chart does not set");
                }
            }
            String image = c.getImage();
            assertTrue(image.contains("/" + MODULES.get(component) + ":"), component + ": image named after its module: " + image);
        }
    }

    @Test
    void chartComponentsAreTheFourServices() throws IOException {
        Map<String, Object> values = values();
        for (String component : Chart.COMPONENTS) {
            assertTrue(values.containsKey(component), component);
        }
        assertFalse(values.containsKey("services"), "one block per service at the top level");
    }
}
