package dev.agentspend.ledger.store;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.agentspend.ledger.support.Fixture.pay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static io.restassured.RestAssured.given;

/**
 * Request ids are remembered for the retention, then forgotten: the idempotency table stays bounded,
 * the entries stay, a retry within the retention replays and one after it is a new call.
 */
@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class IdempotencyRetentionTest {
    @Inject
    IdempotencyRetention retention;

    @Test
    void rowsOlderThanTheRetentionArePurgedInBatchesAndRecentOnesKept() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 10_000_000);
        List<PayRequest> old = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            old.add(pay(1_000).setRequestId("aged-" + i).build());
        }
        PayResponse firstOld = null;
        for (PayRequest r : old) {
            PayResponse p = a.ledger().pay(r);
            firstOld = firstOld == null ? p : firstOld;
        }
        PayRequest recent = pay(2_000).setRequestId("recent").build();
        PayResponse recentPaid = a.ledger().pay(recent);
        try (Connection c = Fixture.sql(); PreparedStatement age = c.prepareStatement(
                "UPDATE ledger.idempotency SET create_time = now() - interval '169 hours' "
                        + "WHERE caller = ? AND request_id LIKE 'aged-%'")) {
            age.setString(1, "agent:" + a.id());
            assertEquals(25, age.executeUpdate());
        }
        long entries = entriesOf(a);

        // 25 aged rows in batches of 7 (the test profile's): four statements, the last not full
        assertEquals(25L, retention.purge().await().atMost(Duration.ofSeconds(30)));

        assertEquals(0, Fixture.queryLong("SELECT COUNT(*) FROM ledger.idempotency WHERE caller = ? "
                + "AND request_id LIKE 'aged-%'", "agent:" + a.id()));
        assertEquals(1, Fixture.queryLong("SELECT COUNT(*) FROM ledger.idempotency WHERE caller = ? "
                + "AND request_id = 'recent'", "agent:" + a.id()));
        assertEquals(entries, entriesOf(a), "the entries are the ledger's record: none is deleted");
        assertEquals(0L, retention.purge().await().atMost(Duration.ofSeconds(30)), "nothing left to purge");
        String metrics = given().port(Fixture.LEDGER_PORT).get("/q/metrics").then().statusCode(200).extract().asString();
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("agentspend_ledger_idempotency_purged_rows_total")
                && Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)) >= 25), "the purged rows are counted");

        // within the retention a retry replays; after it, the request_id is free and the call is new
        assertEquals(recentPaid, a.ledger().pay(recent));
        PayResponse again = a.ledger().pay(old.get(0));
        assertNotEquals(firstOld.getEntry().getEntryId(), again.getEntry().getEntryId());
        assertEquals(entries + 1, entriesOf(a));
        assertEquals(10_000_000 - 25 * 1_000 - 2_000 - 1_000, Fixture.balance(a).getBalanceMicros());
    }

    private static long entriesOf(TestAgent a) {
        return Fixture.queryLong("SELECT COUNT(*) FROM ledger.entries WHERE agent_id = ?", a.id());
    }
}
