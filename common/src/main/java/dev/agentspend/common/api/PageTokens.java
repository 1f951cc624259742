package dev.agentspend.common.api;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * Opaque page tokens: the cursor of the last item returned, base64url-encoded with a kind tag so
 * that a token of one listing is refused by another. Clients must not parse them.
 */
public final class PageTokens {
    private static final int MAX_TOKEN_LENGTH = 1024;

    private PageTokens() {
    }

    public static String encode(String kind, String cursor) {
        String raw = kind + "\n" + cursor;
        return Base64.getUrlEncoder().withoutPadding().encodeToString(raw.getBytes(StandardCharsets.UTF_8));
    }

    /** The cursor inside a token of the given kind; empty if the token is malformed or of another kind. */
    public static Optional<String> decode(String kind, String token) {
        if (token == null || token.isEmpty() || token.length() > MAX_TOKEN_LENGTH) {
            return Optional.empty();
        }
        try {
            String raw = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
            int newline = raw.indexOf('\n');
            if (newline < 0 || !raw.substring(0, newline).equals(kind)) {
                return Optional.empty();
            }
            return Optional.of(raw.substring(newline + 1));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }
}
