package dev.agentspend.ledger.domain;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenBucketTest {
    private static final long SECOND = 1_000_000_000L;

    @Test
    void aFullBucketAllowsTheBurstThenTheRate() {
        TokenBucket b = new TokenBucket(100, 20, 0);
        for (int i = 0; i < 20; i++) {
            assertEquals(0, b.tryTake(0), "burst token " + i);
        }
        long wait = b.tryTake(0);
        assertEquals(SECOND / 100, wait, "one token every 10 ms");
        assertTrue(b.tryTake(wait - 1) > 0);
        assertEquals(0, b.tryTake(wait));
    }

    @Test
    void overOneSecondExactlyRateTokensArriveAfterTheBurst() {
        TokenBucket b = new TokenBucket(50, 10, 0);
        int taken = 0;
        for (long t = 0; t <= SECOND; t += SECOND / 1000) {
            while (b.tryTake(t) == 0) {
                taken++;
            }
        }
        assertEquals(10 + 50, taken);
    }

    @Test
    void savingsNeverExceedTheBurst() {
        TokenBucket b = new TokenBucket(1_000, 5, 0);
        long later = 3_600 * SECOND;
        int taken = 0;
        while (b.tryTake(later) == 0) {
            taken++;
        }
        assertEquals(5, taken);
    }

    @Test
    void timeGoingBackwardsGivesNothing() {
        TokenBucket b = new TokenBucket(1, 1, 10 * SECOND);
        assertEquals(0, b.tryTake(10 * SECOND));
        assertTrue(b.tryTake(5 * SECOND) > 0);
        assertTrue(b.tryTake(10 * SECOND) > 0);
        assertEquals(0, b.tryTake(11 * SECOND));
    }

    @Test
    void rateAndBurstMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> new TokenBucket(0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new TokenBucket(1, 0, 0));
    }
}
