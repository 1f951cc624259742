package dev.agentspend.alerts.domain;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;

/**
 * AES-256-GCM encryption of webhook secrets at rest. The service must sign with a secret, so it
 * cannot keep only a hash: it keeps the ciphertext under a key from configuration, bound to the
 * webhook id (associated data) so that a ciphertext copied to another row does not decrypt.
 */
public final class SecretBox {
    private static final SecureRandom RANDOM = new SecureRandom();
    private final SecretKeySpec key;

    public record Sealed(byte[] nonce, byte[] cipherText) {
    }

    public SecretBox(byte[] key256) {
        if (key256 == null || key256.length != 32) {
            throw new IllegalArgumentException("the webhook secret key must be 32 bytes (base64 of 32 random bytes)");
        }
        this.key = new SecretKeySpec(key256, "AES");
    }

    public Sealed seal(String webhookId, byte[] plain) {
        byte[] nonce = new byte[12];
        RANDOM.nextBytes(nonce);
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, nonce));
            c.updateAAD(webhookId.getBytes(StandardCharsets.UTF_8));
            return new Sealed(nonce, c.doFinal(plain));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM unavailable", e);
        }
    }

    public byte[] open(String webhookId, Sealed sealed) {
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, sealed.nonce()));
            c.updateAAD(webhookId.getBytes(StandardCharsets.UTF_8));
            return c.doFinal(sealed.cipherText());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("webhook secret of " + webhookId + " does not decrypt with the configured key", e);
        }
    }
}
