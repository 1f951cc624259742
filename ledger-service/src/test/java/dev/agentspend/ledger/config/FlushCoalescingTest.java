package dev.agentspend.ledger.config;

import dev.agentspend.ledger.support.LedgerTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.impl.ConnectionBase;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.Router;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.SqlConnection;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ledger's connections coalesce their flushes: HTTP/2 connections (gRPC) from their first
 * request, database connections from the pool's first use of them. Every gRPC test of this module
 * runs through both, which is what says the coalesced writes are correct.
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class FlushCoalescingTest {
    private static final String PROBE_PATH = "/test/flush-coalescing";

    @Inject
    Pool pool;

    @Inject
    Router router;

    @Inject
    Vertx vertx;

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Test
    void databaseConnectionsHaveTheHandler() {
        for (int i = 0; i < 3; i++) {
            SqlConnection conn = pool.getConnection().await().atMost(Duration.ofSeconds(10));
            try {
                assertTrue(FlushCoalescing.installed(FlushCoalescing.channelOf(conn.getDelegate())),
                        "a pooled database connection flushes per statement");
            } finally {
                conn.closeAndAwait();
            }
        }
    }

    @Test
    void http2ConnectionsHaveTheHandlerFromTheirFirstRequestAndHttp1DoNot() throws Exception {
        // answers whether the connection it is asked on has the handler; routes run in order, so
        // FlushCoalescing's own route (first of all) has already seen this request
        Route route = router.get(PROBE_PATH).handler(ctx -> ctx.end(String.valueOf(
                FlushCoalescing.installed(((ConnectionBase) ctx.request().connection()).channel()))));
        try {
            assertEquals("true", probe(HttpVersion.HTTP_2), "HTTP/2 (gRPC) connection");
            assertEquals("false", probe(HttpVersion.HTTP_1_1), "HTTP/1.1 connection (metrics, health)");
        } finally {
            route.remove();
        }
    }

    private String probe(HttpVersion version) throws Exception {
        HttpClient client = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(version)
                .setHttp2ClearTextUpgrade(false).setDefaultHost("localhost").setDefaultPort(port));
        try {
            return client.request(HttpMethod.GET, PROBE_PATH)
                    .compose(req -> req.send().compose(resp -> resp.body()))
                    .map(Object::toString)
                    .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        } finally {
            client.close();
        }
    }
}
