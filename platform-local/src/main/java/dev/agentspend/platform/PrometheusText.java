package dev.agentspend.platform;

/** Reads a service's /q/metrics text, for tests that watch a counter move. */
public final class PrometheusText {
    private PrometheusText() {
    }

    /** The sum of every series of {@code name} (all label sets); 0 when there is none. */
    public static double sum(String exposition, String name) {
        return exposition.lines()
                .filter(l -> l.startsWith(name + " ") || l.startsWith(name + "{"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                .sum();
    }
}
