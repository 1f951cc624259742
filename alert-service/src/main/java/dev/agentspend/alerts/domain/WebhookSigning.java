package dev.agentspend.alerts.domain;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Webhook signatures. Every delivery carries:
 * <ul>
 *   <li>{@code X-AgentSpend-Timestamp}: unix seconds when this attempt was sent;</li>
 *   <li>{@code X-AgentSpend-Signature}: {@code v1=} and the lowercase hex HMAC-SHA256, keyed with the
 *       endpoint's secret, of {@code <timestamp> + "." + <raw body>};</li>
 *   <li>{@code X-AgentSpend-Delivery-Id} (also {@code Idempotency-Key}): the same on every attempt of
 *       one event to one endpoint;</li>
 *   <li>{@code X-AgentSpend-Event-Id}: the event's id in the alert feed.</li>
 * </ul>
 * A receiver recomputes the HMAC, compares in constant time, and rejects timestamps far from its
 * clock (for example more than 5 minutes) to stop replays.
 */
public final class WebhookSigning {
    public static final String TIMESTAMP_HEADER = "X-AgentSpend-Timestamp";
    public static final String SIGNATURE_HEADER = "X-AgentSpend-Signature";
    public static final String DELIVERY_HEADER = "X-AgentSpend-Delivery-Id";
    public static final String IDEMPOTENCY_HEADER = "Idempotency-Key";
    public static final String EVENT_HEADER = "X-AgentSpend-Event-Id";

    private WebhookSigning() {
    }

    public static String sign(byte[] secret, long timestampSeconds, String body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            mac.update((timestampSeconds + ".").getBytes(StandardCharsets.UTF_8));
            return "v1=" + HexFormat.of().formatHex(mac.doFinal(body.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    /** Receiver-side check, constant time. */
    public static boolean verify(byte[] secret, long timestampSeconds, String body, String signature) {
        if (signature == null) {
            return false;
        }
        return MessageDigest.isEqual(sign(secret, timestampSeconds, body).getBytes(StandardCharsets.US_ASCII),
                signature.getBytes(StandardCharsets.US_ASCII));
    }
}
