package dev.agentspend.identity.support;

import com.google.rpc.BadRequest;
import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.proto.identity.v1.IdentityServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import org.junit.jupiter.api.function.Executable;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A real gRPC client over a socket to the application under test, with bearer credentials. */
public final class Grpc {
    public static final String ADMIN_TOKEN = "test-admin-token";
    public static final String SERVICE_TOKEN = "test-service-token";
    private static ManagedChannel channel;

    private Grpc() {
    }

    public static synchronized ManagedChannel channel() {
        if (channel == null) {
            channel = ManagedChannelBuilder.forAddress("localhost", 18081).usePlaintext().build();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> channel.shutdownNow()));
        }
        return channel;
    }

    public static IdentityServiceGrpc.IdentityServiceBlockingStub as(String token) {
        IdentityServiceGrpc.IdentityServiceBlockingStub stub = IdentityServiceGrpc.newBlockingStub(channel());
        if (token != null) {
            Metadata headers = new Metadata();
            headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
            stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
        }
        return stub.withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    public static IdentityServiceGrpc.IdentityServiceBlockingStub admin() {
        return as(ADMIN_TOKEN);
    }

    public static IdentityServiceGrpc.IdentityServiceBlockingStub service() {
        return as(SERVICE_TOKEN);
    }

    public static IdentityServiceGrpc.IdentityServiceBlockingStub anonymous() {
        return as(null);
    }

    /** Asserts the call fails with this code and returns the error for further checks. */
    public static StatusRuntimeException fails(Status.Code code, Executable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
        assertEquals(code, e.getStatus().getCode(), () -> "unexpected status: " + e.getStatus());
        return e;
    }

    public static String reason(StatusRuntimeException e) {
        return GrpcErrors.reasonOf(e);
    }

    /** The field paths of the BadRequest detail. */
    public static List<String> violatedFields(StatusRuntimeException e) {
        com.google.rpc.Status status = StatusProto.fromThrowable(e);
        for (com.google.protobuf.Any detail : status.getDetailsList()) {
            if (detail.is(BadRequest.class)) {
                try {
                    return detail.unpack(BadRequest.class).getFieldViolationsList().stream()
                            .map(BadRequest.FieldViolation::getField).toList();
                } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
                    throw new AssertionError(ex);
                }
            }
        }
        return List.of();
    }
}
