package dev.agentspend.ledger.grpc;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Message;
import dev.agentspend.proto.ledger.v1.PayRequest;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Stored fingerprints are compared with those of replays, possibly computed by another release:
 * the bytes must stay those of the method, a zero byte and the request's deterministic encoding.
 */
class FingerprintTest {
    /** The definition, through a stream as the first release computed it. */
    private static byte[] definition(String method, Message request) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        out.useDeterministicSerialization();
        request.writeTo(out);
        out.flush();
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        sha.update(method.getBytes(StandardCharsets.UTF_8));
        sha.update((byte) 0);
        return sha.digest(bytes.toByteArray());
    }

    @Test
    void theFingerprintIsTheDigestOfTheMethodAndTheDeterministicEncoding() throws Exception {
        PayRequest.Builder b = PayRequest.newBuilder().setRequestId("pay-1").setAmountMicros(1_500).setCurrencyCode("USD")
                .setTool("openai/chat.completions").setTaskId("task-9").setCallId("call-3").setAttempt(2);
        for (int i = 0; i < 20; i++) {
            b.putLabels("label-" + (i * 7 % 20), "value " + i);
        }
        PayRequest withLabels = b.build();
        PayRequest empty = PayRequest.getDefaultInstance();
        assertArrayEquals(definition("Pay", withLabels), Requests.fingerprint("Pay", withLabels));
        assertArrayEquals(definition("Pay", empty), Requests.fingerprint("Pay", empty));
        assertFalse(java.util.Arrays.equals(Requests.fingerprint("Pay", withLabels), Requests.fingerprint("Hold", withLabels)));
    }
}
