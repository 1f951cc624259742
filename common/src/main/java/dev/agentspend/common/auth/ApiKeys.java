package dev.agentspend.common.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;

import dev.agentspend.common.api.Ids;

/**
 * Agent API keys: {@code as_<key_id>_<secret>}, where the key id ({@code key_} and 16 lowercase
 * base32 characters) is visible and the secret is 256 random bits (43 base64url characters).
 * Only SHA-256 of the secret is ever stored: the secret has full entropy, so a fast hash is as
 * strong as a slow one and lets every ledger replica verify keys locally on the payment path.
 */
public final class ApiKeys {
    public static final int SECRET_BYTES = 32;
    private static final String PREFIX = "as_";
    private static final int KEY_ID_RANDOM_LENGTH = 16;
    private static final int SECRET_LENGTH = 43;
    private static final SecureRandom RANDOM = new SecureRandom();

    private ApiKeys() {
    }

    /** A freshly generated key: give {@link #fullKey()} to the agent once, store {@link #secretSha256()}. */
    public record NewKey(String keyId, String fullKey, byte[] secretSha256) {
    }

    /** A key as presented by a caller, split into its parts. */
    public record PresentedKey(String keyId, String secret) {
        public byte[] secretSha256() {
            return sha256(secret);
        }

        @Override
        public String toString() {
            return "PresentedKey[keyId=" + keyId + ", secret=<redacted>]";
        }
    }

    public static NewKey generate() {
        String keyId = "key_" + Ids.randomBase32(16);
        byte[] secretBytes = new byte[SECRET_BYTES];
        RANDOM.nextBytes(secretBytes);
        String secret = Base64.getUrlEncoder().withoutPadding().encodeToString(secretBytes);
        return new NewKey(keyId, PREFIX + keyId + "_" + secret, sha256(secret));
    }

    /** Parses a presented key; empty when it is not in the key format at all. */
    public static Optional<PresentedKey> parse(String presented) {
        if (presented == null || !presented.startsWith(PREFIX) || presented.length() > 100) {
            return Optional.empty();
        }
        String rest = presented.substring(PREFIX.length());
        // the key id is fixed-length, so the separator position is known even though the
        // base64url secret may itself contain '_'
        int keyIdLength = 4 + 16;
        if (rest.length() != keyIdLength + 1 + 43 || rest.charAt(keyIdLength) != '_') {
            return Optional.empty();
        }
        String keyId = rest.substring(0, keyIdLength);
        String secret = rest.substring(keyIdLength + 1);
        if (!isKeyId(keyId) || !isSecret(secret)) {
            return Optional.empty();
        }
        return Optional.of(new PresentedKey(keyId, secret));
    }

    // Checked character by character rather than with regular expressions: every authenticated
    // call parses a key, and a Matcher per check was a visible share of the ledger's allocation.

    /** key_ and 16 characters of the base32 alphabet ([a-z2-7]). */
    private static boolean isKeyId(String s) {
        if (s.length() != 4 + KEY_ID_RANDOM_LENGTH || !s.startsWith("key_")) {
            return false;
        }
        for (int i = 4; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= '2' && c <= '7')) {
                return false;
            }
        }
        return true;
    }

    /** 43 characters of unpadded base64url ([A-Za-z0-9_-]). */
    private static boolean isSecret(String s) {
        if (s.length() != SECRET_LENGTH) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-')) {
                return false;
            }
        }
        return true;
    }

    public static boolean looksLikeApiKey(String token) {
        return token != null && token.startsWith(PREFIX);
    }

    /** Compares a presented secret with a stored verifier in time independent of where they differ. */
    public static boolean verify(PresentedKey key, byte[] storedSha256) {
        return storedSha256 != null && MessageDigest.isEqual(key.secretSha256(), storedSha256);
    }

    public static byte[] sha256(String value) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every JVM", e);
        }
    }
}
