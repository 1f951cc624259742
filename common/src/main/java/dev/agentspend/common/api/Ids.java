package dev.agentspend.common.api;

import java.security.SecureRandom;

/** Random identifiers in lowercase RFC 4648 base32, safe in URLs, logs and DNS labels. */
public final class Ids {
    private static final char[] ALPHABET = "abcdefghijklmnopqrstuvwxyz234567".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    private Ids() {
    }

    public static String randomBase32(int length) {
        if (length <= 0 || length > 64) {
            throw new IllegalArgumentException("length must be 1..64, was " + length);
        }
        char[] out = new char[length];
        for (int i = 0; i < length; i++) {
            out[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
        }
        return new String(out);
    }

    /** A new id with a type prefix, for example {@code agt_} followed by 26 characters (130 bits). */
    public static String newId(String prefix) {
        return prefix + "_" + randomBase32(26);
    }
}
