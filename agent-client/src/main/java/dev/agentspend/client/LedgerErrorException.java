package dev.agentspend.client;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;

/**
 * A call failed: the request was refused (INVALID_ARGUMENT, PERMISSION_DENIED, ...) or the ledger
 * stayed unreachable through every retry. {@link #transientFailure()} tells which: after a
 * transient failure the outcome is unknown, and repeating the same logical call (the client reuses
 * its request_id only within one method call) may be charged once more — use
 * {@link AgentSpendClient#pay(Payment)} with an explicit {@code requestId} to retry safely later.
 */
public final class LedgerErrorException extends AgentSpendException {
    private final Status.Code code;
    private final String reason;
    private final int attempts;
    private final boolean transientFailure;
    private final String requestId;

    LedgerErrorException(String method, StatusRuntimeException e, int attempts, boolean transientFailure,
                         String requestId) {
        super(method + " failed with " + e.getStatus().getCode()
                + (e.getStatus().getDescription() == null ? "" : ": " + e.getStatus().getDescription())
                + " (after " + attempts + (attempts == 1 ? " attempt" : " attempts")
                + (requestId.isEmpty() ? "" : ", request_id " + requestId) + ")", e);
        this.code = e.getStatus().getCode();
        this.reason = reasonOf(e);
        this.attempts = attempts;
        this.transientFailure = transientFailure;
        this.requestId = requestId;
    }

    public Status.Code code() {
        return code;
    }

    /** The machine-readable reason of google.rpc.ErrorInfo, or empty. */
    public String reason() {
        return reason;
    }

    public int attempts() {
        return attempts;
    }

    /** True when the ledger could not be reached or answered: the outcome is unknown. */
    public boolean transientFailure() {
        return transientFailure;
    }

    /** The request_id every attempt carried; retry with it to be charged at most once. */
    public String requestId() {
        return requestId;
    }

    private static String reasonOf(StatusRuntimeException e) {
        com.google.rpc.Status status = StatusProto.fromThrowable(e);
        if (status == null) {
            return "";
        }
        for (com.google.protobuf.Any detail : status.getDetailsList()) {
            if (detail.is(com.google.rpc.ErrorInfo.class)) {
                try {
                    return detail.unpack(com.google.rpc.ErrorInfo.class).getReason();
                } catch (com.google.protobuf.InvalidProtocolBufferException ignored) {
                    return "";
                }
            }
        }
        return "";
    }
}
