package dev.agentspend.analytics.it;

import dev.agentspend.analytics.support.AnalyticsTestResource;
import dev.agentspend.proto.analytics.v1.GetSpendVelocityRequest;
import dev.agentspend.proto.analytics.v1.GetSpendVelocityResponse;
import dev.agentspend.proto.analytics.v1.GetToolAttributionRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.PayRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.UUID;

import static dev.agentspend.analytics.support.Platform.*;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The JSON API over real HTTP: the same numbers as gRPC (one class behind both), credentials
 * refused alike (none: 401, agent key: 403, service token: reads only), every bad field reported,
 * the dashboard and Chart.js served from the build, Prometheus gauges with bounded cardinality.
 */
@QuarkusTest
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class RestApiTest {
    private static final String ADMIN = "Bearer " + AnalyticsTestResource.ADMIN_TOKEN;
    private static final String SERVICE = "Bearer " + AnalyticsTestResource.SERVICE_TOKEN;

    private Agent payingAgent(String suite) {
        Agent agent = createAgent("rest", "", Map.of("suite", suite), SpendingPolicy.getDefaultInstance(),
                WorkingHours.getDefaultInstance(), 100_000_000L);
        long last = 0;
        for (int i = 0; i < 3; i++) {
            Entry e = ledgerAs(agent).pay(PayRequest.newBuilder().setRequestId(suite + "-" + i).setAmountMicros(1_000 * (i + 1))
                    .setCurrencyCode("USD").setTool(i == 2 ? "search" : "llm").build()).getEntry();
            last = e.getPosition();
        }
        awaitIngested(last);
        return agent;
    }

    @Test
    void sameNumbersAsGrpc() {
        String suite = "rest-" + UUID.randomUUID().toString().substring(0, 8);
        Agent agent = payingAgent(suite);
        GetSpendVelocityResponse grpc = analyticsAdmin().getSpendVelocity(GetSpendVelocityRequest.newBuilder().setAgentId(agent.id()).build());
        Response rest = given().header("Authorization", ADMIN).get("/v1/agents/{id}/velocity", agent.id());
        rest.then().statusCode(200).contentType("application/json");
        assertEquals(Long.toString(grpc.getWindows(3).getSpendMicros()), rest.path("windows[3].spend_micros"));
        assertTrue(grpc.getWindows(3).getSpendMicros() >= 6_000, "the three payments are within the last hour");
        assertEquals(grpc.getBudgetSource().name(), rest.path("budget_source"));

        long grpcTotal = analyticsAdmin().getToolAttribution(GetToolAttributionRequest.newBuilder().setAgentId(agent.id()).build())
                .getTotalSpendMicros();
        given().header("Authorization", SERVICE).queryParam("agent_id", agent.id()).get("/v1/tools")
                .then().statusCode(200)
                .body("total_spend_micros", equalTo(Long.toString(grpcTotal)))
                .body("tools[0].tool", equalTo("llm"))
                .body("tools[0].spend_micros", equalTo("3000"))
                .body("tools[1].spend_micros", equalTo("3000"));
        given().header("Authorization", ADMIN).queryParam("label", "suite=" + suite).queryParam("sort_field", "velocity")
                .queryParam("descending", true).get("/v1/fleet")
                .then().statusCode(200).body("total_count", equalTo(1)).body("agents[0].agent_id", equalTo(agent.id()))
                .body("agents[0].handle", equalTo(agent.handle()));
        // one agent's row, as the dashboard's agent page reads its handle, whatever the fleet's size
        given().header("Authorization", ADMIN).queryParam("agent_id", agent.id()).get("/v1/fleet")
                .then().statusCode(200).body("total_count", equalTo(1)).body("agents[0].handle", equalTo(agent.handle()));
        given().header("Authorization", ADMIN).queryParam("agent_id", "agt_nobody").get("/v1/fleet")
                .then().statusCode(200).body("total_count", equalTo(0));
        given().header("Authorization", ADMIN).queryParam("metric", "SPEND").queryParam("step_seconds", 60)
                .get("/v1/agents/{id}/series", agent.id()).then().statusCode(200).body("points", hasSize(24));
        given().header("Authorization", ADMIN).get("/v1/agents/{id}/cost-per-task", agent.id())
                .then().statusCode(200).body("current.task_count", equalTo("0"));
        given().header("Authorization", ADMIN).get("/v1/ingestion").then().statusCode(200).body("consumer_active", equalTo(true));
    }

    @Test
    void credentialsAreRefusedAlikeOverRestAndGrpc() {
        given().get("/v1/fleet").then().statusCode(401).body("code", equalTo("UNAUTHENTICATED"));
        given().header("Authorization", "Bearer not-a-token").get("/v1/fleet").then().statusCode(401);
        Agent agent = createAgent("rest-key", "", Map.of(), SpendingPolicy.getDefaultInstance(), WorkingHours.getDefaultInstance(), 0);
        given().header("Authorization", "Bearer " + agent.key()).get("/v1/fleet").then().statusCode(403)
                .body("code", equalTo("PERMISSION_DENIED"));
        given().header("Authorization", SERVICE).get("/v1/fleet").then().statusCode(200);
        given().header("Authorization", SERVICE).contentType("application/json")
                .body("{\"request_id\":\"r1\",\"vendor\":\"v\",\"currency_code\":\"USD\",\"csv\":\"tool,period_start,period_end,amount\\nx,2026-11-01,2026-11-01,1\"}")
                .post("/v1/invoices").then().statusCode(403);
        // the credential is judged before the request: bad parameters or a body that is not JSON
        // tell a caller without the right credential nothing
        given().queryParam("label", "x").queryParam("start_time", "yesterday").get("/v1/tools").then().statusCode(401);
        given().queryParam("label", "x").get("/v1/fleet").then().statusCode(401).body("code", equalTo("UNAUTHENTICATED"));
        given().header("Authorization", "Bearer " + agent.key()).queryParam("step_seconds", 7).queryParam("metric", "nope")
                .get("/v1/agents/agt_x/series").then().statusCode(403);
        given().header("Authorization", SERVICE).contentType("application/json").body("{")
                .post("/v1/invoices").then().statusCode(403).body("code", equalTo("PERMISSION_DENIED"));
        // RestAssured would send the custom method's colon as %3A
        given().urlEncodingEnabled(false).header("Authorization", SERVICE).contentType("application/json").body("{")
                .post("/v1/agents/agt_x/cap-advice:apply").then().statusCode(403).body("code", equalTo("PERMISSION_DENIED"));
        given().urlEncodingEnabled(false).header("Authorization", ADMIN).contentType("application/json").body("{}")
                .post("/v1/agents/agt_x/cap-advice:apply").then().statusCode(400).body("code", equalTo("INVALID_ARGUMENT"));
        given().contentType("application/json").body("{").post("/v1/invoices").then().statusCode(401);
        given().header("Authorization", ADMIN).contentType("application/json").body("{")
                .post("/v1/invoices").then().statusCode(400).body("code", equalTo("INVALID_ARGUMENT"));
        assertEquals(Status.Code.UNAUTHENTICATED, assertThrows(StatusRuntimeException.class, () ->
                dev.agentspend.proto.analytics.v1.AnalyticsServiceGrpc.newBlockingStub(analytics())
                        .getFleetOverview(dev.agentspend.proto.analytics.v1.GetFleetOverviewRequest.getDefaultInstance())).getStatus().getCode());
        assertEquals(Status.Code.PERMISSION_DENIED, assertThrows(StatusRuntimeException.class, () ->
                analyticsAs(agent.key()).getFleetOverview(dev.agentspend.proto.analytics.v1.GetFleetOverviewRequest.getDefaultInstance()))
                .getStatus().getCode());
    }

    @Test
    void everyBadFieldIsReported() {
        given().header("Authorization", ADMIN).queryParam("agent_id", "a").queryParam("team_id", "t")
                .queryParam("start_time", "2026-11-20T10:00:30Z").queryParam("end_time", "2026-11-20T10:00:00Z")
                .get("/v1/tools").then().statusCode(400).body("code", equalTo("INVALID_ARGUMENT"))
                .body("fieldViolations.field", hasItems("team_id", "start_time"));
        given().header("Authorization", ADMIN).queryParam("start_time", "yesterday").get("/v1/tools")
                .then().statusCode(400).body("fieldViolations[0].field", equalTo("start_time"));
        given().header("Authorization", ADMIN).queryParam("window_days", 91).get("/v1/agents/agt_x/cost-per-task")
                .then().statusCode(400).body("fieldViolations[0].field", equalTo("window_days"));
        given().header("Authorization", ADMIN).queryParam("step_seconds", 7).queryParam("metric", "SPEND")
                .get("/v1/agents/agt_x/series").then().statusCode(400).body("fieldViolations[0].field", equalTo("step_seconds"));
        given().header("Authorization", ADMIN).queryParam("page_size", 501).queryParam("page_token", "garbage")
                .get("/v1/fleet").then().statusCode(400).body("fieldViolations.field", hasItems("page_size", "page_token"));
        given().header("Authorization", ADMIN).get("/v1/agents/agt_unknown/velocity").then().statusCode(404)
                .body("code", equalTo("NOT_FOUND"));
        given().header("Authorization", ADMIN).contentType("application/json")
                .body("{\"request_id\":\"bad id!\",\"vendor\":\"\",\"currency_code\":\"usd\",\"csv\":\"\"}")
                .post("/v1/invoices").then().statusCode(400)
                .body("fieldViolations.field", hasItems("request_id", "vendor", "currency_code"));
        given().header("Authorization", ADMIN).contentType("application/json")
                .body("{\"request_id\":\"csv-1\",\"vendor\":\"v\",\"currency_code\":\"USD\",\"csv\":\"tool,period_start,period_end,amount\\nx,2026-11-01,2026-10-01,1\"}")
                .post("/v1/invoices").then().statusCode(400).body("fieldViolations[0].field", equalTo("csv.line[2].period_end"));
        given().header("Authorization", ADMIN).get("/v1/reconciliation?invoice_id=inv_none").then().statusCode(404);
    }

    @Test
    void invoiceImportIsIdempotentPerRequestId() {
        String body = "{\"request_id\":\"inv-once\",\"vendor\":\"acme\",\"currency_code\":\"USD\",\"csv\":\"tool,period_start,period_end,amount\\nzz,2026-11-01,2026-11-01,1.5\"}";
        String first = given().header("Authorization", ADMIN).contentType("application/json").body(body).post("/v1/invoices")
                .then().statusCode(200).body("total_micros", equalTo("1500000")).extract().path("invoice_id");
        given().header("Authorization", ADMIN).contentType("application/json").body(body).post("/v1/invoices")
                .then().statusCode(200).body("invoice_id", equalTo(first));
        given().header("Authorization", ADMIN).contentType("application/json").body(body.replace("1.5", "2.5")).post("/v1/invoices")
                .then().statusCode(409).body("code", equalTo("ALREADY_EXISTS"));
        given().header("Authorization", ADMIN).queryParam("invoice_id", first).get("/v1/reconciliation")
                .then().statusCode(200).body("lines", hasSize(1)).body("lines[0].gap_micros", equalTo("1500000"));
    }

    @Test
    void dashboardAndChartLibraryAreServedWithoutTheToken() {
        String html = given().get("/").then().statusCode(200).contentType(containsString("text/html")).extract().asString();
        assertTrue(html.contains("/webjars/chart.js/4.5.1/dist/chart.umd.min.js"));
        assertFalse(html.contains(AnalyticsTestResource.ADMIN_TOKEN), "the page never carries the token");
        given().get("/webjars/chart.js/4.5.1/dist/chart.umd.min.js").then().statusCode(200);
        given().get("/dashboard.js").then().statusCode(200).body(containsString("sessionStorage"));
        given().get("/v1/dashboard-config").then().statusCode(200).body("alerts_url", equalTo("http://alerts.test:8084/"));
        given().get("/q/health/ready").then().statusCode(200);
    }

    @Test
    void prometheusGaugesHaveBoundedCardinality() {
        for (int i = 0; i < 4; i++) {
            payingAgent("gauge-" + UUID.randomUUID().toString().substring(0, 8));
        }
        await(Duration.ofSeconds(30), () -> RestAssured.get("/q/metrics").asString()
                .contains("agentspend_agent_spend_7d_micros{agent=\"other\""), "no `other` series was published");
        String metrics = RestAssured.get("/q/metrics").asString();
        long series = metrics.lines().filter(l -> l.startsWith("agentspend_agent_spend_7d_micros{")).count();
        assertEquals(4, series, "top 3 agents plus other:\n" + metrics);
        assertTrue(metrics.contains("agentspend_agent_velocity_hour_micros{agent=\"other\""));
        assertTrue(metrics.contains("agentspend_agent_cap_utilization_7d{agent=\"other\""));
    }
}
