package dev.agentspend.alerts.domain;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/** Webhook signing (HMAC-SHA256 over timestamp and body), secret encryption and backoff. */
class CryptoTest {
    @Test
    void signatureIsHmacSha256OverTimestampDotBody() {
        // computed independently: python3 hmac.new(b'whsec_test', b'1700000000.{"a":1}', sha256)
        byte[] secret = "whsec_test".getBytes(StandardCharsets.UTF_8);
        assertEquals("v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789",
                WebhookSigning.sign(secret, 1_700_000_000L, "{\"a\":1}"));
        assertTrue(WebhookSigning.verify(secret, 1_700_000_000L, "{\"a\":1}",
                "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"));
        assertFalse(WebhookSigning.verify(secret, 1_700_000_001L, "{\"a\":1}",
                "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"));
        assertFalse(WebhookSigning.verify(secret, 1_700_000_000L, "{\"a\":2}",
                "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"));
    }

    @Test
    void secretsAreEncryptedAndBoundToTheirWebhook() {
        SecretBox box = new SecretBox(new byte[32]);
        byte[] plain = "whsec_abc".getBytes(StandardCharsets.UTF_8);
        SecretBox.Sealed sealed = box.seal("whk_1", plain);
        assertFalse(new String(sealed.cipherText(), StandardCharsets.ISO_8859_1).contains("whsec_abc"));
        assertArrayEquals(plain, box.open("whk_1", sealed));
        assertThrows(IllegalStateException.class, () -> box.open("whk_2", sealed));
        byte[] otherKey = new byte[32];
        otherKey[0] = 1;
        assertThrows(IllegalStateException.class, () -> new SecretBox(otherKey).open("whk_1", sealed));
        assertThrows(IllegalArgumentException.class, () -> new SecretBox(new byte[16]));
    }

    @Test
    void backoffDoublesUpToTheCap() {
        Duration base = Duration.ofSeconds(1), max = Duration.ofSeconds(10);
        assertEquals(Duration.ZERO, Backoff.after(0, base, max));
        assertEquals(Duration.ofSeconds(1), Backoff.after(1, base, max));
        assertEquals(Duration.ofSeconds(2), Backoff.after(2, base, max));
        assertEquals(Duration.ofSeconds(8), Backoff.after(4, base, max));
        assertEquals(Duration.ofSeconds(10), Backoff.after(5, base, max));
        assertEquals(Duration.ofSeconds(10), Backoff.after(80, base, max));
    }
}
