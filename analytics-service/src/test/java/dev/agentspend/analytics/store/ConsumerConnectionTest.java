package dev.agentspend.analytics.store;

import dev.agentspend.analytics.support.AnalyticsTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.SqlConnection;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The consumer's own connection (outside the pool) prepares each statement once per session, as
 * the pool's connections do: without that PostgreSQL parsed and planned every statement of every
 * batch.
 */
@QuarkusTest
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class ConsumerConnectionTest {
    private static final Duration WAIT = Duration.ofSeconds(30);

    @Inject
    IngestionStore store;

    @Test
    void theConsumersConnectionPreparesEachStatementOnce() {
        SqlConnection conn = store.connect().await().atMost(WAIT);
        try {
            String sql = "SELECT count(*) AS n FROM analytics.agent WHERE agent_id = $1";
            for (int i = 0; i < 3; i++) {
                Row r = conn.preparedQuery(sql).execute(Tuple.of("agt_" + i)).await().atMost(WAIT).iterator().next();
                assertEquals(0L, r.getLong("n"));
            }
            List<String> prepared = new ArrayList<>();
            conn.query("SELECT statement FROM pg_prepared_statements").execute().await().atMost(WAIT)
                    .forEach(r -> prepared.add(r.getString("statement")));
            assertEquals(1, prepared.stream().filter(sql::equals).count(), prepared.toString());
        } finally {
            conn.close().await().atMost(WAIT);
        }
    }
}
