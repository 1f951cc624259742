package dev.agentspend.common.api;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PageTokensTest {

    @Test
    void roundTripsACursorOfTheSameKind() {
        String token = PageTokens.encode("agents", "handle-42");
        assertEquals(Optional.of("handle-42"), PageTokens.decode("agents", token));
    }

    @Test
    void refusesTokensOfAnotherKindOrMalformed() {
        String token = PageTokens.encode("agents", "x");
        assertTrue(PageTokens.decode("teams", token).isEmpty());
        assertTrue(PageTokens.decode("agents", "%%%").isEmpty());
        assertTrue(PageTokens.decode("agents", "").isEmpty());
        assertTrue(PageTokens.decode("agents", "a".repeat(2000)).isEmpty());
    }
}
