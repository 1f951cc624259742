package dev.agentspend.ledger.domain;

/** What a counter holds: approved spend and open reservations, in micro-units. */
public record Usage(long spent, long held) {
    public static final Usage ZERO = new Usage(0, 0);

    /** spent + held, refusing overflow. */
    public long used() {
        return Money.add(spent, held, "the window's spend");
    }
}
