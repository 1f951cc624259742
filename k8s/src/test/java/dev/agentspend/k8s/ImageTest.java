package dev.agentspend.k8s;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What can be checked of k8s/image/Dockerfile.jvm without a Docker engine: that it copies paths
 * the Maven build really produces, runs as the non-root uid the chart expects, starts the fast-jar
 * runner with JAVA_OPTS, and sends only the Maven output to the builder.
 */
class ImageTest {
    static final Path DOCKERFILE = Chart.K8S.resolve("image/Dockerfile.jvm");
    static final Path DOCKERIGNORE = Chart.K8S.resolve("image/Dockerfile.jvm.dockerignore");

    /** Instructions with continuation lines joined and comments dropped. */
    static List<String[]> instructions() throws IOException {
        String text = Files.readString(DOCKERFILE).replaceAll("\\\\\\n", " ");
        List<String[]> result = new ArrayList<>();
        for (String line : text.split("\n")) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            String[] parts = l.split("\\s+", 2);
            result.add(new String[] {parts[0].toUpperCase(), parts.length > 1 ? parts[1] : ""});
        }
        return result;
    }

    @Test
    void copiesWhatTheMavenBuildProducesForEveryBuiltService() throws IOException {
        List<String[]> copies = instructions().stream().filter(i -> i[0].equals("COPY")).toList();
        assertEquals(4, copies.size(), "four layers: lib, runner, app, quarkus");
        int checked = 0;
        for (String module : ServiceConfigurationTest.MODULES.values()) {
            Path app = ServiceConfigurationTest.ROOT.resolve(module).resolve("target/quarkus-app");
            boolean mustExist = module.equals("identity-service") || module.equals("ledger-service");
            if (!Files.isDirectory(app)) {
                assertFalse(mustExist, module + " is not built: mvn -B install -pl " + module + " -DskipTests");
                continue;
            }
            for (String[] copy : copies) {
                String[] args = copy[1].split("\\s+");
                assertEquals(2, args.length, "COPY <source> <destination>: " + copy[1]);
                assertFalse(args[0].startsWith("--chown"), "files stay root-owned and read-only for the service");
                Path source = ServiceConfigurationTest.ROOT.resolve(args[0].replace("${SERVICE}", module));
                assertTrue(Files.exists(source), "COPY source missing after the Maven build: " + source);
                assertTrue(args[1].startsWith("/deployments/"), "COPY destination outside /deployments: " + args[1]);
            }
            checked++;
        }
        assertTrue(checked >= 2, "at least identity and ledger must be checked");
    }

    @Test
    void runsAsTheNonRootUidOfTheChart() throws IOException {
        List<String[]> users = instructions().stream().filter(i -> i[0].equals("USER")).toList();
        assertEquals(1, users.size(), "one USER instruction");
        String user = users.get(0)[1];
        assertTrue(user.matches("\\d+:\\d+"), "numeric uid:gid, so that runAsNonRoot can be verified: " + user);
        @SuppressWarnings("unchecked")
        Map<String, Object> psc = (Map<String, Object>) Chart.YAML.readValue(
                Chart.CHART.resolve("values.yaml").toFile(), Map.class).get("podSecurityContext");
        assertEquals(psc.get("runAsUser") + ":" + psc.get("runAsGroup"), user, "image user vs chart securityContext");
        List<String> order = instructions().stream().map(i -> i[0]).toList();
        assertTrue(order.lastIndexOf("USER") > order.lastIndexOf("RUN"), "nothing runs as root after USER");
        assertTrue(order.lastIndexOf("USER") < order.indexOf("ENTRYPOINT"), "the entrypoint runs as the user");
    }

    @Test
    void startsTheFastJarWithJavaOptsAndAPinnedBase() throws IOException {
        List<String[]> ins = instructions();
        String entrypoint = ins.stream().filter(i -> i[0].equals("ENTRYPOINT")).findFirst().orElseThrow()[1];
        assertTrue(entrypoint.startsWith("["), "exec form");
        assertTrue(entrypoint.contains("exec java"), "the JVM replaces the shell and receives SIGTERM");
        assertTrue(entrypoint.contains("$JAVA_OPTS"), "the chart's JAVA_OPTS reach the JVM");
        assertTrue(entrypoint.contains("-jar /deployments/quarkus-run.jar"), entrypoint);
        assertTrue(ins.stream().anyMatch(i -> i[0].equals("COPY") && i[1].endsWith(" /deployments/quarkus-run.jar")));
        assertTrue(ins.stream().anyMatch(i -> i[0].equals("WORKDIR") && i[1].equals("/deployments")),
                "the chart mounts extra config at /deployments/config, read from the working directory");
        Matcher base = Pattern.compile("(?m)^ARG JAVA_IMAGE=(\\S+)$").matcher(Files.readString(DOCKERFILE));
        assertTrue(base.find(), "the base image is a build argument with a default");
        assertTrue(base.group(1).matches("[^:]+:17[^:]*") && !base.group(1).endsWith(":latest"),
                "a Java 17 base with a fixed tag: " + base.group(1));
        assertTrue(ins.stream().anyMatch(i -> i[0].equals("ARG") && i[1].equals("SERVICE")), "SERVICE build argument");
    }

    @Test
    void onlyTheMavenOutputGoesToTheBuilder() throws IOException {
        List<String> lines = Files.readAllLines(DOCKERIGNORE).stream()
                .filter(l -> !l.isBlank() && !l.startsWith("#")).toList();
        assertEquals(List.of("*", "!*/target/quarkus-app/"), lines);
    }
}
