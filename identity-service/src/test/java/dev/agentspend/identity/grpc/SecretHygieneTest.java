package dev.agentspend.identity.grpc;

import dev.agentspend.common.auth.ApiKeys;
import dev.agentspend.identity.support.Database;
import dev.agentspend.identity.support.FeedWatcher;
import dev.agentspend.platform.EmbeddedPostgresTestResource;
import dev.agentspend.proto.identity.v1.*;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import static dev.agentspend.identity.support.Fixtures.*;
import static dev.agentspend.identity.support.Grpc.*;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A key's secret is shown once and then exists nowhere: no table, no log line, no later response.
 * Neither do the admin and service tokens, nor any credential that failed to authenticate.
 */
@QuarkusTest
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
class SecretHygieneTest {

    @Test
    void secretsAppearInNoTableNoLogAndNoLaterResponse() throws Exception {
        CreateAgentRequest request = agentRequest().build();
        CreateAgentResponse created = admin().createAgent(request);
        String agentId = created.getAgent().getId();
        CreateApiKeyRequest rotation = CreateApiKeyRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId)
                .setDescription("rotation").build();
        CreateApiKeyResponse rotated = admin().createApiKey(rotation);
        String restKey = given().header("Authorization", "Bearer " + ADMIN_TOKEN).contentType(ContentType.JSON)
                .body("{\"request_id\":\"" + requestId() + "\",\"description\":\"via rest\"}")
                .post("/v1/agents/" + agentId + "/keys").then().statusCode(200)
                .extract().path("api_key_secret");
        List<String> fullKeys = List.of(created.getApiKeySecret(), rotated.getApiKeySecret(), restKey);
        List<String> needles = new ArrayList<>();
        for (String key : fullKeys) {
            String secret = ApiKeys.parse(key).orElseThrow().secret();
            needles.add(key);
            needles.add(secret);
            needles.add(HexFormat.of().formatHex(secret.getBytes(StandardCharsets.UTF_8)));
        }
        service().authenticate(AuthenticateRequest.newBuilder().setApiKey(created.getApiKeySecret()).build());
        // failed authentications: the right key id with a forged secret, an unknown key, a wrong
        // token; a refused credential must not be logged either (it may be a mistyped real one)
        String forged = "as_" + created.getApiKey().getKeyId() + "_" + ApiKeys.parse(ApiKeys.generate().fullKey()).orElseThrow().secret();
        String unknown = ApiKeys.generate().fullKey();
        String wrongToken = "wrong-" + java.util.UUID.randomUUID();
        for (String bad : List.of(forged, unknown)) {
            fails(io.grpc.Status.Code.UNAUTHENTICATED,
                    () -> service().authenticate(AuthenticateRequest.newBuilder().setApiKey(bad).build()));
            fails(io.grpc.Status.Code.UNAUTHENTICATED,
                    () -> as(bad).getAgent(GetAgentRequest.newBuilder().setAgent(agentId).build()));
            needles.add(bad);
            needles.add(ApiKeys.parse(bad).orElseThrow().secret());
        }
        fails(io.grpc.Status.Code.UNAUTHENTICATED, () -> as(wrongToken).getAgent(GetAgentRequest.newBuilder().setAgent(agentId).build()));
        given().header("Authorization", "Bearer " + wrongToken).get("/v1/agents/" + agentId).then().statusCode(401);
        needles.add(wrongToken);
        needles.addAll(List.of(ADMIN_TOKEN, SERVICE_TOKEN));
        admin().suspendAgent(SuspendAgentRequest.newBuilder().setRequestId(requestId()).setAgentId(agentId).build());

        List<String> later = new ArrayList<>();
        CreateAgentResponse replayedAgent = admin().createAgent(request);
        CreateApiKeyResponse replayedKey = admin().createApiKey(rotation);
        assertEquals("", replayedAgent.getApiKeySecret());
        assertEquals("", replayedKey.getApiKeySecret());
        later.add(replayedAgent.toString());
        later.add(replayedKey.toString());
        later.add(admin().getAgent(GetAgentRequest.newBuilder().setAgent(agentId).build()).toString());
        later.add(admin().listApiKeys(ListApiKeysRequest.newBuilder().setAgentId(agentId).setShowInactive(true).build()).toString());
        later.add(admin().listAuditEvents(ListAuditEventsRequest.newBuilder().setPageSize(500).build()).toString());
        later.add(given().header("Authorization", "Bearer " + ADMIN_TOKEN).get("/v1/audit-events?page_size=500").asString());
        try (FeedWatcher watcher = FeedWatcher.service(0)) {
            WatchPoliciesResponse event = watcher.next();
            while (!event.hasSnapshotComplete()) {
                later.add(event.toString());
                event = watcher.next();
            }
        }
        assertNoNeedle("later responses", String.join("\n", later), needles);

        String tables = dumpIdentitySchema();
        assertTrue(tables.contains(created.getApiKey().getKeyId()), "the dump covers the key table");
        assertNoNeedle("the identity schema", tables, needles);

        Path log = Path.of(ConfigProvider.getConfig().getValue("quarkus.log.file.path", String.class));
        String logText = Files.readString(log);
        assertTrue(logText.contains(rotated.getApiKey().getKeyId()), "the log captures our debug lines");
        assertTrue(logText.contains("authentication refused: WRONG_SECRET"), "the log captures the refusals' debug lines");
        assertNoNeedle("the log", logText, needles);
    }

    @Test
    void auditLogRefusesUpdateDeleteAndTruncateEvenWithSqlAccess() throws Exception {
        createAgent();
        try (Connection c = Database.connect(); Statement s = c.createStatement()) {
            for (String sql : List.of("UPDATE identity.audit_events SET actor = 'mallory'",
                    "DELETE FROM identity.audit_events", "TRUNCATE identity.audit_events")) {
                SQLException e = assertThrows(SQLException.class, () -> s.execute(sql), sql);
                assertTrue(e.getMessage().contains("append-only"), e.getMessage());
            }
            try (ResultSet rs = s.executeQuery("SELECT count(*) FROM identity.audit_events WHERE actor = 'admin'")) {
                assertTrue(rs.next() && rs.getLong(1) > 0);
            }
        }
    }

    private static String dumpIdentitySchema() throws SQLException {
        StringBuilder dump = new StringBuilder();
        try (Connection c = Database.connect(); Statement s = c.createStatement()) {
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = s.executeQuery("SELECT table_name FROM information_schema.tables"
                    + " WHERE table_schema = 'identity' AND table_type = 'BASE TABLE'")) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
            assertTrue(tables.containsAll(List.of("agents", "api_keys", "audit_events", "idempotency_records",
                    "policy_changes", "teams")), tables.toString());
            for (String table : tables) {
                try (ResultSet rs = s.executeQuery("SELECT t::text FROM identity.\"" + table + "\" t")) {
                    while (rs.next()) {
                        dump.append(rs.getString(1)).append('\n');
                    }
                }
            }
        }
        return dump.toString();
    }

    private static void assertNoNeedle(String where, String haystack, List<String> needles) {
        for (String needle : needles) {
            assertFalse(haystack.contains(needle), () -> "a secret appears in " + where);
        }
    }
}
