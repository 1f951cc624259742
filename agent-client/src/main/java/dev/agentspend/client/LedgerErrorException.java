package dev.agentspend.client;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;

/**
 * A call failed: the request was refused (INVALID_ARGUMENT, PERMISSION_DENIED, ...) or its outcome
 * is unknown (the ledger stayed unreachable through every retry, or an attempt timed out or broke
 * off after the ledger may have applied it). {@link #transientFailure()} tells which. After an
 * unknown outcome, retry with the same request_id: the same {@link Payment} object does (the client
 * keeps its key until a definite answer), or pass {@link #requestId()} to the methods that take one.
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

    /** The calling thread was interrupted while backing off before a retry: the outcome is unknown. */
    LedgerErrorException(String method, StatusRuntimeException last, int attempts, String requestId,
                         InterruptedException interrupted) {
        super(method + " interrupted while backing off after " + attempts + (attempts == 1 ? " attempt" : " attempts")
                + " (the last " + last.getStatus().getCode() + "; request_id " + requestId
                + "): retry with that request_id to be charged at most once", last);
        addSuppressed(interrupted);
        this.code = last.getStatus().getCode();
        this.reason = reasonOf(last);
        this.attempts = attempts;
        this.transientFailure = true;
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

    /**
     * True when the outcome is unknown: some attempt may have been applied (it timed out, its
     * connection broke, it failed inside the ledger) and no later attempt said otherwise. False
     * only when the ledger refused the request as it stands and no attempt before may have applied it.
     */
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
