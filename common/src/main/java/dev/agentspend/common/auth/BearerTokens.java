package dev.agentspend.common.auth;

import java.security.MessageDigest;
import java.util.Optional;

/** Reads {@code Bearer <token>} credentials and compares configured tokens in constant time. */
public final class BearerTokens {
    public static final String METADATA_KEY = "authorization";
    private static final String SCHEME = "Bearer ";
    private static final int MAX_TOKEN_LENGTH = 512;

    private BearerTokens() {
    }

    /** The token of an {@code authorization} header value, or empty when absent or malformed. */
    public static Optional<String> parse(String headerValue) {
        if (headerValue == null || headerValue.length() <= SCHEME.length()
                || headerValue.length() > SCHEME.length() + MAX_TOKEN_LENGTH
                || !headerValue.regionMatches(true, 0, SCHEME, 0, SCHEME.length())) {
            return Optional.empty();
        }
        String token = headerValue.substring(SCHEME.length()).trim();
        return token.isEmpty() ? Optional.empty() : Optional.of(token);
    }

    /**
     * Constant-time equality of a presented token and a configured one. Both are hashed first so
     * that neither the content nor the length of the configured token leaks through timing.
     */
    public static boolean matches(String presented, String configured) {
        if (presented == null || configured == null || configured.isEmpty()) {
            return false;
        }
        return MessageDigest.isEqual(
                ApiKeys.sha256(presented),
                ApiKeys.sha256(configured));
    }

}
