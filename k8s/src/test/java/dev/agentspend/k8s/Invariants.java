package dev.agentspend.k8s;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

import static dev.agentspend.k8s.KubernetesObjects.ofKind;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * What must hold for every rendering of the chart, whatever the values: hardened pods, probes,
 * resources, no API token, Secrets for every credential, selectors that select, and a
 * NetworkPolicy in front of every service.
 */
final class Invariants {
    static final Set<String> STANDARD_LABELS = Set.of("helm.sh/chart", "app.kubernetes.io/name",
            "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by",
            "app.kubernetes.io/part-of");
    static final Set<String> SECRET_ENV = Set.of("QUARKUS_DATASOURCE_USERNAME", "QUARKUS_DATASOURCE_PASSWORD",
            "AGENTSPEND_ADMIN_TOKEN", "AGENTSPEND_SERVICE_TOKEN");

    private Invariants() {
    }

    static void check(List<HasMetadata> objects, boolean tls, boolean networkPolicies) {
        assertFalse(objects.isEmpty(), "nothing rendered");
        Set<String> seen = new HashSet<>();
        for (HasMetadata o : objects) {
            String id = o.getKind() + "/" + o.getMetadata().getName();
            assertTrue(seen.add(id), "rendered twice: " + id);
            assertEquals(Chart.NAMESPACE, o.getMetadata().getNamespace(), id + " has no explicit namespace");
            assertTrue(o.getMetadata().getLabels().keySet().containsAll(STANDARD_LABELS),
                    id + " lacks standard labels: " + o.getMetadata().getLabels());
            assertTrue(o.getMetadata().getName().length() <= 63, id + " name longer than 63");
        }

        List<Deployment> deployments = ofKind(objects, Deployment.class);
        assertFalse(deployments.isEmpty(), "no Deployment rendered");
        for (Deployment d : deployments) {
            String name = d.getMetadata().getName();
            PodSpec pod = d.getSpec().getTemplate().getSpec();
            Map<String, String> podLabels = d.getSpec().getTemplate().getMetadata().getLabels();
            assertTrue(podLabels.entrySet().containsAll(d.getSpec().getSelector().getMatchLabels().entrySet()),
                    name + ": selector does not select its own pods");
            assertTrue(podLabels.containsKey("app.kubernetes.io/component"), name + ": no component label");
            checkPodHardened(name, pod);
            assertEquals(1, pod.getContainers().size(), name + ": one container expected");
            Container c = pod.getContainers().get(0);
            checkService(name, c, tls);
            checkServiceAccount(name, pod, objects);

            boolean autoscaled = ofKind(objects, HorizontalPodAutoscaler.class).stream()
                    .anyMatch(h -> h.getSpec().getScaleTargetRef().getName().equals(name));
            if (autoscaled) {
                assertNull(d.getSpec().getReplicas(), name + ": replicas set although an HPA owns them");
            } else {
                assertNotNull(d.getSpec().getReplicas(), name + ": no replicas and no HPA");
            }

            List<Service> services = ofKind(objects, Service.class).stream()
                    .filter(s -> selects(s.getSpec().getSelector(), podLabels)).toList();
            assertEquals(1, services.size(), name + ": exactly one Service expected to select it");
            List<ServicePort> servicePorts = services.get(0).getSpec().getPorts();
            ServicePort sp = servicePorts.get(0);
            assertEquals(tls ? "https" : "grpc", sp.getName(), name + ": Service port name");
            assertNotNull(sp.getAppProtocol(), name + ": Service port without appProtocol");
            assertEquals("http", sp.getTargetPort().getStrVal(), name + ": Service targetPort");
            assertEquals(c.getPorts().get(0).getContainerPort(), sp.getPort(), name + ": Service port differs");
            assertEquals(c.getPorts().size(), servicePorts.size(), name + ": one Service port per container port");
            if (mutualTls(c)) {
                ServicePort grpc = servicePorts.get(1);
                assertEquals("grpc", grpc.getTargetPort().getStrVal(), name + ": mutual-TLS Service targetPort");
                assertEquals(c.getPorts().get(1).getContainerPort(), grpc.getPort(), name + ": mutual-TLS Service port differs");
                assertNotNull(grpc.getAppProtocol(), name + ": mutual-TLS Service port without appProtocol");
            }

            if (networkPolicies) {
                List<NetworkPolicy> policies = ofKind(objects, NetworkPolicy.class).stream()
                        .filter(p -> selects(p.getSpec().getPodSelector().getMatchLabels(), podLabels)).toList();
                assertEquals(1, policies.size(), name + ": exactly one NetworkPolicy expected");
                checkNetworkPolicy(name, podLabels.get("app.kubernetes.io/component"), policies.get(0), mutualTls(c));
            }
        }
        for (HorizontalPodAutoscaler h : ofKind(objects, HorizontalPodAutoscaler.class)) {
            assertTrue(deployments.stream().anyMatch(d -> d.getMetadata().getName()
                    .equals(h.getSpec().getScaleTargetRef().getName())), "HPA without Deployment: " + h);
            assertTrue(h.getSpec().getMinReplicas() >= 2, "an HPA below 2 replicas defeats the PDB");
        }
        for (PodDisruptionBudget pdb : ofKind(objects, PodDisruptionBudget.class)) {
            assertEquals(1, deployments.stream().filter(d -> selects(pdb.getSpec().getSelector().getMatchLabels(),
                    d.getSpec().getTemplate().getMetadata().getLabels())).count(), "PDB selecting no Deployment");
            assertNull(pdb.getSpec().getMinAvailable(), "minAvailable blocks node drains with one replica");
        }
        for (ServiceMonitor sm : ofKind(objects, ServiceMonitor.class)) {
            assertEquals(1, ofKind(objects, Service.class).stream().filter(s -> selects(
                    sm.getSpec().getSelector().getMatchLabels(), s.getMetadata().getLabels())).count(),
                    "ServiceMonitor selecting no Service");
            assertEquals("/q/metrics", sm.getSpec().getEndpoints().get(0).getPath());
            assertEquals(tls ? "https" : "grpc", sm.getSpec().getEndpoints().get(0).getPort());
        }
        for (ServiceAccount sa : ofKind(objects, ServiceAccount.class)) {
            assertEquals(Boolean.FALSE, sa.getAutomountServiceAccountToken(), sa.getMetadata().getName());
        }
        for (Pod p : ofKind(objects, Pod.class)) {
            checkPodHardened(p.getMetadata().getName(), p.getSpec());
        }
    }

    /** gRPC on its own port with client certificates (tls.mutual): a second container port named grpc. */
    static boolean mutualTls(Container c) {
        return c.getPorts().size() == 2 && "grpc".equals(c.getPorts().get(1).getName());
    }

    static boolean selects(Map<String, String> selector, Map<String, String> labels) {
        return selector != null && !selector.isEmpty() && labels != null
                && labels.entrySet().containsAll(selector.entrySet());
    }

    static void checkPodHardened(String name, PodSpec pod) {
        assertEquals(Boolean.FALSE, pod.getAutomountServiceAccountToken(), name + ": API token mounted");
        assertNotEquals(Boolean.TRUE, pod.getHostNetwork(), name);
        assertNotEquals(Boolean.TRUE, pod.getHostPID(), name);
        PodSecurityContext psc = pod.getSecurityContext();
        assertNotNull(psc, name + ": no pod securityContext");
        assertEquals(Boolean.TRUE, psc.getRunAsNonRoot(), name + ": pod runAsNonRoot");
        assertNotNull(psc.getRunAsUser(), name + ": no fixed uid");
        assertTrue(psc.getRunAsUser() >= 10000, name + ": uid below 10000 may clash with host users");
        assertEquals("RuntimeDefault", psc.getSeccompProfile().getType(), name + ": pod seccomp");
        Set<String> emptyDirs = new HashSet<>();
        for (Volume v : pod.getVolumes() == null ? List.<Volume>of() : pod.getVolumes()) {
            assertNull(v.getHostPath(), name + ": hostPath volume");
            if (v.getEmptyDir() != null) {
                emptyDirs.add(v.getName());
            }
        }
        for (Container c : pod.getContainers()) {
            String where = name + "/" + c.getName();
            SecurityContext sc = c.getSecurityContext();
            assertNotNull(sc, where + ": no securityContext");
            assertEquals(Boolean.TRUE, sc.getRunAsNonRoot(), where + ": runAsNonRoot");
            assertNotEquals(Long.valueOf(0), sc.getRunAsUser(), where + ": runs as root");
            assertEquals(Boolean.TRUE, sc.getReadOnlyRootFilesystem(), where + ": readOnlyRootFilesystem");
            assertEquals(Boolean.FALSE, sc.getAllowPrivilegeEscalation(), where + ": allowPrivilegeEscalation");
            assertNotEquals(Boolean.TRUE, sc.getPrivileged(), where + ": privileged");
            assertEquals(List.of("ALL"), sc.getCapabilities().getDrop(), where + ": capabilities not all dropped");
            assertTrue(sc.getCapabilities().getAdd() == null || sc.getCapabilities().getAdd().isEmpty(),
                    where + ": capabilities added");
            assertEquals("RuntimeDefault", sc.getSeccompProfile().getType(), where + ": seccomp");
            assertNotNull(c.getResources().getRequests().get("cpu"), where + ": no cpu request");
            assertNotNull(c.getResources().getRequests().get("memory"), where + ": no memory request");
            assertNotNull(c.getResources().getLimits().get("memory"), where + ": no memory limit");
            assertTrue(c.getImage().matches(".+:[A-Za-z0-9_][A-Za-z0-9_.-]*") && !c.getImage().endsWith(":latest"),
                    where + ": image without a fixed tag: " + c.getImage());
            for (VolumeMount m : c.getVolumeMounts() == null ? List.<VolumeMount>of() : c.getVolumeMounts()) {
                if (!emptyDirs.contains(m.getName())) {
                    assertEquals(Boolean.TRUE, m.getReadOnly(), where + ": writable mount " + m.getMountPath());
                }
            }
        }
    }

    private static void checkService(String name, Container c, boolean tls) {
        assertEquals(mutualTls(c) ? 2 : 1, c.getPorts().size(),
                name + ": one port (HTTP and gRPC share it), or a second one for gRPC with mutual TLS");
        ContainerPort port = c.getPorts().get(0);
        assertEquals("http", port.getName());
        assertTrue(c.getVolumeMounts().stream().anyMatch(m -> m.getMountPath().equals("/tmp")),
                name + ": no writable /tmp on a read-only root filesystem");
        checkProbe(name, "startup", c.getStartupProbe(), "/q/health/started", tls);
        checkProbe(name, "liveness", c.getLivenessProbe(), "/q/health/live", tls);
        checkProbe(name, "readiness", c.getReadinessProbe(), "/q/health/ready", tls);
        Map<String, EnvVar> env = new java.util.HashMap<>();
        for (EnvVar e : c.getEnv()) {
            assertNull(env.put(e.getName(), e), name + ": env " + e.getName() + " set twice");
        }
        assertEquals(String.valueOf(port.getContainerPort()), env.get("QUARKUS_HTTP_PORT").getValue(),
                name + ": QUARKUS_HTTP_PORT differs from the container port");
        assertTrue(env.get("QUARKUS_DATASOURCE_JDBC_URL").getValue().startsWith("jdbc:postgresql://"), name);
        assertTrue(env.get("QUARKUS_DATASOURCE_REACTIVE_URL").getValue().startsWith("postgresql://"), name);
        assertTrue(env.get("JAVA_OPTS").getValue().contains("RAMPercentage"), name + ": heap not sized to the container");
        for (String secret : SECRET_ENV) {
            EnvVar e = env.get(secret);
            assertNotNull(e, name + ": " + secret + " missing");
            assertNull(e.getValue(), name + ": " + secret + " in clear text");
            assertNotNull(e.getValueFrom().getSecretKeyRef(), name + ": " + secret + " not from a Secret");
        }
        if (tls) {
            assertEquals(String.valueOf(port.getContainerPort()), env.get("QUARKUS_HTTP_SSL_PORT").getValue(), name);
            for (String file : List.of("QUARKUS_HTTP_SSL_CERTIFICATE_FILES", "QUARKUS_HTTP_SSL_CERTIFICATE_KEY_FILES")) {
                String path = env.get(file).getValue();
                assertTrue(c.getVolumeMounts().stream().anyMatch(m -> path.startsWith(m.getMountPath() + "/")
                        && Boolean.TRUE.equals(m.getReadOnly())), name + ": " + file + " not on a read-only mount");
            }
            assertNotNull(env.get("QUARKUS_HTTP_INSECURE_REQUESTS"), name);
        } else {
            assertNull(env.get("QUARKUS_HTTP_SSL_PORT"), name);
        }
        if (mutualTls(c)) {
            assertTrue(tls, name + ": mutual TLS without TLS");
            assertEquals("true", env.get("QUARKUS_GRPC_SERVER_USE_SEPARATE_SERVER").getValue(), name);
            assertEquals(String.valueOf(c.getPorts().get(1).getContainerPort()), env.get("QUARKUS_GRPC_SERVER_PORT").getValue(),
                    name + ": QUARKUS_GRPC_SERVER_PORT differs from the grpc container port");
            assertTrue(List.of("REQUIRED", "REQUEST").contains(env.get("QUARKUS_GRPC_SERVER_SSL_CLIENT_AUTH").getValue()), name);
            assertNotNull(env.get("QUARKUS_GRPC_SERVER_SSL_TRUST_STORE_PASSWORD").getValueFrom().getSecretKeyRef(),
                    name + ": trust store password not from a Secret");
            for (String file : List.of("QUARKUS_GRPC_SERVER_SSL_CERTIFICATE", "QUARKUS_GRPC_SERVER_SSL_KEY",
                    "QUARKUS_GRPC_SERVER_SSL_TRUST_STORE")) {
                String path = env.get(file).getValue();
                assertTrue(c.getVolumeMounts().stream().anyMatch(m -> path.startsWith(m.getMountPath() + "/")
                        && Boolean.TRUE.equals(m.getReadOnly())), name + ": " + file + " not on a read-only mount");
            }
            env.keySet().stream().filter(k -> k.startsWith("QUARKUS_GRPC_CLIENTS_") && k.endsWith("_HOST")).forEach(host -> {
                String client = host.substring(0, host.length() - "HOST".length());
                assertEquals(String.valueOf(c.getPorts().get(1).getContainerPort()), env.get(client + "PORT").getValue(),
                        name + ": " + client + " does not call its peer's gRPC port");
                assertNotNull(env.get(client + "SSL_CERTIFICATE"), name + ": " + client + " presents no certificate");
                assertNotNull(env.get(client + "SSL_KEY"), name + ": " + client + " presents no key");
            });
        }
    }

    private static void checkProbe(String name, String kind, Probe probe, String path, boolean tls) {
        assertNotNull(probe, name + ": no " + kind + " probe");
        HTTPGetAction get = probe.getHttpGet();
        assertNotNull(get, name + ": " + kind + " probe is not an HTTP GET");
        assertEquals(path, get.getPath(), name + ": " + kind + " probe path");
        assertEquals("http", get.getPort().getStrVal(), name + ": " + kind + " probe port");
        assertEquals(tls ? "HTTPS" : "HTTP", get.getScheme(), name + ": " + kind + " probe scheme");
        assertNotNull(probe.getTimeoutSeconds(), name + ": " + kind + " probe timeout");
    }

    private static void checkServiceAccount(String name, PodSpec pod, List<HasMetadata> objects) {
        String sa = pod.getServiceAccountName();
        assertNotNull(sa, name + ": no serviceAccountName");
        ofKind(objects, ServiceAccount.class).stream().filter(s -> s.getMetadata().getName().equals(sa))
                .forEach(s -> assertEquals(Boolean.FALSE, s.getAutomountServiceAccountToken()));
    }

    private static void checkNetworkPolicy(String name, String component, NetworkPolicy p, boolean mutualTls) {
        assertEquals(List.of("Ingress"), p.getSpec().getPolicyTypes(), name);
        assertEquals(1, p.getSpec().getIngress().size(), name + ": one ingress rule expected");
        var rule = p.getSpec().getIngress().get(0);
        assertEquals(mutualTls ? List.of("http", "grpc") : List.of("http"),
                rule.getPorts().stream().map(x -> x.getPort().getStrVal()).toList(), name + ": open ports");
        List<NetworkPolicyPeer> from = rule.getFrom() == null ? List.of() : rule.getFrom();
        for (NetworkPolicyPeer peer : from) {
            boolean empty = peer.getPodSelector() == null && peer.getNamespaceSelector() == null && peer.getIpBlock() == null;
            assertFalse(empty, name + ": an empty peer admits everyone");
            if (peer.getNamespaceSelector() != null) {
                var ns = peer.getNamespaceSelector();
                assertFalse(Objects.requireNonNullElse(ns.getMatchLabels(), Map.of()).isEmpty()
                        && (ns.getMatchExpressions() == null || ns.getMatchExpressions().isEmpty()),
                        name + ": an empty namespaceSelector admits every namespace");
            }
        }
        if (!component.equals("ledger")) {
            if (from.isEmpty()) {
                fail(name + ": " + component + " is internal but its NetworkPolicy admits any source");
            }
            assertTrue(from.stream().anyMatch(peer -> peer.getPodSelector() != null && peer.getNamespaceSelector() == null
                    && Map.of("app.kubernetes.io/instance", Chart.RELEASE).entrySet().stream().allMatch(e ->
                    e.getValue().equals(peer.getPodSelector().getMatchLabels().get(e.getKey())))),
                    name + ": the release's own pods cannot reach it");
        }
    }
}
