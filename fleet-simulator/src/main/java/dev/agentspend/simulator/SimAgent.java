package dev.agentspend.simulator;

/** One agent of the simulated fleet as identity created it: its id, handle, behaviour and API key. */
public record SimAgent(String id, String handle, Behaviour behaviour, String apiKey) {
    @Override
    public String toString() {
        // never print the key
        return handle + " (" + id + ", " + behaviour + ")";
    }
}
