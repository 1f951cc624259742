package dev.agentspend.identity.grpc;

import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.proto.identity.v1.*;
import io.grpc.Status;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.concurrent.locks.LockSupport;

import static dev.agentspend.identity.support.Fixtures.*;
import static dev.agentspend.identity.support.Grpc.*;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.*;

/** Authenticate reflects every status and key change on the very next call. */
@QuarkusTest
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
class AuthenticateGrpcTest {

    @Test
    void suspensionCutsOffAtOnceAndReinstatementRestores() {
        CreateAgentResponse created = createAgent();
        String key = created.getApiKeySecret();
        AuthenticateResponse ok = authenticate(key);
        assertEquals(created.getAgent().getId(), ok.getAgent().getId());
        assertEquals(created.getApiKey().getKeyId(), ok.getKeyId());

        admin().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(requestId())
                .setAgentId(created.getAgent().getId()).build());
        assertEquals("INVALID_API_KEY", reason(fails(Status.Code.UNAUTHENTICATED, () -> authenticate(key))));

        admin().reinstateAgent(ReinstateAgentRequest.newBuilder().setRequestId(requestId())
                .setAgentId(created.getAgent().getId()).build());
        assertEquals(created.getAgent().getId(), authenticate(key).getAgent().getId());
    }

    @Test
    void revocationKillsEveryKeyForGood() {
        CreateAgentResponse created = createAgent();
        String second = admin().createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(requestId())
                .setAgentId(created.getAgent().getId()).build()).getApiKeySecret();
        authenticate(second);
        admin().revokeAgent(RevokeAgentRequest.newBuilder().setRequestId(requestId())
                .setAgentId(created.getAgent().getId()).build());
        fails(Status.Code.UNAUTHENTICATED, () -> authenticate(created.getApiKeySecret()));
        fails(Status.Code.UNAUTHENTICATED, () -> authenticate(second));
    }

    @Test
    void rotatedKeyWorksAlongsideTheOldUntilTheOldIsRevoked() {
        CreateAgentResponse created = createAgent();
        String oldKey = created.getApiKeySecret();
        CreateApiKeyResponse rotated = admin().createApiKey(CreateApiKeyRequest.newBuilder().setRequestId(requestId())
                .setAgentId(created.getAgent().getId()).setDescription("rotation").build());
        String newKey = rotated.getApiKeySecret();

        assertEquals(created.getApiKey().getKeyId(), authenticate(oldKey).getKeyId());
        assertEquals(rotated.getApiKey().getKeyId(), authenticate(newKey).getKeyId());

        admin().revokeApiKey(RevokeApiKeyRequest.newBuilder().setRequestId(requestId())
                .setKeyId(created.getApiKey().getKeyId()).build());
        fails(Status.Code.UNAUTHENTICATED, () -> authenticate(oldKey));
        assertEquals(rotated.getApiKey().getKeyId(), authenticate(newKey).getKeyId());
    }

    @Test
    void expiredKeyFailsOnTheFirstCallAfterItsExpiry() {
        var expire = inFuture(2);
        CreateAgentResponse created = admin().createAgent(agentRequest().setKeyExpireTime(expire).build());
        String key = created.getApiKeySecret();
        authenticate(key);
        Instant expiry = Instant.ofEpochSecond(expire.getSeconds(), expire.getNanos());
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!Instant.now().isAfter(expiry) && System.nanoTime() < deadline) {
            LockSupport.parkNanos(20_000_000L);
        }
        fails(Status.Code.UNAUTHENTICATED, () -> authenticate(key));
    }

    @Test
    void wrongSecretsAndGarbageAreUnauthenticatedAndCounted() {
        CreateAgentResponse created = createAgent();
        String key = created.getApiKeySecret();
        char last = key.charAt(key.length() - 1);
        String tampered = key.substring(0, key.length() - 1) + (last == 'A' ? 'B' : 'A');
        fails(Status.Code.UNAUTHENTICATED, () -> authenticate(tampered));
        fails(Status.Code.UNAUTHENTICATED, () -> authenticate("as_garbage"));
        fails(Status.Code.UNAUTHENTICATED, () -> authenticate(""));
        authenticate(key);
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("identity_authentications_total{result=\"wrong_secret\"}"))
                .body(containsString("identity_authentications_total{result=\"malformed\"}"))
                .body(containsString("identity_authentications_total{result=\"ok\"}"));
    }

    @Test
    void adminMayAuthenticateToo() {
        CreateAgentResponse created = createAgent();
        assertEquals(created.getAgent().getId(), admin().authenticate(AuthenticateRequest.newBuilder()
                .setApiKey(created.getApiKeySecret()).build()).getAgent().getId());
    }

    private static AuthenticateResponse authenticate(String key) {
        return service().authenticate(AuthenticateRequest.newBuilder().setApiKey(key).build());
    }
}
