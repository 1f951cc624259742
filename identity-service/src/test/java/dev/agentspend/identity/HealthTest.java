package dev.agentspend.identity;

import dev.agentspend.identity.support.Grpc;
import dev.agentspend.platform.EmbeddedDatabase;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.proto.identity.v1.ListAgentsRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.is;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

@QuarkusTest
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
class HealthTest {
    @Test
    void readyChecksTheDatabase() {
        given().get("/q/health/ready").then().statusCode(200).body("status", is("UP"))
                .body(containsString("Reactive PostgreSQL connections health check"));
    }

    @Test
    void metricsArePrometheus() {
        given().get("/q/metrics").then().statusCode(200).body(containsString("jvm_memory_used_bytes"));
    }

    @Test
    void readinessIsDownWhileTheDatabaseIsUnreachableAndUpWhenItReturns() {
        Assumptions.assumeTrue(System.getenv("QUARKUS_DATASOURCE_JDBC_URL") == null,
                "only the embedded test database can be taken away");
        EmbeddedDatabase db = EmbeddedPostgresTestResource.server();
        try {
            db.stop();
            assertEquals("DOWN", awaitReadiness("DOWN"));
            given().get("/q/health/live").then().statusCode(200);
            StatusRuntimeException e = Grpc.fails(Status.Code.UNAVAILABLE,
                    () -> Grpc.admin().listAgents(ListAgentsRequest.getDefaultInstance()));
            assertEquals("DATABASE_UNAVAILABLE", Grpc.reason(e));
            given().header("Authorization", "Bearer " + Grpc.ADMIN_TOKEN).get("/v1/agents").then().statusCode(503)
                    .body("reason", is("DATABASE_UNAVAILABLE"));
        } finally {
            db.start();
        }
        assertEquals("UP", awaitReadiness("UP"));
        assertNotNull(Grpc.admin().listAgents(ListAgentsRequest.getDefaultInstance()), "requests are served again");
    }

    /** Polls readiness until it reports {@code wanted} or 60 s pass; returns the last status seen. */
    private static String awaitReadiness(String wanted) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        String status;
        do {
            Response r = given().get("/q/health/ready");
            status = r.jsonPath().getString("status");
            int expectedHttp = "UP".equals(status) ? 200 : 503;
            assertEquals(expectedHttp, r.statusCode());
            if (wanted.equals(status)) {
                return status;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
        } while (System.nanoTime() < deadline);
        return status;
    }
}
