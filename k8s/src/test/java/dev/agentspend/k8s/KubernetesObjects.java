package dev.agentspend.k8s;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.PrometheusRule;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Binds rendered YAML documents to the fabric8 Kubernetes model of their kind, strictly: an
 * unknown apiVersion/kind fails, a value of the wrong type fails, and a field the model does not
 * know (which fabric8 would otherwise keep quietly in an additionalProperties map) fails.
 */
final class KubernetesObjects {
    private static final Map<String, Class<? extends HasMetadata>> KINDS = Map.of(
            "v1/ServiceAccount", ServiceAccount.class,
            "v1/Service", Service.class,
            "v1/ConfigMap", ConfigMap.class,
            "v1/Pod", Pod.class,
            "apps/v1/Deployment", Deployment.class,
            "autoscaling/v2/HorizontalPodAutoscaler", HorizontalPodAutoscaler.class,
            "policy/v1/PodDisruptionBudget", PodDisruptionBudget.class,
            "networking.k8s.io/v1/NetworkPolicy", NetworkPolicy.class,
            "monitoring.coreos.com/v1/ServiceMonitor", ServiceMonitor.class,
            "monitoring.coreos.com/v1/PrometheusRule", PrometheusRule.class);

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS);

    private KubernetesObjects() {
    }

    /** Every document of a rendering as its typed object; throws on the first invalid one. */
    static List<HasMetadata> parse(String yaml) {
        List<HasMetadata> objects = new ArrayList<>();
        for (Map<String, Object> doc : Chart.documents(yaml)) {
            objects.add(bind(doc));
        }
        return objects;
    }

    static HasMetadata bind(Map<String, Object> doc) {
        String key = doc.get("apiVersion") + "/" + doc.get("kind");
        Class<? extends HasMetadata> type = KINDS.get(key);
        if (type == null) {
            throw new AssertionError("unexpected kind " + key + " in " + doc);
        }
        HasMetadata object;
        try {
            object = JSON.convertValue(doc, type);
        } catch (IllegalArgumentException e) {
            throw new AssertionError(key + " does not bind to " + type.getSimpleName() + ": " + e.getMessage(), e);
        }
        List<String> unknown = new ArrayList<>();
        collectUnknownFields(object, key + " " + object.getMetadata().getName(), unknown);
        if (!unknown.isEmpty()) {
            throw new AssertionError("fields the Kubernetes model does not know: " + unknown);
        }
        return object;
    }

    /**
     * Walks a fabric8 object graph and reports every non-empty additionalProperties map: the
     * fields that a typo or a wrong indentation put where the API server would reject or ignore them.
     */
    static void collectUnknownFields(Object value, String path, List<String> unknown) {
        if (value == null) {
            return;
        }
        if (value instanceof Collection<?> items) {
            int i = 0;
            for (Object item : items) {
                collectUnknownFields(item, path + "[" + i++ + "]", unknown);
            }
            return;
        }
        if (value instanceof Map<?, ?> map) {
            for (Map.Entry<?, ?> e : map.entrySet()) {
                collectUnknownFields(e.getValue(), path + "." + e.getKey(), unknown);
            }
            return;
        }
        if (!value.getClass().getName().startsWith("io.fabric8.")) {
            return;
        }
        for (Method m : value.getClass().getMethods()) {
            if (m.getParameterCount() != 0 || Modifier.isStatic(m.getModifiers())
                    || !(m.getName().startsWith("get") || m.getName().startsWith("is"))
                    || m.getDeclaringClass() == Object.class) {
                continue;
            }
            Object child;
            try {
                child = m.invoke(value);
            } catch (IllegalAccessException | InvocationTargetException e) {
                continue;
            }
            if (m.getName().equals("getAdditionalProperties")) {
                if (child instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    unknown.add(path + ": " + extra.keySet());
                }
                continue;
            }
            if (child != null && (child instanceof Collection<?> || child instanceof Map<?, ?>
                    || child.getClass().getName().startsWith("io.fabric8."))) {
                collectUnknownFields(child, path + "." + propertyName(m.getName()), unknown);
            }
        }
    }

    private static String propertyName(String getter) {
        String bare = getter.startsWith("is") ? getter.substring(2) : getter.substring(3);
        return bare.isEmpty() ? bare : Character.toLowerCase(bare.charAt(0)) + bare.substring(1);
    }

    @SuppressWarnings("unchecked")
    static <T extends HasMetadata> List<T> ofKind(List<HasMetadata> objects, Class<T> type) {
        return objects.stream().filter(type::isInstance).map(o -> (T) o).toList();
    }
}
