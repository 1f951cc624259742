package dev.agentspend.identity.domain;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.FieldViolation;
import dev.agentspend.common.error.Violations;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.TemporaryRaise;
import com.google.protobuf.Timestamp;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class CapRulesTest {
    private static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");

    private static Cap cap(CapWindow window, long limit) {
        return Cap.newBuilder().setWindow(window).setLimitMicros(limit).setCurrencyCode("USD")
                .setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD).build();
    }

    private static List<String> violations(List<Cap> caps, boolean allowInverted) {
        Violations v = new Violations();
        CapRules.check(caps, "USD", allowInverted, NOW, "policy.caps", v);
        try {
            v.throwIfAny();
            return List.of();
        } catch (ApiException e) {
            return e.violations().stream().map(FieldViolation::field).toList();
        }
    }

    @Test
    void consistentCapsPass() {
        assertEquals(List.of(), violations(List.of(cap(CapWindow.CAP_WINDOW_PAYMENT, 1), cap(CapWindow.CAP_WINDOW_TASK, 5),
                cap(CapWindow.CAP_WINDOW_HOUR, 10), cap(CapWindow.CAP_WINDOW_DAY, 10), cap(CapWindow.CAP_WINDOW_WEEK, 70),
                cap(CapWindow.CAP_WINDOW_MONTH, 300), cap(CapWindow.CAP_WINDOW_LIFETIME, 1000)), false));
    }

    @Test
    void smallerWindowAboveBiggerIsReportedAtTheSmallerCapUnlessAllowed() {
        List<Cap> caps = List.of(cap(CapWindow.CAP_WINDOW_MONTH, 100), cap(CapWindow.CAP_WINDOW_DAY, 50),
                cap(CapWindow.CAP_WINDOW_HOUR, 200));
        assertEquals(List.of("policy.caps[2].limit_micros", "policy.caps[2].limit_micros"), violations(caps, false));
        assertEquals(List.of(), violations(caps, true));
    }

    @Test
    void orderingOnlyComparesCapsOfTheSameToolAndEnforcement() {
        Cap toolHour = cap(CapWindow.CAP_WINDOW_HOUR, 500).toBuilder().setTool("openai/chat").build();
        Cap softHour = cap(CapWindow.CAP_WINDOW_HOUR, 500).toBuilder().setEnforcement(CapEnforcement.CAP_ENFORCEMENT_SOFT).build();
        assertEquals(List.of(), violations(List.of(cap(CapWindow.CAP_WINDOW_DAY, 100), toolHour, softHour), false));
        Cap toolDay = cap(CapWindow.CAP_WINDOW_DAY, 100).toBuilder().setTool("openai/chat").build();
        assertEquals(List.of("policy.caps[0].limit_micros"), violations(List.of(toolHour, toolDay), false));
    }

    @Test
    void taskIsOnlyBelowLifetimeAndPaymentBelowEverything() {
        assertEquals(List.of(), violations(List.of(cap(CapWindow.CAP_WINDOW_TASK, 500), cap(CapWindow.CAP_WINDOW_HOUR, 10)), false));
        assertEquals(List.of("policy.caps[0].limit_micros"),
                violations(List.of(cap(CapWindow.CAP_WINDOW_TASK, 500), cap(CapWindow.CAP_WINDOW_LIFETIME, 10)), false));
        assertEquals(List.of("policy.caps[0].limit_micros"),
                violations(List.of(cap(CapWindow.CAP_WINDOW_PAYMENT, 500), cap(CapWindow.CAP_WINDOW_TASK, 10)), false));
    }

    @Test
    void eachCapIsCheckedOnItsOwn() {
        Cap bad = Cap.newBuilder().setWindow(CapWindow.CAP_WINDOW_UNSPECIFIED).setLimitMicros(-3).setCurrencyCode("XXXX")
                .setTool("bad\u0007tool").build();
        assertEquals(List.of("policy.caps[0].window", "policy.caps[0].enforcement", "policy.caps[0].limit_micros",
                "policy.caps[0].currency_code", "policy.caps[0].tool"), violations(List.of(bad), false));
        assertEquals(List.of("policy.caps[0].currency_code"),
                violations(List.of(cap(CapWindow.CAP_WINDOW_DAY, 1).toBuilder().setCurrencyCode("EUR").build()), false));
    }

    @Test
    void duplicatesAndTooManyCapsAreRefused() {
        assertEquals(List.of("policy.caps[1]"),
                violations(List.of(cap(CapWindow.CAP_WINDOW_DAY, 1), cap(CapWindow.CAP_WINDOW_DAY, 1)), false));
        List<Cap> many = new ArrayList<>();
        for (int i = 0; i <= Limits.MAX_CAPS; i++) {
            many.add(cap(CapWindow.CAP_WINDOW_DAY, 1).toBuilder().setTool("tool-" + i).build());
        }
        assertEquals(List.of("policy.caps"), violations(many, false));
    }

    @Test
    void temporaryRaiseMustBeHigherAndExpireInTheFuture() {
        Cap raised = cap(CapWindow.CAP_WINDOW_DAY, 100).toBuilder().setTemporaryRaise(TemporaryRaise.newBuilder()
                .setLimitMicros(50).setExpireTime(Timestamp.newBuilder().setSeconds(NOW.getEpochSecond() - 1))).build();
        assertEquals(List.of("policy.caps[0].temporary_raise.limit_micros", "policy.caps[0].temporary_raise.expire_time"),
                violations(List.of(raised), false));
        Cap noExpiry = cap(CapWindow.CAP_WINDOW_DAY, 100).toBuilder()
                .setTemporaryRaise(TemporaryRaise.newBuilder().setLimitMicros(500)).build();
        assertEquals(List.of("policy.caps[0].temporary_raise.expire_time"), violations(List.of(noExpiry), false));
        Cap ok = cap(CapWindow.CAP_WINDOW_DAY, 100).toBuilder().setTemporaryRaise(TemporaryRaise.newBuilder()
                .setLimitMicros(500).setExpireTime(Timestamp.newBuilder().setSeconds(NOW.getEpochSecond() + 3600))).build();
        assertEquals(List.of(), violations(List.of(ok), false));
    }
}
