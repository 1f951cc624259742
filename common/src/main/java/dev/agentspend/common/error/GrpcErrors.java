package dev.agentspend.common.error;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;

/**
 * Translates refusals into gRPC errors carrying a google.rpc.Status with ErrorInfo (domain and
 * reason) and BadRequest (field violations), so clients can branch on the reason, not the text.
 */
public final class GrpcErrors {
    private GrpcErrors() {
    }

    public static StatusRuntimeException toStatus(ApiException e, String domain) {
        com.google.rpc.Status.Builder status = com.google.rpc.Status.newBuilder()
                .setCode(Status.Code.valueOf(e.code().name()).value())
                .setMessage(e.getMessage());
        status.addDetails(Any.pack(ErrorInfo.newBuilder()
                .setDomain(domain)
                .setReason(e.reason())
                .putAllMetadata(e.metadata())
                .build()));
        e.retryDelay().ifPresent(d -> status.addDetails(Any.pack(RetryInfo.newBuilder()
                .setRetryDelay(com.google.protobuf.Duration.newBuilder().setSeconds(d.getSeconds()).setNanos(d.getNano()))
                .build())));
        if (!e.violations().isEmpty()) {
            BadRequest.Builder badRequest = BadRequest.newBuilder();
            for (FieldViolation v : e.violations()) {
                badRequest.addFieldViolations(BadRequest.FieldViolation.newBuilder()
                        .setField(v.field())
                        .setDescription(v.description()));
            }
            status.addDetails(Any.pack(badRequest.build()));
        }
        return StatusProto.toStatusRuntimeException(status.build());
    }

    /**
     * Maps any failure to what the client sees: refusals keep their status; anything unexpected
     * becomes INTERNAL without leaking internals (the caller logs it).
     */
    public static StatusRuntimeException toStatus(Throwable t, String domain) {
        if (t instanceof ApiException api) {
            return toStatus(api, domain);
        }
        if (t instanceof StatusRuntimeException sre) {
            return sre;
        }
        return toStatus(ApiException.of(ErrorCode.INTERNAL, "INTERNAL",
                "internal error; the request may be retried with the same request_id"), domain);
    }

    /** Reads the ErrorInfo reason of a gRPC error, or an empty string when it has none. */
    public static String reasonOf(Throwable t) {
        com.google.rpc.Status status = StatusProto.fromThrowable(t);
        if (status == null) {
            return "";
        }
        for (Any detail : status.getDetailsList()) {
            if (detail.is(ErrorInfo.class)) {
                try {
                    return detail.unpack(ErrorInfo.class).getReason();
                } catch (com.google.protobuf.InvalidProtocolBufferException ignored) {
                    return "";
                }
            }
        }
        return "";
    }
}
