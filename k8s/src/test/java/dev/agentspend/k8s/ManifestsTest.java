package dev.agentspend.k8s;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * k8s/manifests/agentspend.yaml is the chart rendered with default values (release and namespace
 * "agentspend"), without the `helm test` hook pod. Regenerate it after a chart change with
 * {@code mvn -B test -pl k8s -Dtest=ManifestsTest -Dagentspend.k8s.regenerate=true}.
 */
class ManifestsTest {
    static final String HEADER = """
            # AgentSpend: plain Kubernetes manifests, rendered from k8s/helm/agentspend with default
            # values (release "agentspend", namespace "agentspend"). Do not edit: change the chart and
            # regenerate with
            #   mvn -B test -pl k8s -Dtest=ManifestsTest -Dagentspend.k8s.regenerate=true
            # A test fails when this file and the chart's rendering differ.
            #
            # Before applying: kubectl create namespace agentspend, then create the Secrets
            # agentspend-database (keys username, password) and agentspend-credentials (keys
            # admin-token, service-token, webhook-key: openssl rand -base64 32); see README.md,
            # "Deploying on Kubernetes".
            """;

    static String expected() {
        String rendered = Chart.renderDefault();
        String withoutTests = Arrays.stream(rendered.split("(?m)^---\\s*$"))
                .filter(doc -> !doc.isBlank())
                .filter(doc -> !doc.contains("helm.sh/hook"))
                .map(doc -> "---\n" + doc.strip() + "\n")
                .collect(Collectors.joining());
        return HEADER + withoutTests;
    }

    @Test
    void manifestsEqualTheChartRendering() throws IOException {
        String expected = expected();
        if (Boolean.getBoolean("agentspend.k8s.regenerate")) {
            Files.createDirectories(Chart.MANIFESTS.getParent());
            Files.writeString(Chart.MANIFESTS, expected);
        }
        assertTrue(Files.isRegularFile(Chart.MANIFESTS), Chart.MANIFESTS + " is missing");
        String actual = Files.readString(Chart.MANIFESTS);
        assertEquals(expected, actual, "k8s/manifests/agentspend.yaml is stale: regenerate it with "
                + "mvn -B test -pl k8s -Dtest=ManifestsTest -Dagentspend.k8s.regenerate=true");
    }

    @Test
    void theHeaderNamesEverySecretKeyTheManifestsRead() throws IOException {
        String manifests = Files.readString(Chart.MANIFESTS);
        java.util.regex.Matcher ref = java.util.regex.Pattern.compile(
                "secretKeyRef:\\s*\\n\\s*name:\\s*(\\S+)\\s*\\n\\s*key:\\s*(\\S+)").matcher(manifests);
        int found = 0;
        while (ref.find()) {
            found++;
            assertTrue(HEADER.contains(ref.group(1)), "the header does not name Secret " + ref.group(1));
            assertTrue(HEADER.contains(ref.group(2)), "the header does not name key " + ref.group(2) + " of " + ref.group(1));
        }
        assertTrue(found > 0, "no secretKeyRef found: the pattern no longer matches the rendering");
    }

    @Test
    void manifestsAreValidAndHardened() throws IOException {
        var objects = KubernetesObjects.parse(Files.readString(Chart.MANIFESTS));
        Invariants.check(objects, false, true);
        assertFalse(objects.stream().anyMatch(o -> o.getMetadata().getAnnotations() != null
                && o.getMetadata().getAnnotations().containsKey("helm.sh/hook")), "helm test hooks in plain manifests");
    }
}
