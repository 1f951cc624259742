package dev.agentspend.k8s;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.platform.ServiceProcess;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the image does, without Docker: the Dockerfile's COPY instructions are applied to the Maven
 * output of identity-service into a local /deployments, the chart's extraConfig ConfigMap is
 * placed where the chart mounts it, and the Dockerfile's ENTRYPOINT runs there with the chart's
 * environment (JAVA_OPTS included). The service must start, read the ConfigMap, and run as the
 * exec'd JVM with the chart's heap flags.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class ImageLayoutTest {
    @Test
    void entrypointRunsTheCopiedLayoutWithTheChartsEnvironmentAndConfigMap() throws Exception {
        String module = "identity-service";
        Path root = ServiceProcess.repositoryRoot();
        Path deployments = Path.of("target/image-root/deployments").toAbsolutePath();
        deleteTree(deployments);
        // COPY <module>/target/quarkus-app/... /deployments/...
        for (String[] copy : ImageTest.instructions().stream().filter(i -> i[0].equals("COPY")).toList()) {
            String[] args = copy[1].split("\\s+");
            copyTree(root.resolve(args[0].replace("${SERVICE}", module)), deployments.resolve(args[1].substring("/deployments/".length())));
        }

        // the chart's ConfigMap for extraConfig, at the chart's mount path /deployments/config
        List<HasMetadata> objects = KubernetesObjects.parse(Chart.render(t -> t
                .set("identity.extraConfig.quarkus\\.log\\.console\\.format", "FROM-CONFIGMAP %s%e%n")));
        ConfigMap config = KubernetesObjects.ofKind(objects, ConfigMap.class).get(0);
        Files.createDirectories(deployments.resolve("config"));
        Files.writeString(deployments.resolve("config/application.properties"), config.getData().get("application.properties"));

        EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
        db.createDatabase("agentspend_image");
        int port = ServiceProcess.freePort();
        Map<String, String> env = new HashMap<>(Chart.plainEnvironment(objects, "agentspend-identity"));
        env.put("QUARKUS_HTTP_PORT", Integer.toString(port));
        env.put("QUARKUS_DATASOURCE_JDBC_URL", db.jdbcUrl("agentspend_image"));
        env.put("QUARKUS_DATASOURCE_REACTIVE_URL", db.reactiveUrl("agentspend_image"));
        env.remove("QUARKUS_DATASOURCE_REACTIVE_TRUST_ALL");
        env.put("QUARKUS_DATASOURCE_USERNAME", EmbeddedDatabase.USER);
        env.put("QUARKUS_DATASOURCE_PASSWORD", "");
        env.put("AGENTSPEND_ADMIN_TOKEN", ReplicasTest.randomToken());
        env.put("AGENTSPEND_SERVICE_TOKEN", ReplicasTest.randomToken());
        String javaOpts = env.get("JAVA_OPTS");
        assertTrue(javaOpts.contains("-XX:MaxRAMPercentage="), javaOpts);

        String entrypoint = ImageTest.instructions().stream().filter(i -> i[0].equals("ENTRYPOINT")).findFirst().orElseThrow()[1];
        List<String> command = new ArrayList<>();
        for (Object part : new ObjectMapper().readValue(entrypoint, List.class)) {
            command.add(part.toString().replace("/deployments", deployments.toString()));
        }
        // the image's java is on PATH; here, the JDK running the tests
        env.put("PATH", Path.of(System.getProperty("java.home"), "bin") + ":" + System.getenv("PATH"));
        Path log = Path.of("target/service-logs/image-layout.log").toAbsolutePath();
        Files.createDirectories(log.getParent());
        ProcessBuilder pb = new ProcessBuilder(command).directory(deployments.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().clear();
        pb.environment().putAll(env);
        Process p = pb.start();
        try {
            awaitReady(p, port, log);
            String cmdline = Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline")).replace('\0', ' ');
            assertTrue(cmdline.startsWith(Path.of(System.getProperty("java.home"), "bin", "java").toString())
                    || cmdline.startsWith("java "), "the shell exec'd the JVM (it gets SIGTERM): " + cmdline);
            for (String flag : javaOpts.split(" ")) {
                assertTrue(cmdline.contains(flag), "JAVA_OPTS flag " + flag + " reached the JVM: " + cmdline);
            }
            assertTrue(cmdline.contains("-Djava.util.logging.manager=org.jboss.logmanager.LogManager"), cmdline);
            assertTrue(Files.readString(log).contains("FROM-CONFIGMAP "), "the ConfigMap's properties were read; see " + log);
        } finally {
            p.destroy();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    static void awaitReady(Process p, int port, Path log) throws InterruptedException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/q/health/ready"))
                .timeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new AssertionError("the entrypoint exited with " + p.exitValue() + "; see " + log);
            }
            try {
                if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new AssertionError("not ready within 180 s; see " + log);
    }

    static void copyTree(Path source, Path target) throws IOException {
        if (Files.isRegularFile(source)) {
            Files.createDirectories(target.getParent());
            Files.copy(source, target, StandardCopyOption.REPLACE_EXISTING);
            return;
        }
        try (Stream<Path> files = Files.walk(source)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path to = target.resolve(source.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(f, to, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (Stream<Path> old = Files.walk(dir)) {
                old.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
