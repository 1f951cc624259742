package dev.agentspend.ledger.grpc;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ReconnectBackoffTest {

    @Test
    void aLostFeedIsRetriedWithinAQuarterOfTheStalenessBound() {
        // the defaults: a 5 s maximum against a 10 s bound would leave the feed unretried for half of it
        ReconnectBackoff b = new ReconnectBackoff(Duration.ofMillis(100), Duration.ofSeconds(5), Duration.ofSeconds(10));
        assertEquals(List.of(100L, 200L, 400L, 800L, 1600L, 2500L, 2500L), delays(b, 7));
    }

    @Test
    void theMaximumStillBindsWhenItIsTheSmaller() {
        ReconnectBackoff b = new ReconnectBackoff(Duration.ofMillis(100), Duration.ofSeconds(1), Duration.ofSeconds(10));
        assertEquals(List.of(100L, 200L, 400L, 800L, 1000L, 1000L), delays(b, 6));
    }

    @Test
    void anAnswerStartsTheDelaysOverAndTheMinimumIsAlwaysWaited() {
        ReconnectBackoff b = new ReconnectBackoff(Duration.ofMillis(100), Duration.ofSeconds(5), Duration.ofSeconds(10));
        delays(b, 5);
        b.reset();
        assertEquals(List.of(100L, 200L), delays(b, 2));
        // a staleness bound shorter than four minimum delays does not make the ledger spin
        ReconnectBackoff tight = new ReconnectBackoff(Duration.ofMillis(100), Duration.ofSeconds(5), Duration.ofMillis(200));
        assertEquals(List.of(100L, 100L), delays(tight, 2));
    }

    private static List<Long> delays(ReconnectBackoff b, int n) {
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(b.next());
        }
        return out;
    }
}
