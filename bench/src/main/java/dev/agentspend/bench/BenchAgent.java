package dev.agentspend.bench;

/**
 * One agent the benchmark created: its id and API key, what kind of agent it is, and the HARD daily
 * cap and the credit it was given (what the database audit checks against).
 */
record BenchAgent(int index, String id, String handle, String apiKey, Kind kind, long dayCapMicros,
                  long creditMicros) {

    enum Kind {
        /** Generous cap and balance: its payments are approved. */
        NORMAL,
        /** A HARD daily cap of a few payments: it is declined with CAP_EXCEEDED once that is spent. */
        TIGHT_CAP,
        /** A balance of a few payments: it is declined with INSUFFICIENT_BALANCE once that is spent. */
        TIGHT_BALANCE,
        /** The hot agent of phase B: every client pays from it; no cap binds. */
        HOT
    }
}
