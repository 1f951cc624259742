package dev.agentspend.ledger.grpc;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.ledger.v1.LedgerViolation;
import dev.agentspend.proto.ledger.v1.VerifyLedgerRequest;
import dev.agentspend.proto.ledger.v1.VerifyLedgerResponse;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;

import static dev.agentspend.ledger.support.Fixture.cap;
import static dev.agentspend.ledger.support.Fixture.pay;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.not;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = false)
class VerifyAndMetricsGrpcTest {
    static VerifyLedgerResponse verify() {
        return Fixture.admin().verifyLedger(VerifyLedgerRequest.getDefaultInstance());
    }

    static boolean reports(VerifyLedgerResponse v, String check, String subject) {
        return v.getViolationsList().stream().anyMatch(x -> x.getCheck().equals(check) && x.getSubjectId().contains(subject));
    }

    @Test
    void verifyIsCleanAndReportsEachKindOfCorruption() throws Exception {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.newBuilder()
                .addCaps(cap(CapWindow.CAP_WINDOW_LIFETIME, 5_000_000, true)).build(), 10_000_000);
        a.ledger().pay(pay(4_000_000).build());
        VerifyLedgerResponse clean = verify();
        assertTrue(clean.getConsistent(), clean.getViolationsList().toString());
        assertTrue(clean.getEntryCount() > 0 && clean.getAccountCount() > 0);
        try (Connection c = Fixture.sql(); Statement st = c.createStatement()) {
            st.executeUpdate("UPDATE ledger.agent_state SET balance_micros = balance_micros + 1, held_micros = held_micros + 7 WHERE agent_id = '" + a.id() + "'");
            st.executeUpdate("UPDATE ledger.window_counters SET lifetime_limit = 1 WHERE scope_id = '" + a.id() + "' AND tool = ''");
            st.executeUpdate("INSERT INTO ledger.postings VALUES ('ent_broken', 'agent:" + a.id() + "', 5, 'USD')");
            try {
                VerifyLedgerResponse broken = verify();
                assertTrue(!broken.getConsistent());
                for (LedgerViolation v : broken.getViolationsList()) {
                    System.out.println("[ledger-verify] " + v.getCheck() + " " + v.getSubjectId() + ": " + v.getDescription());
                }
                assertTrue(reports(broken, "account_balance", a.id()), broken.toString());
                assertTrue(reports(broken, "holds", a.id()), broken.toString());
                assertTrue(reports(broken, "hard_cap", a.id()), broken.toString());
                assertTrue(reports(broken, "transfer_balances", "ent_broken"), broken.toString());
            } finally {
                st.executeUpdate("UPDATE ledger.agent_state SET balance_micros = balance_micros - 1, held_micros = held_micros - 7 WHERE agent_id = '" + a.id() + "'");
                st.executeUpdate("UPDATE ledger.window_counters SET lifetime_limit = 5000000 WHERE scope_id = '" + a.id() + "' AND tool = ''");
                st.execute("ALTER TABLE ledger.postings DISABLE TRIGGER postings_append_only");
                st.executeUpdate("DELETE FROM ledger.postings WHERE entry_id = 'ent_broken'");
                st.execute("ALTER TABLE ledger.postings ENABLE TRIGGER postings_append_only");
            }
        }
        VerifyLedgerResponse again = verify();
        assertTrue(again.getConsistent(), again.getViolationsList().toString());
    }

    @Test
    void prometheusMetricsCountDecisionsByReasonWithoutAgentIds() {
        TestAgent a = Fixture.newAgent(null, SpendingPolicy.getDefaultInstance(), 1_000_000);
        a.ledger().pay(pay(400_000).build());
        a.ledger().pay(pay(5_000_000).build());
        given().port(Fixture.LEDGER_PORT).get("/q/metrics").then().statusCode(200)
                .body(containsString("agentspend_ledger_authorizations_total{decision=\"approved\",operation=\"pay\",reason=\"none\"}"))
                .body(containsString("reason=\"insufficient_balance\""))
                .body(containsString("agentspend_ledger_authorized_amount_micros_total{currency=\"USD\",decision=\"declined\""))
                .body(not(containsString(a.id())))
                // calls are timed once, by the gRPC binder; the HTTP server binder is off (application.properties)
                .body(containsString("grpc_server_processing_duration_seconds_count{method=\"Pay\""))
                .body(not(containsString("http_server_requests")));
        given().port(Fixture.LEDGER_PORT).get("/q/health/ready").then().statusCode(200);
        given().port(Fixture.LEDGER_PORT).get("/q/health/well").then().statusCode(200)
                .body(containsString("policy-feed"));
    }
}
