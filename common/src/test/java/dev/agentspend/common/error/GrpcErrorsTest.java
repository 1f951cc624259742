package dev.agentspend.common.error;

import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class GrpcErrorsTest {

    @Test
    void invalidArgumentCarriesErrorInfoAndEveryFieldViolation() throws Exception {
        ApiException e = ApiException.invalid(List.of(
                new FieldViolation("handle", "must be a lowercase DNS label"),
                new FieldViolation("policy.caps[0].limit_micros", "must be positive")));
        StatusRuntimeException sre = GrpcErrors.toStatus(e, "identity.agentspend.dev");

        assertEquals(Status.Code.INVALID_ARGUMENT, sre.getStatus().getCode());
        com.google.rpc.Status status = StatusProto.fromThrowable(sre);
        ErrorInfo info = status.getDetails(0).unpack(ErrorInfo.class);
        assertEquals("identity.agentspend.dev", info.getDomain());
        assertEquals("INVALID_ARGUMENT", info.getReason());
        BadRequest bad = status.getDetails(1).unpack(BadRequest.class);
        assertEquals(2, bad.getFieldViolationsCount());
        assertEquals("policy.caps[0].limit_micros", bad.getFieldViolations(1).getField());
        assertEquals("INVALID_ARGUMENT", GrpcErrors.reasonOf(sre));
    }

    @Test
    void unexpectedFailuresBecomeInternalWithoutLeakingTheirMessage() {
        StatusRuntimeException sre = GrpcErrors.toStatus(
                new IllegalStateException("connection to db at 10.0.0.1 with password hunter2"), "x");
        assertEquals(Status.Code.INTERNAL, sre.getStatus().getCode());
        assertFalse(sre.getStatus().getDescription().contains("hunter2"));
    }

    @Test
    void violationsCollectEveryProblemBeforeRefusing() {
        Violations v = new Violations()
                .check(false, "a", "bad a")
                .check(true, "b", "fine")
                .check(false, "c", "bad c");
        ApiException e = assertThrows(ApiException.class, v::throwIfAny);
        assertEquals(2, e.violations().size());
        new Violations().throwIfAny();
    }

    @Test
    void exhaustedCarriesTheRetryDelay() throws Exception {
        StatusRuntimeException sre = GrpcErrors.toStatus(ApiException.exhausted("AGENT_RATE_LIMITED",
                "too fast", java.time.Duration.ofMillis(1_250)), "ledger.agentspend.dev");
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, sre.getStatus().getCode());
        com.google.rpc.Status status = StatusProto.fromThrowable(sre);
        assertEquals("AGENT_RATE_LIMITED", status.getDetails(0).unpack(ErrorInfo.class).getReason());
        com.google.rpc.RetryInfo retry = status.getDetails(1).unpack(com.google.rpc.RetryInfo.class);
        assertEquals(1, retry.getRetryDelay().getSeconds());
        assertEquals(250_000_000, retry.getRetryDelay().getNanos());
        assertThrows(IllegalArgumentException.class,
                () -> ApiException.exhausted("X", "y", java.time.Duration.ofMillis(-1)));
    }
}
