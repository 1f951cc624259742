package dev.agentspend.identity.config;

import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * Refuses to start with credentials that would silently grant the wrong rights: an empty token
 * (matches nothing, so the service would be unusable) or one token used for both roles (every
 * service would be an admin).
 */
@ApplicationScoped
public class AuthConfigCheck {
    void onStart(@Observes StartupEvent event, AuthConfig auth) {
        if (auth.adminToken().isBlank() || auth.serviceToken().isBlank()) {
            throw new IllegalStateException("set AGENTSPEND_ADMIN_TOKEN and AGENTSPEND_SERVICE_TOKEN to non-empty values");
        }
        if (auth.adminToken().equals(auth.serviceToken())) {
            throw new IllegalStateException("AGENTSPEND_ADMIN_TOKEN and AGENTSPEND_SERVICE_TOKEN must differ");
        }
    }
}
