package dev.agentspend.k8s;

import com.marcnuri.helm.DryRun;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** NOTES.txt, as `helm install` prints it (a client-side dry run: no cluster needed). */
class NotesTest {
    static String notes(UnaryOperator<InstallCommand> settings) {
        InstallCommand install = new Helm(Chart.CHART).install().withName(Chart.RELEASE).withNamespace(Chart.NAMESPACE)
                .dryRun().withDryRunOption(DryRun.CLIENT).clientOnly();
        return settings.apply(install).call().getOutput();
    }

    @Test
    void notesNameTheAddressesAndTheSecrets() {
        String out = notes(i -> i);
        assertTrue(out.contains("agentspend-ledger.agentspend.svc:8082"), out);
        assertTrue(out.contains("agentspend-identity.agentspend.svc:8081"), out);
        assertTrue(out.contains("agentspend-database (keys username, password)"), out);
        assertTrue(out.contains("agentspend-credentials (keys admin-token, service-token, webhook-key)"), out);
        assertTrue(out.contains("helm test agentspend -n agentspend"), out);
        assertTrue(out.contains("agentspend.dev/admin=true"), out);
    }

    @Test
    void notesFollowTheValues() {
        String out = notes(i -> i.withValuesFile(Path.of("src/test/resources/values/everything.yaml").toAbsolutePath()));
        assertTrue(out.contains("spend-ledger.agentspend.svc:8082"), out);
        assertTrue(out.contains("https://localhost:8083/"), out);
        assertFalse(out.contains("spend-alerts"), "alerts is disabled: " + out);
    }

    @Test
    void notesPointAgentsAtTheMutualTlsPort() {
        String out = notes(i -> i.withValuesFile(Path.of("src/test/resources/values/mutual-tls.yaml").toAbsolutePath()));
        assertTrue(out.contains("agentspend-ledger.agentspend.svc:9443"), out);
        assertTrue(out.contains("with a client certificate signed by it"), out);
    }
}
