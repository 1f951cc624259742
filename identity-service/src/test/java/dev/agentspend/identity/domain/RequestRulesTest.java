package dev.agentspend.identity.domain;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.FieldViolation;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.UpdateAgentRequest;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class RequestRulesTest {
    private static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");

    private static CreateAgentRequest.Builder valid() {
        return CreateAgentRequest.newBuilder().setRequestId("r-1").setHandle("billing-bot").setDisplayName("Billing")
                .setMode(AgentMode.AGENT_MODE_SANDBOX).setCurrencyCode("EUR");
    }

    private static List<String> fields(Runnable check) {
        return assertThrows(ApiException.class, check::run).violations().stream().map(FieldViolation::field).toList();
    }

    @Test
    void validCreateAgentPasses() {
        RequestRules.createAgent(valid().build(), NOW);
    }

    @Test
    void handlesAreLowercaseDnsLabelsOf3To63() {
        for (String bad : List.of("ab", "-abc", "abc-", "ABC", "a_b_c", "x".repeat(64), "abc def")) {
            assertEquals(List.of("handle"), fields(() -> RequestRules.createAgent(valid().setHandle(bad).build(), NOW)), bad);
        }
        RequestRules.createAgent(valid().setHandle("a1b").build(), NOW);
        RequestRules.createAgent(valid().setHandle("x".repeat(63)).build(), NOW);
    }

    @Test
    void requestIdIsRequiredAndBounded() {
        assertEquals(List.of("request_id"), fields(() -> RequestRules.createAgent(valid().setRequestId("").build(), NOW)));
        assertEquals(List.of("request_id"),
                fields(() -> RequestRules.createAgent(valid().setRequestId("x".repeat(129)).build(), NOW)));
        assertEquals(List.of("request_id"),
                fields(() -> RequestRules.createAgent(valid().setRequestId("has space").build(), NOW)));
    }

    @Test
    void textAndLabelsAreBounded() {
        assertEquals(List.of("display_name"),
                fields(() -> RequestRules.createAgent(valid().setDisplayName("x".repeat(257)).build(), NOW)));
        CreateAgentRequest.Builder many = valid();
        for (int i = 0; i < 33; i++) {
            many.putLabels("k" + i, "v");
        }
        assertEquals(List.of("labels"), fields(() -> RequestRules.createAgent(many.build(), NOW)));
        assertEquals(List.of("key_expire_time"), fields(() -> RequestRules.createAgent(valid()
                .setKeyExpireTime(com.google.protobuf.Timestamp.newBuilder().setSeconds(NOW.getEpochSecond())).build(), NOW)));
    }

    @Test
    void updateMaskNamesOnlyUpdatableFieldsOnce() {
        UpdateAgentRequest.Builder base = UpdateAgentRequest.newBuilder().setRequestId("r").setAgentId("agt_x");
        assertEquals(List.of("update_mask"), fields(() -> RequestRules.updateAgent(base.build())));
        assertEquals(List.of("update_mask[1]"), fields(() -> RequestRules.updateAgent(base.clone()
                .addUpdateMask("labels").addUpdateMask("labels").build())));
        assertEquals(List.of("mode"), fields(() -> RequestRules.updateAgent(base.clone().addUpdateMask("mode").build())));
        assertEquals(List.of("expected_version"), fields(() -> RequestRules.updateAgent(base.clone()
                .addUpdateMask("labels").setExpectedVersion(-1).build())));
        RequestRules.updateAgent(base.clone().addUpdateMask("labels").build());
    }
}
