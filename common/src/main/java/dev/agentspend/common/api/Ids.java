package dev.agentspend.common.api;

import java.security.SecureRandom;

/** Random identifiers in lowercase RFC 4648 base32, safe in URLs, logs and DNS labels. */
public final class Ids {
    private static final char[] ALPHABET = "abcdefghijklmnopqrstuvwxyz234567".toCharArray();
    private static final int BITS_PER_CHAR = 5;
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int NEW_ID_CHARACTERS = 26;
    /** The same 32 characters in byte order: '2' < '7' < 'a' < 'z'. */
    private static final char[] SORTED_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz".toCharArray();
    /** 50 bits of epoch milliseconds, enough until the year 37648. */
    private static final int TIME_CHARACTERS = 10;

    private Ids() {
    }

    public static String randomBase32(int length) {
        if (length <= 0 || length > 64) {
            throw new IllegalArgumentException("length must be 1..64, was " + length);
        }
        // one nextBytes call: SecureRandom is synchronized, and a call per character made an id
        // cost ~3.5 us instead of ~0.4 (the ledger makes one per payment)
        byte[] random = new byte[(length * BITS_PER_CHAR + 7) / 8];
        RANDOM.nextBytes(random);
        char[] out = new char[length];
        int buffer = 0;
        int bits = 0;
        int next = 0;
        for (int i = 0; i < length; i++) {
            if (bits < BITS_PER_CHAR) {
                buffer = (buffer << 8) | (random[next++] & 0xff);
                bits += 8;
            }
            out[i] = ALPHABET[(buffer >>> (bits - BITS_PER_CHAR)) & (ALPHABET.length - 1)];
            bits -= BITS_PER_CHAR;
        }
        return new String(out);
    }

    /** A new id with a type prefix, for example {@code agt_} followed by 26 characters (130 bits). */
    public static String newId(String prefix) {
        return prefix + "_" + randomBase32(NEW_ID_CHARACTERS);
    }

    /**
     * A new id of {@link #newId}'s shape whose first 10 characters are {@code epochMilli} in an
     * alphabet that sorts as the number does byte by byte (and in PostgreSQL's "C" collation),
     * followed by 80 random bits. Ids made close in time are close in an index: a table that gets
     * one per row inserts at the end of its unique index instead of on random pages, so after a
     * checkpoint it writes full-page images of a few pages instead of one per row.
     */
    public static String newTimeOrderedId(String prefix, long epochMilli) {
        if (epochMilli < 0 || epochMilli >= 1L << (TIME_CHARACTERS * BITS_PER_CHAR)) {
            throw new IllegalArgumentException("epochMilli out of range: " + epochMilli);
        }
        char[] time = new char[TIME_CHARACTERS];
        for (int i = 0; i < TIME_CHARACTERS; i++) {
            int shift = BITS_PER_CHAR * (TIME_CHARACTERS - 1 - i);
            time[i] = SORTED_ALPHABET[(int) (epochMilli >>> shift) & (SORTED_ALPHABET.length - 1)];
        }
        return prefix + "_" + new String(time) + randomBase32(NEW_ID_CHARACTERS - TIME_CHARACTERS);
    }

    /**
     * True when {@code id} has the shape {@link #newId} gives with this prefix: the prefix, '_' and
     * 26 characters of the alphabet, nothing else (so it is safe inside a query's text).
     */
    public static boolean isWellFormed(String id, String prefix) {
        if (id == null || id.length() != prefix.length() + 1 + NEW_ID_CHARACTERS || !id.startsWith(prefix)
                || id.charAt(prefix.length()) != '_') {
            return false;
        }
        for (int i = prefix.length() + 1; i < id.length(); i++) {
            char c = id.charAt(i);
            if (!(c >= 'a' && c <= 'z') && !(c >= '2' && c <= '7')) {
                return false;
            }
        }
        return true;
    }
}
