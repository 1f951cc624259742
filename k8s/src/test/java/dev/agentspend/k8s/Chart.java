package dev.agentspend.k8s;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import dev.agentspend.platform.ServiceProcess;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/** The chart under k8s/helm/agentspend, rendered for real by Helm (helm-java, Helm's Go code over JNI). */
final class Chart {
    static final Path K8S = ServiceProcess.repositoryRoot().resolve("k8s");
    static final Path CHART = K8S.resolve("helm/agentspend");
    static final Path MANIFESTS = K8S.resolve("manifests/agentspend.yaml");
    static final String RELEASE = "agentspend";
    static final String NAMESPACE = "agentspend";
    static final List<String> COMPONENTS = List.of("identity", "ledger", "analytics", "alerts");

    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);

    private Chart() {
    }

    /** The rendering with default values: what k8s/manifests/agentspend.yaml holds. */
    static String renderDefault() {
        return render(t -> t);
    }

    /** Renders the chart as release "agentspend" in namespace "agentspend" with extra settings. */
    static String render(UnaryOperator<TemplateCommand> settings) {
        TemplateCommand command = new Helm(CHART).template().withName(RELEASE).withNamespace(NAMESPACE);
        return settings.apply(command).call();
    }

    /** The environment variables with literal values of a rendered Deployment's container. */
    static Map<String, String> plainEnvironment(List<io.fabric8.kubernetes.api.model.HasMetadata> objects, String deployment) {
        var d = KubernetesObjects.ofKind(objects, io.fabric8.kubernetes.api.model.apps.Deployment.class).stream()
                .filter(x -> x.getMetadata().getName().equals(deployment)).findFirst()
                .orElseThrow(() -> new AssertionError("no Deployment " + deployment));
        Map<String, String> env = new java.util.HashMap<>();
        for (var e : d.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv()) {
            if (e.getValue() != null) {
                env.put(e.getName(), e.getValue());
            }
        }
        return env;
    }

    /** Every non-empty YAML document of a rendering, as a generic map. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> documents(String yaml) {
        List<Map<String, Object>> docs = new ArrayList<>();
        try (var parser = YAML.getFactory().createParser(yaml)) {
            var it = YAML.readValues(parser, Map.class);
            while (it.hasNext()) {
                Map<String, Object> doc = it.next();
                if (doc != null && !doc.isEmpty()) {
                    docs.add(doc);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("the rendering is not valid YAML", e);
        }
        return docs;
    }
}
