package dev.agentspend.alerts.domain;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ConsumerTurnTest {
    @Test
    void aDueSweepGoesWithTheNextBatchWhetherOrNotEntriesWait() {
        assertEquals(new ConsumerTurn(true, true), ConsumerTurn.of(1_450, true), "entries waiting: the sweep rides along");
        assertEquals(new ConsumerTurn(true, true), ConsumerTurn.of(0, true), "nothing waiting: a turn for the sweep alone");
    }

    @Test
    void withoutADueSweepOnlyEntriesMakeATurn() {
        assertEquals(new ConsumerTurn(true, false), ConsumerTurn.of(3, false));
        assertEquals(new ConsumerTurn(false, false), ConsumerTurn.of(0, false));
        assertThrows(IllegalArgumentException.class, () -> ConsumerTurn.of(-1, false));
    }
}
