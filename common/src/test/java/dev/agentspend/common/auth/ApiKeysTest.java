package dev.agentspend.common.auth;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ApiKeysTest {

    @Test
    void generatedKeyParsesBackAndVerifiesAgainstItsStoredHash() {
        ApiKeys.NewKey key = ApiKeys.generate();
        assertTrue(key.fullKey().startsWith("as_" + key.keyId() + "_"));
        ApiKeys.PresentedKey presented = ApiKeys.parse(key.fullKey()).orElseThrow();
        assertEquals(key.keyId(), presented.keyId());
        assertArrayEquals(key.secretSha256(), presented.secretSha256());
        assertTrue(ApiKeys.verify(presented, key.secretSha256()));
    }

    @Test
    void aKeyDoesNotVerifyAgainstAnotherKeysHash() {
        ApiKeys.NewKey a = ApiKeys.generate();
        ApiKeys.NewKey b = ApiKeys.generate();
        assertFalse(ApiKeys.verify(ApiKeys.parse(a.fullKey()).orElseThrow(), b.secretSha256()));
        assertFalse(ApiKeys.verify(ApiKeys.parse(a.fullKey()).orElseThrow(), null));
    }

    @Test
    void secretsCarry256RandomBits() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            assertTrue(seen.add(ApiKeys.generate().fullKey()));
        }
        ApiKeys.PresentedKey p = ApiKeys.parse(ApiKeys.generate().fullKey()).orElseThrow();
        assertEquals(43, p.secret().length()); // 32 bytes in unpadded base64url
    }

    @Test
    void malformedKeysAreRefused() {
        String good = ApiKeys.generate().fullKey();
        assertTrue(ApiKeys.parse(null).isEmpty());
        assertTrue(ApiKeys.parse("").isEmpty());
        assertTrue(ApiKeys.parse("Bearer " + good).isEmpty());
        assertTrue(ApiKeys.parse(good.substring(0, good.length() - 1)).isEmpty());
        assertTrue(ApiKeys.parse(good + "x").isEmpty());
        assertTrue(ApiKeys.parse(good.replace("key_", "KEY_")).isEmpty());
        assertTrue(ApiKeys.parse(good.substring(0, good.length() - 1) + "\n").isEmpty());
    }

    /** Every character in the key id and in the secret, judged as the documented patterns judge it. */
    @Test
    void keyIdAndSecretAcceptExactlyTheirAlphabets() {
        String good = ApiKeys.generate().fullKey();
        int keyIdStart = good.indexOf("key_") + 4;
        int secretStart = keyIdStart + 16 + 1;
        java.util.regex.Pattern keyId = java.util.regex.Pattern.compile("[a-z2-7]");
        java.util.regex.Pattern secret = java.util.regex.Pattern.compile("[A-Za-z0-9_-]");
        for (char c = 0; c < 0x3000; c++) {
            String s = String.valueOf(c);
            String inKeyId = good.substring(0, keyIdStart) + c + good.substring(keyIdStart + 1);
            String inSecret = good.substring(0, secretStart) + c + good.substring(secretStart + 1);
            assertEquals(keyId.matcher(s).matches(), ApiKeys.parse(inKeyId).isPresent(), "key id with U+" + Integer.toHexString(c));
            assertEquals(secret.matcher(s).matches(), ApiKeys.parse(inSecret).isPresent(), "secret with U+" + Integer.toHexString(c));
        }
    }

    @Test
    void toStringNeverShowsTheSecret() {
        ApiKeys.PresentedKey p = ApiKeys.parse(ApiKeys.generate().fullKey()).orElseThrow();
        assertFalse(p.toString().contains(p.secret()));
    }
}
