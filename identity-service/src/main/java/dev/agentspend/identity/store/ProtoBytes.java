package dev.agentspend.identity.store;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import io.vertx.core.buffer.Buffer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/** Proto messages to and from bytea columns. */
public final class ProtoBytes {
    private ProtoBytes() {
    }

    public static Buffer toBuffer(Message m) {
        return Buffer.buffer(m.toByteArray());
    }

    public static <T> T parse(Parser<T> parser, io.vertx.mutiny.core.buffer.Buffer bytes) {
        try {
            return parser.parseFrom(bytes.getBytes());
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("stored proto does not parse: " + e.getMessage(), e);
        }
    }

    /**
     * Deterministic bytes (map entries sorted), so that the same request sent twice, over gRPC or
     * as JSON over REST, hashes the same for idempotency.
     */
    public static byte[] deterministic(Message m) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(m.getSerializedSize());
            CodedOutputStream out = CodedOutputStream.newInstance(bytes);
            out.useDeterministicSerialization();
            m.writeTo(out);
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
