package dev.agentspend.common.auth;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BearerTokensTest {

    @Test
    void readsTheTokenOfABearerHeader() {
        assertEquals(Optional.of("abc"), BearerTokens.parse("Bearer abc"));
        assertEquals(Optional.of("abc"), BearerTokens.parse("bearer abc"));
        assertTrue(BearerTokens.parse(null).isEmpty());
        assertTrue(BearerTokens.parse("Basic abc").isEmpty());
        assertTrue(BearerTokens.parse("Bearer ").isEmpty());
        assertTrue(BearerTokens.parse("Bearer " + "x".repeat(600)).isEmpty());
    }

    @Test
    void matchesOnlyTheConfiguredToken() {
        assertTrue(BearerTokens.matches("s3cret", "s3cret"));
        assertFalse(BearerTokens.matches("s3cret", "s3cre"));
        assertFalse(BearerTokens.matches(null, "s3cret"));
        // an unset configured token never matches, not even an empty presented one
        assertFalse(BearerTokens.matches("", ""));
        assertFalse(BearerTokens.matches("x", null));
    }
}
