package dev.agentspend.ledger.store;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.platform.Await;
import dev.agentspend.platform.PrometheusText;
import dev.agentspend.platform.RefusedDeletes;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.PayRequest;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.Map;

import static dev.agentspend.ledger.support.Fixture.pay;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The scheduled purge as it runs in production, against a database that refuses it: every failed run
 * is counted in {@code agentspend_ledger_idempotency_purge_failed_total} (what the PrometheusRule
 * AgentSpendPurgeFailing reads), deletes nothing, leaves payments alone, and the next run after the
 * database accepts deletes again purges what was waiting.
 */
@QuarkusTest
@TestProfile(IdempotencyPurgeFailureTest.FastPurge.class)
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class IdempotencyPurgeFailureTest {
    private static final String FAILED = "agentspend_ledger_idempotency_purge_failed_total";
    private static final String PURGED = "agentspend_ledger_idempotency_purged_rows_total";
    private static final Duration WAIT = Duration.ofSeconds(20);

    public static class FastPurge implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("agentspend.ledger.idempotency-purge-interval", "100ms");
        }
    }

    @Test
    void failedRunsAreCountedDeleteNothingAndTheNextGoodRunCatchesUp() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        String caller = "agent:" + a.id();
        double purgedBefore;
        // refused before any row is aged, so that no run can purge them before the failures
        try (RefusedDeletes refused = RefusedDeletes.on(
                LedgerTestResource.database().jdbcUrl(LedgerTestResource.LEDGER_DB), "ledger.idempotency")) {
            double failedBefore = metric(FAILED);
            for (int i = 0; i < 3; i++) {
                a.ledger().pay(pay(1_000).setRequestId("aged-" + i).build());
            }
            try (Connection c = Fixture.sql(); PreparedStatement age = c.prepareStatement(
                    "UPDATE ledger.idempotency SET create_time = now() - interval '169 hours' "
                            + "WHERE caller = ? AND request_id LIKE 'aged-%'")) {
                age.setString(1, caller);
                assertEquals(3, age.executeUpdate(), "older than the retention (168 hours)");
            }

            Await.until(WAIT, "two failed purge runs counted", () -> metric(FAILED) >= failedBefore + 2);
            assertEquals(3, agedRows(caller), "a failed run deletes nothing");
            PayRequest during = pay(2_000).build();
            assertEquals(during.getAmountMicros(), a.ledger().pay(during).getEntry().getAmountMicros(),
                    "payments go on while the purge fails");
            // read while no run can succeed: a run right after the refusal ends would be missed
            purgedBefore = metric(PURGED);
        }
        Await.until(WAIT, "the aged rows purged once deletes are accepted again", () -> agedRows(caller) == 0);
        Await.until(WAIT, "the purged rows counted", () -> metric(PURGED) >= purgedBefore + 3);
        assertEquals(1, Fixture.queryLong("SELECT COUNT(*) FROM ledger.idempotency WHERE caller = ?", caller),
                "the recent payment's request_id is kept");
    }

    private static long agedRows(String caller) {
        return Fixture.queryLong("SELECT COUNT(*) FROM ledger.idempotency WHERE caller = ? AND request_id LIKE 'aged-%'",
                caller);
    }

    private static double metric(String name) {
        return PrometheusText.sum(given().port(Fixture.LEDGER_PORT).get("/q/metrics").then().statusCode(200)
                .extract().asString(), name);
    }
}
