package dev.agentspend.identity.rest;

import dev.agentspend.platform.EmbeddedPostgresTestResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.*;

/** The REST/JSON admin API: same operations, same rules, errors as {code, reason, message, fieldViolations}. */
@QuarkusTest
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
class AdminRestTest {
    private static final String ADMIN = "Bearer test-admin-token";
    private static final String SERVICE = "Bearer test-service-token";

    private static RequestSpecification admin() {
        return given().header("Authorization", ADMIN).contentType(ContentType.JSON);
    }

    private static String rid() {
        return "rest-" + UUID.randomUUID();
    }

    private static String handle() {
        return "rest-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static String agentJson(String requestId, String handle, String teamId) {
        return """
                {"request_id":"%s","handle":"%s","display_name":"REST agent","team_id":"%s",
                 "labels":{"env":"test"},"mode":"AGENT_MODE_PRODUCTION","currency_code":"USD",
                 "policy":{"caps":[{"window":"CAP_WINDOW_PAYMENT","limit_micros":"1000000","currency_code":"USD",
                   "enforcement":"CAP_ENFORCEMENT_HARD"},{"window":"CAP_WINDOW_DAY","limit_micros":"9000000",
                   "currency_code":"USD","enforcement":"CAP_ENFORCEMENT_SOFT","tool":"openai/chat.completions"}]},
                 "working_hours":{"time_zone":"America/New_York","intervals":[{"day_of_week":1,"start_minute":540,"end_minute":1020}]}}
                """.formatted(requestId, handle, teamId);
    }

    @Test
    void agentLifecycleOverRest() {
        String teamId = admin().body("""
                {"request_id":"%s","name":"%s","display_name":"REST team","currency_code":"USD"}""".formatted(rid(), handle()))
                .post("/v1/teams").then().statusCode(200).body("team.id", startsWith("team_")).extract().path("team.id");
        admin().get("/v1/teams/" + teamId).then().statusCode(200).body("team.currency_code", is("USD"));
        admin().get("/v1/teams?page_size=1").then().statusCode(200).body("teams", hasSize(1));
        admin().body("{\"request_id\":\"%s\",\"caps\":[{\"window\":\"CAP_WINDOW_DAY\",\"limit_micros\":\"5\",\"currency_code\":\"USD\",\"enforcement\":\"CAP_ENFORCEMENT_HARD\"}]}".formatted(rid()))
                .put("/v1/teams/" + teamId + "/policy").then().statusCode(200).body("team.version", is("2"));

        String createId = rid();
        String handle = handle();
        ValidatableResponse created = admin().body(agentJson(createId, handle, teamId)).post("/v1/agents").then()
                .statusCode(200).body("agent.handle", is(handle)).body("agent.status", is("AGENT_STATUS_ACTIVE"))
                .body("agent.policy.caps", hasSize(2)).body("api_key_secret", startsWith("as_key_"));
        String agentId = created.extract().path("agent.id");
        String keyId = created.extract().path("api_key.key_id");
        admin().body(agentJson(createId, handle, teamId)).post("/v1/agents").then().statusCode(200)
                .body("agent.id", is(agentId)).body("api_key_secret", is(""));

        admin().get("/v1/agents/" + handle).then().statusCode(200).body("agent.id", is(agentId));
        admin().get("/v1/agents?team_id=" + teamId + "&status=active").then().statusCode(200)
                .body("agents.id", contains(agentId)).body("next_page_token", is(""));
        admin().body("{\"request_id\":\"%s\",\"update_mask\":[\"display_name\"],\"display_name\":\"Renamed\",\"expected_version\":\"1\"}".formatted(rid()))
                .patch("/v1/agents/" + agentId).then().statusCode(200).body("agent.display_name", is("Renamed"))
                .body("agent.version", is("2"));
        admin().body("{\"request_id\":\"%s\",\"policy\":{\"max_concurrent_holds\":3}}".formatted(rid()))
                .put("/v1/agents/" + agentId + "/policy").then().statusCode(200)
                .body("agent.policy.max_concurrent_holds", is(3));

        String newKey = admin().body("{\"request_id\":\"%s\",\"description\":\"second\"}".formatted(rid()))
                .post("/v1/agents/" + agentId + "/keys").then().statusCode(200).extract().path("api_key_secret");
        admin().get("/v1/agents/" + agentId + "/keys").then().statusCode(200).body("api_keys", hasSize(2));
        admin().body("{\"request_id\":\"%s\",\"reason\":\"rotated\"}".formatted(rid()))
                .post("/v1/keys/" + keyId + "/revoke").then().statusCode(200).body("api_key.revoke_time", notNullValue());
        admin().get("/v1/agents/" + agentId + "/keys?show_inactive=true").then().body("api_keys", hasSize(2));

        given().header("Authorization", SERVICE).contentType(ContentType.JSON)
                .body("{\"api_key\":\"" + newKey + "\"}").post("/v1/authenticate").then().statusCode(200)
                .body("agent.id", is(agentId));

        admin().body("{\"request_id\":\"%s\",\"reason\":\"alert\"}".formatted(rid()))
                .post("/v1/agents/" + agentId + "/suspend").then().statusCode(200).body("agent.status", is("AGENT_STATUS_SUSPENDED"));
        given().header("Authorization", SERVICE).contentType(ContentType.JSON)
                .body("{\"api_key\":\"" + newKey + "\"}").post("/v1/authenticate").then().statusCode(401)
                .body("code", is("UNAUTHENTICATED")).body("reason", is("INVALID_API_KEY"));
        admin().body("{\"request_id\":\"%s\"}".formatted(rid()))
                .post("/v1/agents/" + agentId + "/reinstate").then().statusCode(200).body("agent.status", is("AGENT_STATUS_ACTIVE"));
        admin().body("{\"request_id\":\"%s\"}".formatted(rid()))
                .post("/v1/agents/" + agentId + "/revoke").then().statusCode(200).body("agent.status", is("AGENT_STATUS_REVOKED"));
        admin().body("{\"request_id\":\"%s\"}".formatted(rid()))
                .post("/v1/agents/" + agentId + "/reinstate").then().statusCode(412)
                .body("code", is("FAILED_PRECONDITION")).body("reason", is("AGENT_REVOKED"));

        List<String> actions = admin().get("/v1/audit-events?subject_id=" + agentId + "&page_size=3").then()
                .statusCode(200).body("next_page_token", not(emptyString())).extract().path("audit_events.action");
        org.junit.jupiter.api.Assertions.assertEquals(List.of("agent.revoke", "agent.reinstate", "agent.suspend"), actions);
    }

    @Test
    void errorsCarryCodeReasonAndFieldViolations() {
        admin().body("""
                {"request_id":"%s","handle":"X","currency_code":"USD","mode":"AGENT_MODE_SANDBOX",
                 "policy":{"caps":[{"window":"CAP_WINDOW_DAY","limit_micros":"0","currency_code":"USD","enforcement":"CAP_ENFORCEMENT_HARD"}]}}
                """.formatted(rid()))
                .post("/v1/agents").then().statusCode(400).body("code", is("INVALID_ARGUMENT"))
                .body("reason", is("INVALID_ARGUMENT"))
                .body("fieldViolations.field", containsInAnyOrder("handle", "policy.caps[0].limit_micros"))
                .body("message", not(emptyString()));
        admin().body("{not json").post("/v1/agents").then().statusCode(400).body("fieldViolations.field", contains("body"));
        admin().body("{\"unknown_field\":1}").post("/v1/agents").then().statusCode(400);
        admin().get("/v1/agents/agt_nope").then().statusCode(404).body("code", is("NOT_FOUND"));
        admin().get("/v1/agents?page_size=9999").then().statusCode(400).body("fieldViolations.field", contains("page_size"));
        admin().get("/v1/agents?status=sleeping").then().statusCode(400).body("fieldViolations.field", contains("status"));

        String handle = handle();
        admin().body(agentJson(rid(), handle, "")).post("/v1/agents").then().statusCode(200);
        admin().body(agentJson(rid(), handle, "")).post("/v1/agents").then().statusCode(409).body("reason", is("HANDLE_TAKEN"));
        String agentId = admin().get("/v1/agents/" + handle).then().extract().path("agent.id");
        admin().body("{\"request_id\":\"%s\",\"update_mask\":[\"display_name\"],\"display_name\":\"x\",\"expected_version\":\"7\"}".formatted(rid()))
                .patch("/v1/agents/" + agentId).then().statusCode(409).body("code", is("ABORTED"));
    }

    @Test
    void aRestRetryOfAGrpcRequestReplaysIt() {
        var request = dev.agentspend.identity.support.Fixtures.agentRequest().putLabels("a", "1").putLabels("b", "2").build();
        var created = dev.agentspend.identity.support.Grpc.admin().createAgent(request);
        String json = ProtoJson.print(request);
        admin().body(json).post("/v1/agents").then().statusCode(200)
                .body("agent.id", is(created.getAgent().getId())).body("api_key_secret", is(""));
        admin().body(json.replace("\"Test agent\"", "\"Other\"")).post("/v1/agents").then().statusCode(409)
                .body("reason", is("REQUEST_ID_REUSED"));
    }

    @Test
    void credentialsAreCheckedLikeGrpc() {
        given().get("/v1/agents").then().statusCode(401).body("code", is("UNAUTHENTICATED"));
        given().header("Authorization", "Bearer wrong").get("/v1/agents").then().statusCode(401);
        given().header("Authorization", SERVICE).get("/v1/agents").then().statusCode(403).body("code", is("PERMISSION_DENIED"));
        String key = admin().body(agentJson(rid(), handle(), "")).post("/v1/agents").then().statusCode(200)
                .extract().path("api_key_secret");
        given().header("Authorization", "Bearer " + key).get("/v1/agents").then().statusCode(403);
        given().header("Authorization", "Bearer " + key).contentType(ContentType.JSON)
                .body("{\"api_key\":\"" + key + "\"}").post("/v1/authenticate").then().statusCode(403);
    }

    @Test
    void openApiDescribesTheAdminApi() {
        given().get("/q/openapi?format=json").then().statusCode(200)
                .body("paths", hasKey("/v1/agents"))
                .body("paths", hasKey("/v1/agents/{agent_id}/suspend"))
                .body("paths", hasKey("/v1/audit-events"));
    }
}
