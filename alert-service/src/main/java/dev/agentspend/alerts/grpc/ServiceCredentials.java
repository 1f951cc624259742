package dev.agentspend.alerts.grpc;

import dev.agentspend.alerts.config.AuthConfig;
import dev.agentspend.common.auth.BearerTokens;
import io.grpc.Metadata;

/** The metadata this service presents to the ledger and identity: the service token. */
final class ServiceCredentials {
    private ServiceCredentials() {
    }

    static Metadata headers(AuthConfig auth) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of(BearerTokens.METADATA_KEY, Metadata.ASCII_STRING_MARSHALLER),
                "Bearer " + auth.serviceToken());
        return headers;
    }
}
